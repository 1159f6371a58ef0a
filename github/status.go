package github

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// commitSHA matches a commit SHA (SHA-1 or SHA-256, lower-case hex).
var commitSHA = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// StatusContext is the context of previewd's commit status.
const StatusContext = "previewd"

// commitStatusPlan is the commit status that shows an environment.
type commitStatusPlan struct {
	sha, state, description string
}

// planCommitStatus returns the commit status that shows env, and false when
// none is due: the environment is not wanted or its pull request is closed
// (Desired.Present and Desired.PROpen), it is destroying or destroyed, or
// it has no SHA. queued and provisioning are pending on the head; ready is
// success on the applied SHA; failed is failure on the head.
func planCommitStatus(env preview.Environment) (commitStatusPlan, bool) {
	sha := targetSHA(env)
	if !env.Desired.Present || !env.Desired.PROpen || sha == "" {
		return commitStatusPlan{}, false
	}
	short := preview.ShortSHA(sha)
	switch env.Status {
	case preview.StatusQueued:
		if env.Checks.SHA == sha && len(env.Checks.Waiting) > 0 {
			return commitStatusPlan{sha, "pending", truncateRunes("Preview of "+short+" waits for checks: "+strings.Join(env.Checks.Waiting, ", "), maxDescription)}, true
		}
		return commitStatusPlan{sha, "pending", "Preview of " + short + " is queued"}, true
	case preview.StatusProvisioning:
		return commitStatusPlan{sha, "pending", "Preview of " + short + " is being built"}, true
	case preview.StatusReady:
		desc := "Preview of " + short + " is ready"
		if env.URL != "" {
			desc += " at " + env.URL
		}
		return commitStatusPlan{sha, "success", truncateRunes(desc, maxDescription)}, true
	case preview.StatusFailed:
		return commitStatusPlan{sha, "failure", "Preview of " + short + " failed to deploy; see the log"}, true
	}
	return commitStatusPlan{}, false
}

// SyncCommitStatus posts the "previewd" commit status that shows env and
// returns the status now shown: pending on the head SHA while queued or
// provisioning, success on the applied SHA when ready, failure on the head
// when failed. None is posted while destroying or once destroyed, when the
// environment is not wanted or its pull request is closed
// (env.Desired.Present and PROpen), or when env.CommitStatus already shows
// it, so calling it twice is harmless. target_url is the run's log when the
// client has a PublicURL (none while queued: the last run is an earlier
// one); the description stays under 140 characters. It blocks for one
// request; on error it returns env.CommitStatus. A SHA that is not hex is
// an invalid error.
//
// In App mode it writes the "previewd" check run instead (see
// planEnvironmentCheckRun and syncCheckRun): a token cannot write check
// runs, an App can, and a check run carries the error and the module's
// lines.
func (c *Client) SyncCommitStatus(ctx context.Context, env preview.Environment) (preview.CommitStatus, error) {
	plan, ok := planCommitStatus(env)
	if c.app != nil {
		run, runOK := planEnvironmentCheckRun(env)
		if shown, err := c.syncCheckRun(ctx, env, run, runOK, env.CommitStatus); !c.checksRefused(env, err) {
			return shown, err
		}
	}
	return c.syncStatus(ctx, env, StatusContext, plan, ok, env.CommitStatus)
}

// ParityStatusContext is the context of the parity verdict's commit status.
const ParityStatusContext = "previewd/parity"

// planParityStatus returns the "previewd/parity" status that shows env's
// parity verdict on the applied SHA: success for parity, failure for
// undeclared drift (so branch protection can require it), error when the
// check could not run. A warning (deploying would revert a change made to
// production) fails nothing: it is named in the description. None is due
// before a check, or when the pull request is closed.
func planParityStatus(env preview.Environment) (commitStatusPlan, bool) {
	sha := env.Parity.SHA
	if !env.Desired.PROpen || sha == "" {
		return commitStatusPlan{}, false
	}
	n := countFindings(env.Parity.Findings)
	var desc string
	state := "success"
	switch {
	case env.Parity.Error != "":
		return commitStatusPlan{sha, "error", "The parity check could not run; see the comment"}, true
	case env.Parity.Status == preview.ParityOK:
		desc = fmt.Sprintf("Differs from production only where declared (%d declared)", n.declared)
	case env.Parity.Status == preview.ParityDrift:
		state, desc = "failure", fmt.Sprintf("%d undeclared difference(s) from production", n.undeclared)
	default:
		return commitStatusPlan{}, false
	}
	if n.warnings > 0 {
		desc += "; ⚠ deploying would " + revertsWarning(n.warnings)
	}
	return commitStatusPlan{sha, state, truncateRunes(desc, maxDescription)}, true
}

// SyncParityStatus posts the "previewd/parity" commit status that shows
// env's parity verdict (see planParityStatus) and returns the status now
// shown; like SyncCommitStatus it sends nothing when env.ParityStatus
// already shows it, and on error returns env.ParityStatus.
// In App mode it writes the "previewd/parity" check run instead (see
// planParityCheckRun).
func (c *Client) SyncParityStatus(ctx context.Context, env preview.Environment) (preview.CommitStatus, error) {
	plan, ok := planParityStatus(env)
	if c.app != nil {
		run, runOK := planParityCheckRun(env, c.noticeDeclared)
		if shown, err := c.syncCheckRun(ctx, env, run, runOK, env.ParityStatus); !c.checksRefused(env, err) {
			return shown, err
		}
	}
	return c.syncStatus(ctx, env, ParityStatusContext, plan, ok, env.ParityStatus)
}

// checksRefused reports whether GitHub refused a check run for want of
// the checks permission: an installation from before previewd wrote check
// runs, which has commit statuses instead. previewd then posts the commit
// status, and says what to grant.
func (c *Client) checksRefused(env preview.Environment, err error) bool {
	if err == nil || preview.ErrorCode(err) != preview.EUNAUTHORIZED {
		return false
	}
	c.logger.Warn("the installation may not write check runs: posting a commit status instead; grant checks: write in the App's settings (previewd check names what each installation lacks)",
		"repo", env.Repo, "environment", env.Name, "error", err)
	return true
}

// syncStatus posts plan as the commit status named statusContext unless it
// is not due (ok false) or current already shows it.
func (c *Client) syncStatus(ctx context.Context, env preview.Environment, statusContext string, plan commitStatusPlan, ok bool, current preview.CommitStatus) (preview.CommitStatus, error) {
	if !ok || current == (preview.CommitStatus{SHA: plan.sha, State: plan.state}) {
		return current, nil
	}
	owner, repo, err := splitRepo(env.Repo)
	if err != nil {
		return current, fmt.Errorf("sync %s status for %s: %w", statusContext, env.Name, err)
	}
	if !commitSHA.MatchString(plan.sha) {
		return current, preview.Errorf(preview.EINVALID, "sync %s status for %s: %q is not a commit SHA", statusContext, env.Name, truncateRunes(plan.sha, 80))
	}
	ep, err := c.endpointFor(ctx, env.Repo, env.Desired.InstallationID)
	if err != nil {
		return current, fmt.Errorf("sync %s status for %s: %w", statusContext, env.Name, err)
	}
	status := gh.RepoStatus{State: ptr(plan.state), Description: ptr(truncateRunes(plan.description, maxDescription)), Context: ptr(statusContext)}
	if log := runLogURL(c.logLink, env); log != "" {
		status.TargetURL = ptr(log)
	}
	err = ep.do(ctx, write, func(ctx context.Context, api *gh.Client) error {
		_, _, err := api.Repositories.CreateStatus(ctx, owner, repo, plan.sha, &status)
		return err
	})
	if err != nil {
		return current, fmt.Errorf("post %s %s status on %s of %s: %w", plan.state, statusContext, preview.ShortSHA(plan.sha), env.Repo, classify(err))
	}
	c.logger.Debug("commit status posted", "environment", env.Name, "repo", env.Repo, "sha", plan.sha, "state", plan.state, "context", statusContext)
	return preview.CommitStatus{SHA: plan.sha, State: plan.state}, nil
}

// SyncDatabaseStatus writes the "previewd/migrations" verdict on env's
// database (see planDatabaseCheckRun): a check run in App mode, a commit
// status in token mode; like SyncCommitStatus it sends nothing when
// env.DatabaseStatus already shows it.
func (c *Client) SyncDatabaseStatus(ctx context.Context, env preview.Environment) (preview.CommitStatus, error) {
	plan, ok := planDatabaseStatus(env)
	if c.app != nil {
		run, runOK := planDatabaseCheckRun(env)
		if shown, err := c.syncCheckRun(ctx, env, run, runOK, env.DatabaseStatus); !c.checksRefused(env, err) {
			return shown, err
		}
	}
	return c.syncStatus(ctx, env, DatabaseStatusContext, plan, ok, env.DatabaseStatus)
}
