package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
)

// RequiredChecks reads what a head must pass before it is applied
// (wait_for_checks).
type RequiredChecks interface {
	// Required names the check runs or commit statuses repo's heads must
	// pass before they are applied, and how long to wait for them (0: no
	// limit); none: apply at once.
	Required(repo string) (names []string, timeout time.Duration)
	// Read returns the states of the check runs and commit statuses of
	// env's head, by name.
	Read(ctx context.Context, env preview.Environment) (map[string]preview.CheckState, error)
}

// NudgeChecks queues the live environments whose head is commit: they read
// their required checks again. A nudge that is lost costs only time: an
// environment whose checks have not passed reads them again every
// ChecksPollInterval, and every sweep.
func (c *Controller) NudgeChecks(commit preview.Commit) {
	if c.cfg.RequiredChecks == nil {
		return
	}
	envs, err := c.store.FindEnvironments(context.Background(), preview.EnvironmentFilter{LiveOnly: true, Repo: commit.Repo})
	if err != nil {
		c.log.Error("checks changed: load environments", "repo", commit.Repo, "err", err)
		return
	}
	for _, env := range envs {
		if env.HeadSHA == commit.SHA {
			c.runs.add(env.Name)
		}
	}
}

// checksPassed reads the required checks of env's head, records what they
// say, and reports whether the head may be applied. While they are
// pending the environment waits (queued, or ready at its older head); a
// failed check, or a wait past the timeout, fails it without an apply. The
// next read (a check event, or every sweep) decides again, so a check
// re-run to success still gets the head applied. A read that fails leaves
// everything as it was, to be read again.
func (c *Controller) checksPassed(ctx context.Context, env preview.Environment) bool {
	if c.cfg.RequiredChecks == nil {
		return true
	}
	names, timeout := c.cfg.RequiredChecks.Required(env.Repo)
	if len(names) == 0 {
		return true
	}
	states, err := c.cfg.RequiredChecks.Read(ctx, env)
	if err != nil {
		c.log.Warn("read required checks; reading them again later", "environment", env.Name, "head_sha", env.HeadSHA, "err", err)
		c.runs.addAfter(ctx, env.Name, c.cfg.ChecksPollInterval)
		return false
	}
	checks := preview.ReadChecks(env.Checks, env.HeadSHA, names, states, c.cfg.Now().UTC(), timeout)
	if checks.Passed() && sameChecks(checks, env.Checks) {
		return true
	}
	stored, err := c.transition(ctx, env.Name, func(e *preview.Environment) {
		if e.HeadSHA != checks.SHA {
			return // a push meanwhile: its own checks decide
		}
		e.Checks = checks
		short := preview.ShortSHA(checks.SHA)
		switch {
		case checks.Passed():
			if strings.HasPrefix(e.LastError, "required check") {
				e.LastError = ""
			}
			if e.Status == preview.StatusFailed {
				e.Status = preview.StatusQueued
			}
		case checks.Failed != "":
			e.Status = preview.StatusFailed
			e.LastError = fmt.Sprintf("required check %s failed on %s: not applied", checks.Failed, short)
		case checks.TimedOut:
			e.Status = preview.StatusFailed
			e.LastError = fmt.Sprintf("required checks %s did not pass on %s within %s: not applied", strings.Join(checks.Waiting, ", "), short, timeout)
		default:
			if e.Status != preview.StatusReady { // a ready one serves its older head meanwhile
				e.Status = preview.StatusQueued
			}
			if strings.HasPrefix(e.LastError, "required check") {
				e.LastError = ""
			}
		}
	})
	if err != nil {
		c.log.Error("record required checks", "environment", env.Name, "err", err)
		return false
	}
	if !checks.Passed() {
		// No event needed: read them again in a while (the sweep does too).
		c.runs.addAfter(ctx, env.Name, c.cfg.ChecksPollInterval)
	}
	return checks.Passed() && stored.HeadSHA == checks.SHA
}

func sameChecks(a, b preview.Checks) bool {
	return a.SHA == b.SHA && a.Failed == b.Failed && a.TimedOut == b.TimedOut && slices.Equal(a.Waiting, b.Waiting)
}
