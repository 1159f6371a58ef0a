package controller

import (
	"context"
	"errors"
	"time"

	preview "github.com/previewd/previewd"
)

// githubSync is the service that shows each environment on its pull
// request: its worker serves the queue of environments whose comment,
// deployment or statuses may be behind, holding the environment's lease,
// so two replicas never write one pull request's comment at once.
type githubSync struct {
	*core
	gh      GitHub
	retry   time.Duration // how soon a failed write is tried again
	metrics Metrics
}

// run writes pull requests until ctx ends.
func (g *githubSync) run(ctx context.Context) {
	g.notices.serve(ctx, g.sync)
}

// sync brings the pull request's comment, deployment and commit status
// up to date with the stored environment. What was written is stored even
// when a later write fails; a failure is retried later, and only the newest
// state is ever sent.
func (g *githubSync) sync(ctx context.Context, name string) {
	g.leases.leased(ctx, name, func() { g.runs.add(name) }, func(ctx context.Context) { g.write(ctx, name) })
}

func (g *githubSync) write(ctx context.Context, name string) {
	env, err := g.store.FindEnvironmentByName(ctx, name)
	if err != nil {
		g.log.Error("sync github: load environment", "environment", name, "err", err)
		return
	}
	comment, errComment := g.gh.SyncComment(ctx, env)
	deployment, errDeployment := g.gh.SyncDeployment(ctx, env)
	status, errStatus := g.gh.SyncCommitStatus(ctx, env)
	parityStatus, errParity := g.gh.SyncParityStatus(ctx, env)
	databaseStatus, errDatabase := g.gh.SyncDatabaseStatus(ctx, env)
	if errComment != nil {
		comment = env.Comment
	}
	if err := errors.Join(errComment, errDeployment, errStatus, errParity, errDatabase); err != nil && ctx.Err() == nil {
		g.log.Warn("sync github failed; will retry", "environment", name, "err", err)
		if g.metrics != nil {
			g.metrics.GitHubSyncFailed()
		}
		g.notices.addAfter(ctx, name, g.retry)
	}
	if comment == env.Comment && deployment == env.Deployment && status == env.CommitStatus && parityStatus == env.ParityStatus &&
		databaseStatus == env.DatabaseStatus {
		return
	}
	_, err = g.store.UpdateEnvironment(context.WithoutCancel(ctx), name, func(e *preview.Environment) error {
		e.Comment, e.Deployment, e.CommitStatus, e.ParityStatus = comment, deployment, status, parityStatus
		e.DatabaseStatus = databaseStatus
		return nil
	})
	if err != nil {
		g.log.Error("sync github: store what was written", "environment", name, "err", err)
		return
	}
	if status.URL != env.CommitStatus.URL || parityStatus.URL != env.ParityStatus.URL || databaseStatus.URL != env.DatabaseStatus.URL {
		// A new check run: the comment, written before it, links it
		// next time.
		g.notices.add(name)
	}
}
