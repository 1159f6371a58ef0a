package controller

import (
	"context"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// drift is the service that checks ready environments for changes made
// outside Terraform. On the leader, its schedule asks for a check of each
// repository's environments at the repository's interval; a check asked
// (by the schedule or an operator) is run by a run worker, never beside an
// apply, and its outcome recorded with the parity report. With no Checker
// it is not started, and asks nothing.
type drift struct {
	*core
	journal *journal
	checker Checker // nil: no drift checks
	every   time.Duration

	mu  sync.Mutex
	due map[string]bool // ready environments due for a drift check
}

// run asks for the drift checks due, every sweep while this replica
// leads, until ctx ends.
func (d *drift) run(ctx context.Context) {
	last := map[string]time.Time{} // environment → last drift check
	d.leader.every(ctx, d.every, false, func(ctx context.Context) {
		envs, err := d.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
		if err != nil {
			d.log.Error("drift: list environments", "err", err)
			return
		}
		now := d.now()
		for _, env := range envs {
			interval, _ := d.checker.DriftPolicy(env.Repo)
			if interval <= 0 || env.Status != preview.StatusReady || now.Sub(last[env.Name]) < interval {
				continue
			}
			last[env.Name] = now
			d.ask(env.Name) // in a run worker: never beside an apply
		}
	}, nil)
}

// ask queues a drift check of the named environment now (see
// Controller.CheckDrift).
func (d *drift) ask(name string) {
	if d.checker == nil {
		return
	}
	d.mu.Lock()
	d.due[name] = true
	d.mu.Unlock()
	d.runs.add(name)
}

// pending reports whether a drift check of name waits, without
// taking it.
func (d *drift) pending(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.due[name]
}

// take reports whether a drift check of name is due, and clears it.
func (d *drift) take(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	due := d.due[name]
	delete(d.due, name)
	return due
}

// check runs one refresh-only plan on a ready environment, from a run
// worker so it never overlaps an apply, and records what changed.
func (d *drift) check(ctx context.Context, name string) {
	env, err := d.store.FindEnvironmentByName(ctx, name)
	if err != nil || env.Status != preview.StatusReady {
		return
	}
	run, log, err := d.journal.startRun(ctx, env, preview.PhaseDrift)
	if err != nil {
		d.log.Error("drift", "environment", name, "err", err)
		return
	}
	changes, runErr := d.checker.DetectDrift(ctx, env, log)
	if runErr = d.journal.finishRun(ctx, run, log, runErr); runErr != nil {
		return
	}
	_, reapply := d.checker.DriftPolicy(env.Repo)
	_, err = d.transition(context.WithoutCancel(ctx), name, func(e *preview.Environment) {
		findings := make([]preview.Finding, 0, len(e.Parity.Findings)+len(changes))
		for _, f := range e.Parity.Findings {
			if f.Kind != preview.FindingLiveDrift {
				findings = append(findings, f)
			}
		}
		for _, ch := range changes {
			findings = append(findings, preview.Finding{Kind: preview.FindingLiveDrift, Subject: ch,
				Production: "as last applied", Preview: "changed outside Terraform", Reason: "changed outside Terraform"})
		}
		e.Parity.Findings = findings
		e.Parity.CheckedAt = d.now().UTC()
		if e.Parity.Error == "" {
			e.Parity.Status = preview.Verdict(findings)
		}
		e.Drifted = len(changes) > 0
		if e.Drifted && reapply {
			e.Desired.Generation++ // apply the module again over the changes
			e.Status = preview.StatusQueued
		}
	})
	if err != nil {
		d.log.Error("drift: store", "environment", name, "err", err)
		return
	}
	if len(changes) > 0 {
		d.log.Warn("environment drifted", "environment", name, "changes", len(changes), "reapply", reapply)
		if reapply {
			d.runs.add(name)
		}
	}
}
