package github

import (
	"context"
	"fmt"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// Checks returns the states of the check runs and commit statuses of env's
// head, by name: a check run's name, a commit status's context. Of check
// runs of one name (a re-run), the newest counts; a check run counts over a
// commit status of the same name. It needs the App's checks: read and
// statuses: read permissions (a token: repo scope, or those fine-grained
// permissions). It blocks for a request per page; errors are classified
// like every other call's.
func (c *Client) Checks(ctx context.Context, env preview.Environment) (map[string]preview.CheckState, error) {
	owner, name, err := splitRepo(env.Repo)
	if err != nil {
		return nil, fmt.Errorf("read checks: %w", err)
	}
	if !commitSHA.MatchString(env.HeadSHA) {
		return nil, preview.Errorf(preview.EINVALID, "read checks: %q is not a commit SHA", env.HeadSHA)
	}
	ep, err := c.endpointFor(ctx, env.Repo, env.Desired.InstallationID)
	if err != nil {
		return nil, fmt.Errorf("read checks of %s@%s: %w", env.Repo, preview.ShortSHA(env.HeadSHA), err)
	}
	states := map[string]preview.CheckState{}
	statuses := &gh.ListOptions{PerPage: 100}
	for {
		var (
			combined *gh.CombinedStatus
			resp     *gh.Response
		)
		err := ep.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
			combined, resp, err = api.Repositories.GetCombinedStatus(ctx, owner, name, env.HeadSHA, statuses)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read commit statuses of %s@%s: %w", env.Repo, preview.ShortSHA(env.HeadSHA), classify(err))
		}
		for _, s := range combined.Statuses {
			states[s.GetContext()] = statusState(s.GetState())
		}
		if resp.NextPage == 0 {
			break
		}
		statuses.Page = resp.NextPage
	}
	newest := map[string]int64{}
	runs := &gh.ListCheckRunsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		var (
			page *gh.ListCheckRunsResults
			resp *gh.Response
		)
		err := ep.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
			page, resp, err = api.Checks.ListCheckRunsForRef(ctx, owner, name, env.HeadSHA, runs)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read check runs of %s@%s: %w", env.Repo, preview.ShortSHA(env.HeadSHA), classify(err))
		}
		for _, run := range page.CheckRuns {
			if id, seen := newest[run.GetName()]; seen && id > run.GetID() {
				continue
			}
			newest[run.GetName()] = run.GetID()
			states[run.GetName()] = checkRunState(run.GetStatus(), run.GetConclusion())
		}
		if resp.NextPage == 0 {
			return states, nil
		}
		runs.Page = resp.NextPage
	}
}

// checkRunState reads a check run: pending until completed, then success
// for success, neutral and skipped, failure for anything else (failure,
// cancelled, timed_out, action_required, stale, startup_failure).
func checkRunState(status, conclusion string) preview.CheckState {
	if status != "completed" {
		return preview.CheckPending
	}
	switch conclusion {
	case "success", "neutral", "skipped":
		return preview.CheckSuccess
	default:
		return preview.CheckFailure
	}
}

// statusState reads a commit status: success, pending, or failure for
// failure and error.
func statusState(state string) preview.CheckState {
	switch state {
	case "success":
		return preview.CheckSuccess
	case "pending":
		return preview.CheckPending
	default:
		return preview.CheckFailure
	}
}
