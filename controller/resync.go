package controller

import (
	"context"

	preview "github.com/previewd/previewd"
)

// PullRequests is GitHub's view of pull requests, read to heal missed
// webhooks.
type PullRequests interface {
	ListOpenPullRequests(ctx context.Context, repo string) ([]preview.PullRequest, error)
	GetPullRequest(ctx context.Context, repo string, number int) (preview.PullRequest, error)
}

// resyncLoop compares GitHub's open pull requests with the store at start-up
// and every ResyncInterval.
func (c *Controller) resyncLoop(ctx context.Context) {
	c.elected(ctx, c.cfg.ResyncInterval, true, c.resync, nil)
}

// resync records every open pull request (building those opened while
// previewd was down or whose webhook was lost) and tears down environments
// whose pull request is no longer open. A repository whose list cannot be
// read is skipped, never taken as empty; a destroy needs a direct read
// confirming the pull request is closed; and at most MaxResyncDestroys are
// started per pass, so an outage or a wrong answer cannot wipe everything.
func (c *Controller) resync(ctx context.Context) {
	live, err := c.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
	if err != nil {
		c.log.Error("resync", "err", err)
		return
	}
	repos := map[string]bool{}
	if c.cfg.ResyncRepos != nil {
		names, err := c.cfg.ResyncRepos(ctx)
		if err != nil {
			c.log.Warn("resync: list repositories", "err", err)
		}
		for _, r := range names {
			repos[r] = true
		}
	}
	for _, env := range live {
		repos[env.Repo] = true
	}
	budget := c.cfg.MaxResyncDestroys
	for repo := range repos {
		if ctx.Err() != nil {
			return
		}
		if c.cfg.Allowed != nil && !c.cfg.Allowed(repo) {
			continue // not served (no module, or outside allowed_repos): previewd does not act on it
		}
		budget = c.resyncRepo(ctx, repo, live, budget)
	}
}

// resyncRepo heals one repository and returns the destroy budget left.
func (c *Controller) resyncRepo(ctx context.Context, repo string, live []preview.Environment, budget int) int {
	open, err := c.cfg.Resync.ListOpenPullRequests(ctx, repo)
	if err != nil {
		c.log.Warn("resync: list open pull requests; skipping the repository", "repo", repo, "err", err)
		return budget
	}
	isOpen := map[int]bool{}
	for _, pr := range open {
		isOpen[pr.Number] = true
		c.record(ctx, pr, "opened or moved while no webhook came")
	}
	for _, env := range live {
		if env.Repo != repo || !env.Desired.PROpen || isOpen[env.PR] {
			continue
		}
		if budget <= 0 {
			c.log.Warn("resync: destroy budget for this pass used up; the rest waits for the next pass", "repo", repo, "environment", env.Name)
			return 0
		}
		pr, err := c.cfg.Resync.GetPullRequest(ctx, repo, env.PR)
		if err != nil || pr.Open {
			continue // not confirmed closed
		}
		if pr.UpdatedAt.Before(env.Desired.PRUpdatedAt) {
			// A direct read is the current truth, whatever its timestamp
			// (GitHub's can lag the newest webhook's).
			pr.UpdatedAt = env.Desired.PRUpdatedAt
		}
		if c.record(ctx, pr, "closed while no webhook came") {
			budget--
		}
	}
	return budget
}

// record stores what resync learned of pr and reports whether it changed
// desired state.
func (c *Controller) record(ctx context.Context, pr preview.PullRequest, why string) bool {
	res, err := c.store.RecordPullRequest(ctx, "", pr)
	if err != nil {
		c.log.Error("resync: record pull request", "pull_request", pr.Key(), "err", err)
		return false
	}
	if !res.Changed {
		return false
	}
	c.log.Info("resync: pull request "+why, "pull_request", pr.Key(), "environment", res.Environment.Name, "open", pr.Open)
	c.Nudge(res.Environment.Name)
	return true
}
