package controller

import (
	"cmp"
	"context"
	"slices"
	"time"

	preview "github.com/previewd/previewd"
)

// ModuleVersions tells which version of production's module each
// repository's previews must run, when the module comes from git.
type ModuleVersions interface {
	// Current resolves the module env follows now; the zero version when
	// the module is a directory, with nothing to follow.
	Current(ctx context.Context, env preview.Environment) (preview.ModuleVersion, error)
}

// moduleFollower is the service that keeps environments on production's
// module when it comes from git: every PollInterval on the leader, and on
// any replica a push reached, it re-applies the environments built from an
// older module commit. With no ModuleVersions it is not started.
type moduleFollower struct {
	*core
	versions ModuleVersions
	poll     time.Duration
	due      chan struct{} // pushed's signal to run
}

// run follows production's modules until ctx ends.
func (m *moduleFollower) run(ctx context.Context) {
	m.leader.every(ctx, m.poll, false, m.follow, m.due)
}

// pushed has the service look at production's modules now (a push to a
// repository came), instead of at its next poll. It never blocks; pushes
// that come while it looks are folded into one more look.
func (m *moduleFollower) pushed() {
	select {
	case m.due <- struct{}{}:
	default:
	}
}

// follow re-applies every live environment built from a module
// commit older than the one its repository's ref names now: its desired
// generation moves (as a redeploy does), newest activity first, and the
// run queue's slots bound how many run at once. An environment whose
// module is a directory, or that was never applied, is left alone; a
// repository whose module cannot be resolved now is tried again next time.
func (m *moduleFollower) follow(ctx context.Context) {
	envs, err := m.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
	if err != nil {
		m.log.Error("follow modules: load environments", "err", err)
		return
	}
	current := map[string]preview.ModuleVersion{} // by repository: its environments follow one module
	failed := map[string]bool{}
	var stale []preview.Environment
	for _, env := range envs {
		if !env.Desired.Present || env.Module.Commit == "" || failed[env.Repo] {
			continue
		}
		v, ok := current[env.Repo]
		if !ok {
			if v, err = m.versions.Current(ctx, env); err != nil {
				m.log.Warn("follow modules: resolve", "repo", env.Repo, "err", err)
				failed[env.Repo] = true
				continue
			}
			current[env.Repo] = v
		}
		if v.Commit != "" && v.Commit != env.Module.Commit {
			stale = append(stale, env)
		}
	}
	slices.SortStableFunc(stale, func(a, b preview.Environment) int {
		return cmp.Or(b.Desired.PRUpdatedAt.Compare(a.Desired.PRUpdatedAt), cmp.Compare(a.Name, b.Name))
	})
	for _, env := range stale {
		moved := false
		_, err := m.store.UpdateEnvironment(ctx, env.Name, func(e *preview.Environment) error {
			// Not again while a run for an earlier move (or a redeploy) is
			// still due: that run gets the newest module anyway. A failed
			// one is tried again with the new module.
			due := e.AppliedGeneration != e.Desired.Generation && e.Status != preview.StatusFailed
			if e.Desired.Present && e.Module.Commit == env.Module.Commit && !due {
				e.Desired.Generation++
				moved = true
			}
			return nil
		})
		if err != nil {
			m.log.Error("follow modules: re-apply", "environment", env.Name, "err", err)
			continue
		}
		if moved {
			m.log.Info("production's module moved: re-applying", "environment", env.Name, "from", preview.ShortSHA(env.Module.Commit), "to", preview.ShortSHA(current[env.Repo].Commit))
			m.runs.add(env.Name)
		}
	}
}
