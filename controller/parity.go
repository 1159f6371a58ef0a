package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// afterApply checks the applied environment's parity, appending to the
// run's log, and records the report on the environment.
func (c *Controller) afterApply(ctx context.Context, env preview.Environment, log io.Writer) {
	if c.cfg.Checker == nil {
		return
	}
	fmt.Fprintf(log, "\n# previewd: checking parity with production\n")
	report, err := c.cfg.Checker.Check(ctx, env, log)
	if ctx.Err() != nil {
		return // cut short by a stop: the next start checks again
	}
	if err != nil {
		report = preview.ParityReport{CheckedAt: c.cfg.Now().UTC(), Error: c.errorText(err)}
	}
	report.SHA, report.Generation = env.AppliedSHA, env.AppliedGeneration
	_, err = c.store.UpdateEnvironment(context.WithoutCancel(ctx), env.Name, func(e *preview.Environment) error {
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
		c.log.Error("store parity report", "environment", env.Name, "err", err)
		return
	}
	c.notices.add(env.Name)
	c.log.Info("parity checked", "environment", env.Name, "status", report.Status, "findings", len(report.Findings), "error", report.Error)
	if c.cfg.Metrics != nil {
		verdict := string(report.Status)
		if report.Error != "" {
			verdict = "error"
		}
		c.cfg.Metrics.ParityChecked(verdict)
	}
}

// driftLoop checks ready environments for changes made outside Terraform,
// each repository at its own interval.
func (c *Controller) driftLoop(ctx context.Context) {
	last := map[string]time.Time{} // environment → last drift check
	c.elected(ctx, c.cfg.SweepInterval, false, func(ctx context.Context) {
		envs, err := c.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
		if err != nil {
			c.log.Error("drift: list environments", "err", err)
			return
		}
		now := c.cfg.Now()
		for _, env := range envs {
			interval, _ := c.cfg.Checker.DriftPolicy(env.Repo)
			if interval <= 0 || env.Status != preview.StatusReady || now.Sub(last[env.Name]) < interval {
				continue
			}
			last[env.Name] = now
			c.CheckDrift(env.Name) // in a run worker: never beside an apply
		}
	}, nil)
}

// CheckDrift queues a drift check of the named environment now, whatever
// its repository's interval: a refresh-only plan run by a run worker once
// no other run of it is going. An environment that is not ready by then is
// not checked. Without a Checker it does nothing.
func (c *Controller) CheckDrift(name string) {
	if c.cfg.Checker == nil {
		return
	}
	c.driftMu.Lock()
	c.driftDue[name] = true
	c.driftMu.Unlock()
	c.runs.add(name)
}

// driftPending reports whether a drift check of name waits, without
// taking it.
func (c *Controller) driftPending(name string) bool {
	c.driftMu.Lock()
	defer c.driftMu.Unlock()
	return c.driftDue[name]
}

// takeDriftDue reports whether a drift check of name is due, and clears it.
func (c *Controller) takeDriftDue(name string) bool {
	c.driftMu.Lock()
	defer c.driftMu.Unlock()
	due := c.driftDue[name]
	delete(c.driftDue, name)
	return due
}

// checkDrift runs one refresh-only plan on a ready environment, from a run
// worker so it never overlaps an apply, and records what changed.
func (c *Controller) checkDrift(ctx context.Context, name string) {
	env, err := c.store.FindEnvironmentByName(ctx, name)
	if err != nil || env.Status != preview.StatusReady {
		return
	}
	run, log, err := c.startRun(ctx, env, preview.PhaseDrift)
	if err != nil {
		c.log.Error("drift", "environment", name, "err", err)
		return
	}
	changes, runErr := c.cfg.Checker.DetectDrift(ctx, env, log)
	if runErr = c.finishRun(ctx, run, log, runErr); runErr != nil {
		return
	}
	_, reapply := c.cfg.Checker.DriftPolicy(env.Repo)
	_, err = c.transition(context.WithoutCancel(ctx), name, func(e *preview.Environment) {
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
		e.Parity.CheckedAt = c.cfg.Now().UTC()
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
		c.log.Error("drift: store", "environment", name, "err", err)
		return
	}
	if len(changes) > 0 {
		c.log.Warn("environment drifted", "environment", name, "changes", len(changes), "reapply", reapply)
		if reapply {
			c.Nudge(name)
		}
	}
}
