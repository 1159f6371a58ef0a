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

// resync is the service that heals missed webhooks: on the leader, at
// start-up and every Interval, it compares GitHub's open pull requests
// with the store. With no PullRequests (offline mode) it is not started.
type resync struct {
	*core
	cfg ResyncConfig
}

// run resyncs while this replica leads, until ctx ends.
func (r *resync) run(ctx context.Context) {
	r.leader.every(ctx, r.cfg.Interval, true, func(ctx context.Context) {
		r.pass(ctx)
		r.finishedPass("resync")
	}, nil)
}

// pass records every open pull request (building those opened while
// previewd was down or whose webhook was lost) and tears down environments
// whose pull request is no longer open. A repository whose list cannot be
// read is skipped, never taken as empty; a destroy needs a direct read
// confirming the pull request is closed; and at most MaxDestroys are
// started per pass, so an outage or a wrong answer cannot wipe everything.
func (r *resync) pass(ctx context.Context) {
	live, err := r.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
	if err != nil {
		r.log.Error("resync", "err", err)
		return
	}
	repos := map[string]bool{}
	if r.cfg.Repos != nil {
		names, err := r.cfg.Repos(ctx)
		if err != nil {
			r.log.Warn("resync: list repositories", "err", err)
		}
		for _, name := range names {
			repos[name] = true
		}
	}
	for _, env := range live {
		repos[env.Repo] = true
	}
	budget := r.cfg.MaxDestroys
	for repo := range repos {
		if ctx.Err() != nil {
			return
		}
		if r.cfg.Allowed != nil && !r.cfg.Allowed(repo) {
			continue // not served (no module, or outside allowed_repos): previewd does not act on it
		}
		budget = r.repo(ctx, repo, live, budget)
	}
}

// repo heals one repository and returns the destroy budget left.
func (r *resync) repo(ctx context.Context, repo string, live []preview.Environment, budget int) int {
	open, err := r.cfg.PullRequests.ListOpenPullRequests(ctx, repo)
	if err != nil {
		r.log.Warn("resync: list open pull requests; skipping the repository", "repo", repo, "err", err)
		return budget
	}
	isOpen := map[int]bool{}
	for _, pr := range open {
		isOpen[pr.Number] = true
		r.record(ctx, pr, "opened or moved while no webhook came")
	}
	for _, env := range live {
		if env.Repo != repo || !env.Desired.PROpen || isOpen[env.PR] {
			continue
		}
		if budget <= 0 {
			r.log.Warn("resync: destroy budget for this pass used up; the rest waits for the next pass", "repo", repo, "environment", env.Name)
			return 0
		}
		pr, err := r.cfg.PullRequests.GetPullRequest(ctx, repo, env.PR)
		if err != nil || pr.Open {
			continue // not confirmed closed
		}
		if pr.UpdatedAt.Before(env.Desired.PRUpdatedAt) {
			// A direct read is the current truth, whatever its timestamp
			// (GitHub's can lag the newest webhook's).
			pr.UpdatedAt = env.Desired.PRUpdatedAt
		}
		if r.record(ctx, pr, "closed while no webhook came") {
			budget--
		}
	}
	return budget
}

// record stores what resync learned of pr and reports whether it changed
// desired state.
func (r *resync) record(ctx context.Context, pr preview.PullRequest, why string) bool {
	res, err := r.store.RecordPullRequest(ctx, "", pr)
	if err != nil {
		r.log.Error("resync: record pull request", "pull_request", pr.Key(), "err", err)
		return false
	}
	if !res.Changed {
		return false
	}
	r.log.Info("resync: pull request "+why, "pull_request", pr.Key(), "environment", res.Environment.Name, "open", pr.Open)
	r.runs.add(res.Environment.Name)
	return true
}
