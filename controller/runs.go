package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
)

// maxErrorLength bounds the error text kept on an environment: its tail,
// where Terraform says what went wrong.
const maxErrorLength = 4000

// errShutdown is recorded on runs that a stop interrupted.
var errShutdown = errors.New("interrupted: previewd is shutting down")

// apply runs Terraform apply for the environment's newest head. The
// provisioning status and the journal entry are stored before Terraform
// starts, so a crash at any point leaves something a restart recognises.
//
// admitted is called once the provisioning status is stored (or the apply
// did not start): the environment then counts against its budget.
func (c *Controller) apply(ctx context.Context, env preview.Environment, admitted func()) error {
	sha, gen := env.HeadSHA, env.Desired.Generation
	env, err := c.begin(ctx, env.Name, func(e *preview.Environment) bool {
		if !e.Desired.Present || e.HeadSHA != sha || e.Desired.Generation != gen {
			return false // desired state moved since the decision: decide again
		}
		if e.LastPhase != preview.PhaseApply || e.AttemptedSHA != sha || e.AttemptedGeneration != gen {
			e.Attempts = 0 // a new target: earlier failures do not count
		}
		e.Status, e.LastPhase = preview.StatusProvisioning, preview.PhaseApply
		e.AttemptedSHA, e.AttemptedGeneration = sha, gen
		e.Budget = nil
		return true
	})
	admitted()
	if err != nil || env.Name == "" {
		return err
	}
	run, log, err := c.startRun(ctx, env, preview.PhaseApply)
	if err != nil {
		return err
	}
	applied, runErr := c.prov.Apply(ctx, env, log)
	url, outputs := applied.URL, applied.Outputs
	seeded, seedErr := env.Seeded, error(nil)
	if runErr == nil && !env.Seeded && c.cfg.Checker != nil {
		// Seed before the environment shows as ready, so nobody opens an
		// empty one: the seed gets the new outputs.
		fresh := env
		fresh.URL, fresh.Outputs = url, outputs
		fmt.Fprintf(log, "\n# previewd: seeding %s\n", env.Name)
		seedErr = c.cfg.Checker.Seed(ctx, fresh, log)
		seeded = seedErr == nil
	}
	runErr = c.finishRun(ctx, run, log, runErr)
	env, err = c.transition(context.WithoutCancel(ctx), env.Name, func(e *preview.Environment) {
		e.LastRunID, e.LastRunAt = run.ID, c.cfg.Now().UTC()
		switch {
		case runErr == nil:
			e.Status, e.URL, e.Outputs, e.Drifted = preview.StatusReady, url, outputs, false
			e.AppliedSHA, e.AppliedGeneration, e.Module = sha, gen, applied.Module
			e.LastError, e.Attempts, e.Transient, e.RetryAt = "", 0, false, time.Time{}
			e.Seeded = seeded
			e.Applied(c.cfg.Now())
			if seedErr != nil {
				e.LastError = "seed: " + c.errorText(seedErr)
			}
		case errors.Is(runErr, errShutdown):
			e.Status = preview.StatusQueued // the next start applies again
		default:
			c.failed(e, runErr)
		}
	})
	if err == nil && runErr == nil && c.cfg.Checker != nil {
		c.checks.add(env.Name) // parity is checked beside, not in, the apply slot
	}
	return err
}

// checkParity checks the named environment's parity as it is applied now,
// appending to its newest run's log. The provisioner serialises it with any
// run of the same environment.
//
// Applies come first: a check waits while environments wait for a run
// worker, so a burst of pull requests is ready sooner and checked after.
func (c *Controller) checkParity(ctx context.Context, name string) {
	c.runs.waitDrained(ctx)
	c.leased(ctx, name, func() { c.Nudge(name) }, func(ctx context.Context) { c.checkApplied(ctx, name) })
}

func (c *Controller) checkApplied(ctx context.Context, name string) {
	env, err := c.store.FindEnvironmentByName(ctx, name)
	if err != nil || env.Status != preview.StatusReady || env.Parity.SHA == env.AppliedSHA && env.Parity.Generation == env.AppliedGeneration {
		return // gone, moving, or already checked at this head
	}
	run, err := c.store.FindRunByID(ctx, env.LastRunID)
	if err != nil {
		c.log.Error("parity: find the run's log", "environment", name, "err", err)
		return
	}
	log, err := c.openLog(ctx, run)
	if err != nil {
		c.log.Error("parity: open the run's log", "run", run.ID, "err", err)
		return
	}
	defer log.Close()
	c.afterApply(ctx, env, log)
}

// destroy runs Terraform destroy. A failure is retried with exponential
// backoff from RetryBase, up to MaxAttempts; the environment is never
// dropped from the store.
func (c *Controller) destroy(ctx context.Context, env preview.Environment) error {
	env, err := c.begin(ctx, env.Name, func(e *preview.Environment) bool {
		if e.Desired.Present {
			return false // wanted again since the decision: decide again
		}
		if e.LastPhase != preview.PhaseDestroy {
			e.Attempts = 0
		}
		e.Budget = nil
		e.Status, e.LastPhase = preview.StatusDestroying, preview.PhaseDestroy
		return true
	})
	if err != nil || env.Name == "" {
		return err
	}
	run, log, err := c.startRun(ctx, env, preview.PhaseDestroy)
	if err != nil {
		return err
	}
	if c.cfg.Checker != nil {
		if err := c.cfg.Checker.PreDestroy(ctx, env, log); err != nil {
			fmt.Fprintf(log, "# previewd: pre-destroy command failed (destroying anyway): %v\n", err)
			c.log.Warn("pre-destroy command failed; destroying anyway", "environment", env.Name, "err", err)
		}
	}
	runErr := c.finishRun(ctx, run, log, c.prov.Destroy(ctx, env, log))
	defer func() {
		if runErr == nil {
			c.wakeWaiting(context.WithoutCancel(ctx)) // room was made
		}
	}()
	_, err = c.transition(context.WithoutCancel(ctx), env.Name, func(e *preview.Environment) {
		e.LastRunID, e.LastRunAt = run.ID, c.cfg.Now().UTC()
		switch {
		case runErr == nil:
			e.Status, e.URL, e.Outputs = preview.StatusDestroyed, "", nil
			e.AppliedSHA, e.AppliedGeneration, e.LastError, e.Attempts = "", 0, "", 0
			e.Transient, e.RetryAt = false, time.Time{}
			e.Seeded, e.Parity, e.Drifted = false, preview.ParityReport{}, false // a rebuild starts empty
			e.Destroyed(c.cfg.Now())
		case errors.Is(runErr, errShutdown):
			e.Status = preview.StatusDestroying
		default:
			c.failed(e, runErr)
		}
	})
	return err
}

// failed records a failed run and when it may be retried: destroys always
// back off and retry, applies only when the failure was transient.
func (c *Controller) failed(e *preview.Environment, err error) {
	e.Status, e.LastError = preview.StatusFailed, c.errorText(err)
	e.Transient = transient(err)
	e.RetryAt = c.cfg.Now().Add(c.cfg.RetryBase << min(e.Attempts, 10))
	e.Attempts++
}

// transientMarks are pieces of Terraform and provider errors that pass by
// themselves: network trouble, throttling, a state lock held for a while.
var transientMarks = []string{
	"error acquiring the state lock", "timeout", "timed out", "connection refused",
	"connection reset", "no such host", "tls handshake", "temporary failure",
	"too many requests", "throttl", "rate exceeded", "service unavailable",
	"bad gateway", "gateway timeout", "internal server error",
	"failed to lock state", "workspace is already locked", "locked for workspace creation",
	`duplicate key value violates unique constraint "pg_`, // a backend's tables created by two at once
}

// transient reports whether err may pass by itself, so the same apply is
// worth retrying. An invalid module or configuration never is.
func transient(err error) bool {
	switch preview.ErrorCode(err) {
	case preview.EINVALID:
		return false
	case preview.EUNAVAILABLE:
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, m := range transientMarks {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// errMoved aborts a run's first transition when desired state moved after
// the decision to run.
var errMoved = errors.New("desired state moved")

// begin stores the transition that starts a run, if start still holds on
// the stored environment: it returns false when desired state moved since
// the decision, and begin then returns a zero environment and no error, so
// the caller's loop decides again on what is stored now.
func (c *Controller) begin(ctx context.Context, name string, start func(*preview.Environment) bool) (preview.Environment, error) {
	env, err := c.store.UpdateEnvironment(ctx, name, func(e *preview.Environment) error {
		if !start(e) {
			return errMoved
		}
		return nil
	})
	if errors.Is(err, errMoved) {
		return preview.Environment{}, nil
	} else if err != nil {
		return env, fmt.Errorf("update %s: %w", name, err)
	}
	c.notices.add(name)
	return env, nil
}

// transition stores a change of the environment and queues its comment.
func (c *Controller) transition(ctx context.Context, name string, fn func(*preview.Environment)) (preview.Environment, error) {
	env, err := c.store.UpdateEnvironment(ctx, name, func(e *preview.Environment) error {
		fn(e)
		return nil
	})
	if err != nil {
		return env, fmt.Errorf("update %s: %w", name, err)
	}
	c.notices.add(name)
	return env, nil
}

// startRun journals a run as running, for the pull request now holding the
// environment, and opens its log.
func (c *Controller) startRun(ctx context.Context, env preview.Environment, phase preview.Phase) (preview.Run, io.WriteCloser, error) {
	run, err := c.store.CreateRun(ctx, preview.Run{
		Environment: env.Name,
		Repo:        env.Repo,
		PR:          env.PR,
		Phase:       phase,
		HeadSHA:     env.HeadSHA,
		Generation:  env.Desired.Generation,
		State:       preview.RunRunning,
		PID:         c.pid,
		Replica:     replica(ctx),
		StartedAt:   c.cfg.Now().UTC(),
	})
	if err != nil {
		return run, nil, fmt.Errorf("%s %s: %w", phase, env.Name, err)
	}
	if c.cfg.Logs == nil {
		run.LogPath = c.logPath(run.ID)
		if err := c.store.UpdateRun(ctx, run); err != nil {
			return run, nil, fmt.Errorf("%s %s: %w", phase, env.Name, err)
		}
	}
	f, err := c.openLog(ctx, run)
	if err != nil {
		return run, nil, c.failRun(ctx, run, fmt.Errorf("open run log: %w", err))
	}
	c.log.Info("run started", "run", run.ID, "phase", phase, "environment", env.Name, "head_sha", env.HeadSHA)
	return run, f, nil
}

// failRun records a run that could not start.
func (c *Controller) failRun(ctx context.Context, run preview.Run, err error) error {
	run.State, run.Error, run.FinishedAt = preview.RunFailed, c.errorText(err), c.cfg.Now().UTC()
	if uerr := c.store.UpdateRun(context.WithoutCancel(ctx), run); uerr != nil {
		c.log.Error("record failed run", "run", run.ID, "err", uerr)
	}
	c.runFinished(run)
	return err
}

// finishRun closes the log and journals how the run ended. It returns the
// run's error, replaced by errShutdown when the run was cut short by a stop.
func (c *Controller) finishRun(ctx context.Context, run preview.Run, log io.WriteCloser, runErr error) error {
	if runErr != nil && ctx.Err() != nil {
		runErr = errShutdown
	}
	switch {
	case runErr == nil:
		run.State = preview.RunSucceeded
	case errors.Is(runErr, errShutdown):
		run.State, run.Error = preview.RunInterrupted, runErr.Error()
	default:
		run.State, run.Error = preview.RunFailed, c.errorText(runErr)
	}
	fmt.Fprintf(log, "\n# previewd: run %s %s\n", run.ID, run.State)
	if err := log.Close(); err != nil && runErr == nil {
		c.log.Warn("close run log", "run", run.ID, "err", err)
	}
	run.FinishedAt = c.cfg.Now().UTC()
	if err := c.store.UpdateRun(context.WithoutCancel(ctx), run); err != nil {
		c.log.Error("record run", "run", run.ID, "err", err)
	}
	c.runFinished(run)
	c.log.Info("run finished", "run", run.ID, "state", run.State, "seconds", run.FinishedAt.Sub(run.StartedAt).Seconds())
	return runErr
}

// tail keeps the end of s, where Terraform reports what failed.
func tail(s string) string {
	if len(s) <= maxErrorLength {
		return s
	}
	return "…" + s[len(s)-maxErrorLength:]
}
