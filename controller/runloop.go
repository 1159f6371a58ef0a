package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// runLoop is the service that runs Terraform: a bounded pool of workers
// serves the queue of environments to reconcile, one run per environment
// at a time (its lease, with replicas), always for the newest head; and
// every sweep it queues again what is not converged (a retry due, a run a
// stop cut short, a dead replica's environments once their leases
// expired).
type runLoop struct {
	*core
	journal *journal
	prov    Provisioner
	checker Checker // seeds and pre-destroy hooks; nil: none

	workers     int
	slots       *slots // shared with the production watch
	maxAttempts int
	retryBase   time.Duration
	sweepEvery  time.Duration

	ci        *checkWaiter // whether a head's required checks passed
	admission *admission   // whether an environment fits its budget
	parity    *parity      // checks an applied environment's parity
	drift     *drift       // drift checks asked of this replica
	databases *databases   // watches databases as environments come up; nil: none
}

// run serves the queue with the workers, and sweeps, until ctx ends; it
// returns once every worker has recorded where it stopped.
func (r *runLoop) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range r.workers {
		wg.Go(func() { r.runs.serve(ctx, r.reconcile) })
	}
	wg.Go(func() { r.sweepLoop(ctx) })
	wg.Wait()
	r.databases.wait()
}

func (r *runLoop) sweepLoop(ctx context.Context) {
	t := time.NewTicker(r.sweepEvery)
	defer t.Stop()
	for {
		r.sweep(ctx)
		r.finishedPass("runs")
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep queues the live environments that are not converged, and the
// parity checks of ready ones not checked as applied. Every replica
// sweeps: it is the fallback that finds a dead replica's environments (and
// checks) once its leases expire.
func (r *runLoop) sweep(ctx context.Context) {
	envs, err := r.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
	if err != nil {
		r.log.Error("sweep", "err", err)
		return
	}
	now := r.now()
	for _, env := range envs {
		if env.NextAction(now, r.maxAttempts) != preview.ActionNone {
			r.runs.add(env.Name)
		}
		r.parity.addUnchecked(env)
	}
}

// reconcile converges one environment, looping while its desired state keeps
// moving. The queue guarantees no other worker of this process holds the
// same name; the environment's lease, that no other replica does.
//
// A drift check asked of this replica is its own to run (no other replica
// knows of it): while another replica holds the environment, it is tried
// again a third of a lease later.
func (r *runLoop) reconcile(ctx context.Context, name string) {
	release, ok := r.slots.take(ctx)
	if !ok {
		return
	}
	defer release()
	if !r.leases.leased(ctx, name, func() { r.runs.add(name) }, func(ctx context.Context) { r.converge(ctx, name) }) && r.drift.pending(name) {
		r.runs.addAfter(ctx, name, r.leases.ttl/3)
	}
}

func (r *runLoop) converge(ctx context.Context, name string) {
	for ctx.Err() == nil {
		env, err := r.store.FindEnvironmentByName(ctx, name)
		if err != nil {
			r.log.Error("reconcile: load environment", "environment", name, "err", err)
			return
		}
		switch env.NextAction(r.now(), r.maxAttempts) {
		case preview.ActionApply:
			if !r.ci.passed(ctx, env) {
				return // waiting, or failed: a check event or the sweep reads them again
			}
			admitted, ok := r.admission.admit(ctx, env)
			if !ok {
				return // waiting for room: a destroy or the sweep looks again
			}
			err = r.apply(ctx, env, admitted)
		case preview.ActionDestroy:
			err = r.destroy(ctx, env)
		default:
			r.settled(ctx, env)
			return
		}
		if err != nil {
			r.log.Error("reconcile", "environment", name, "err", err)
			return
		}
	}
}

// settled does what is left for an environment with no run to do: its
// retry scheduled, its pull request written (e.g. a fork's first event:
// nothing to run, something to say), its parity checked if it is not
// (another replica's apply, or refused meanwhile), and a drift check
// asked of this replica.
func (r *runLoop) settled(ctx context.Context, env preview.Environment) {
	r.scheduleRetry(ctx, env)
	r.notices.add(env.Name)
	r.parity.addUnchecked(env)
	if r.drift.take(env.Name) {
		r.drift.check(ctx, env.Name)
	}
}

// scheduleRetry queues a failed environment again when its retry is due,
// so retries do not wait for the next sweep.
func (r *runLoop) scheduleRetry(ctx context.Context, env preview.Environment) {
	if env.Status != preview.StatusFailed || env.Attempts == 0 || env.Attempts >= r.maxAttempts {
		return
	}
	if delay := env.RetryAt.Sub(r.now()); delay > 0 {
		r.runs.addAfter(ctx, env.Name, delay)
	}
}

// recover marks runs cut off by a previous process as interrupted, and
// queues every environment that is not converged, every applied one not
// checked, and every pull request to write: of envs, every environment,
// or when nil of those it reads. The supervisor calls it before any
// service starts.
func (r *runLoop) recover(ctx context.Context, envs []preview.Environment) error {
	runs, err := r.store.InterruptRuns(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, run := range runs {
		r.log.Warn("run was interrupted by a previous stop", "run", run.ID, "environment", run.Environment, "phase", run.Phase)
	}
	if envs == nil {
		if envs, err = r.store.FindEnvironments(ctx, preview.EnvironmentFilter{}); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
	}
	now := r.now()
	for _, env := range envs {
		if env.NextAction(now, r.maxAttempts) != preview.ActionNone {
			r.runs.add(env.Name)
		}
		r.parity.addUnchecked(env) // applied, but stopped before its check
		r.notices.add(env.Name)
	}
	return nil
}
