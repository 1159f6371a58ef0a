package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// Checker compares environments with production and runs their data hooks.
// Every call blocks on Terraform or a command and stops when ctx ends.
type Checker interface {
	// Check compares the applied environment with production: inputs,
	// config keys, toggles, and its plan against production's shape.
	Check(ctx context.Context, env preview.Environment, log io.Writer) (preview.ParityReport, error)
	// DetectDrift lists what changed outside Terraform (a refresh-only
	// plan); none means no drift.
	DetectDrift(ctx context.Context, env preview.Environment, log io.Writer) ([]string, error)
	// DriftPolicy returns how often the repository's ready environments are
	// checked for drift (0: never) and whether drift is applied away.
	DriftPolicy(repo string) (interval time.Duration, reapply bool)
	// Seed runs the repository's seed command after an environment's first
	// successful apply; PreDestroy runs before a destroy. Both are no-ops
	// when unconfigured.
	Seed(ctx context.Context, env preview.Environment, log io.Writer) error
	PreDestroy(ctx context.Context, env preview.Environment, log io.Writer) error
}

// parity is the service that checks applied environments' parity with
// production, beside the run loop's workers and after them: its own
// workers serve the queue of environments applied but not checked. With no
// Checker it is not started, and adds nothing.
type parity struct {
	*core
	journal *journal
	checker Checker // nil: no parity checks
	workers int
	metrics Metrics
	queue   *workQueue // applied environments whose parity is to be checked
}

// run serves the queue until ctx ends, and returns once every check has
// stopped.
func (p *parity) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range p.workers {
		wg.Go(func() { p.queue.serve(ctx, p.checkParity) })
	}
	wg.Wait()
}

// add queues a parity check of the named environment, just applied.
func (p *parity) add(name string) {
	if p.checker != nil {
		p.queue.add(name)
	}
}

// addUnchecked queues a parity check of env if it is ready and not
// checked as it is applied now (a stop came before its check, or another
// replica's check was refused).
func (p *parity) addUnchecked(env preview.Environment) {
	if env.Status == preview.StatusReady && !parityCurrent(env) {
		p.add(env.Name)
	}
}

// parityCurrent reports whether env's parity report is about what is
// applied now.
func parityCurrent(env preview.Environment) bool {
	return env.Parity.SHA == env.AppliedSHA && env.Parity.Generation == env.AppliedGeneration
}

// checkParity checks the named environment's parity as it is applied now,
// appending to its newest run's log. The provisioner serialises it with any
// run of the same environment.
//
// Applies come first: a check waits while environments wait for a run
// worker, so a burst of pull requests is ready sooner and checked after.
func (p *parity) checkParity(ctx context.Context, name string) {
	p.runs.waitDrained(ctx)
	p.leases.leased(ctx, name, func() { p.runs.add(name) }, func(ctx context.Context) { p.checkApplied(ctx, name) })
}

func (p *parity) checkApplied(ctx context.Context, name string) {
	env, err := p.store.FindEnvironmentByName(ctx, name)
	if err != nil || env.Status != preview.StatusReady || parityCurrent(env) {
		return // gone, moving, or already checked at this head
	}
	run, err := p.store.FindRunByID(ctx, env.LastRunID)
	if err != nil {
		p.log.Error("parity: find the run's log", "environment", name, "err", err)
		return
	}
	if p.appliedElsewhere(ctx, run) {
		return
	}
	log, err := p.journal.openLog(ctx, run)
	if err != nil {
		p.log.Error("parity: open the run's log", "run", run.ID, "err", err)
		return
	}
	defer log.Close()
	p.afterApply(ctx, env, log)
}

// appliedElsewhere reports whether another replica, still running, made
// run: it keeps the plan it applied and checks it when its applies are
// done, where this replica would have to plan again. Once it stops, any
// replica's sweep checks what it left.
func (p *parity) appliedElsewhere(ctx context.Context, run preview.Run) bool {
	if p.leases.db == nil || run.Replica == "" || run.Replica == replica(ctx) {
		return false
	}
	alive, err := p.leases.db.Holding(ctx, run.Replica)
	if err != nil {
		p.log.Warn("parity: is the replica that applied still running? checking here", "run", run.ID, "replica", run.Replica, "err", err)
		return false
	}
	return alive
}

// afterApply checks the applied environment's parity, appending to the
// run's log, and records the report on the environment.
func (p *parity) afterApply(ctx context.Context, env preview.Environment, log io.Writer) {
	fmt.Fprintf(log, "\n# previewd: checking parity with production\n")
	report, err := p.checker.Check(ctx, env, log)
	if ctx.Err() != nil {
		return // cut short by a stop: the next start checks again
	}
	if err != nil {
		report = preview.ParityReport{CheckedAt: p.now().UTC(), Error: p.journal.errorText(err)}
	}
	report.SHA, report.Generation = env.AppliedSHA, env.AppliedGeneration
	_, err = p.store.UpdateEnvironment(context.WithoutCancel(ctx), env.Name, func(e *preview.Environment) error {
		if e.Status != preview.StatusReady || e.AppliedSHA != env.AppliedSHA || e.AppliedGeneration != env.AppliedGeneration {
			return errMoved // applied again or torn down meanwhile: this report is about nothing live
		}
		for _, f := range e.Parity.Findings {
			if f.Kind == preview.FindingLiveDrift { // a drift check's findings stand until the next one
				report.Findings = append(report.Findings, f)
			}
		}
		if report.Error == "" {
			report.Status = preview.Verdict(report.Findings)
		}
		e.Parity = report
		return nil
	})
	if errors.Is(err, errMoved) {
		return
	} else if err != nil {
		p.log.Error("store parity report", "environment", env.Name, "err", err)
		return
	}
	p.notices.add(env.Name)
	p.log.Info("parity checked", "environment", env.Name, "status", report.Status, "findings", len(report.Findings), "error", report.Error)
	if p.metrics != nil {
		p.metrics.ParityChecked(string(report.Verdict()))
	}
}
