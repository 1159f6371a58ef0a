package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
)

// apply runs Terraform apply for the environment's newest head. The
// provisioning status and the journal entry are stored before Terraform
// starts, so a crash at any point leaves something a restart recognises.
//
// admitted is called once the provisioning status is stored (or the apply
// did not start): the environment then counts against its budget.
func (r *runLoop) apply(ctx context.Context, env preview.Environment, admitted func()) error {
	sha, gen := env.HeadSHA, env.Desired.Generation
	env, err := r.begin(ctx, env.Name, func(e *preview.Environment) bool {
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
	run, log, err := r.journal.startRun(ctx, env, preview.PhaseApply)
	if err != nil {
		return err
	}
	watch := r.databases.begin(ctx, env)
	applied, runErr := r.prov.Apply(ctx, env, log)
	url, outputs := applied.URL, applied.Outputs
	if runErr == nil {
		// The first apply made the database: watched from now, through
		// the seed that may migrate it.
		made := env
		made.URL, made.Outputs, made.AppliedSHA, made.AppliedGeneration = url, outputs, sha, gen
		watch.made(ctx, made)
	}
	seeded, seedErr := env.Seeded, error(nil)
	if runErr == nil && !env.Seeded && r.checker != nil {
		// Seed before the environment shows as ready, so nobody opens an
		// empty one: the seed gets the new outputs.
		fresh := env
		fresh.URL, fresh.Outputs = url, outputs
		fmt.Fprintf(log, "\n# previewd: seeding %s\n", env.Name)
		seedErr = r.checker.Seed(ctx, fresh, log)
		seeded = seedErr == nil
	}
	runErr = r.journal.finishRun(ctx, run, log, runErr)
	before := env
	env, err = r.transition(context.WithoutCancel(ctx), env.Name, func(e *preview.Environment) {
		e.LastRunID, e.LastRunAt = run.ID, r.now().UTC()
		switch {
		case runErr == nil:
			e.Status, e.URL, e.Outputs, e.Drifted = preview.StatusReady, url, outputs, false
			e.AppliedSHA, e.AppliedGeneration, e.Module = sha, gen, applied.Module
			e.LastError, e.Attempts, e.Transient, e.RetryAt = "", 0, false, time.Time{}
			e.Seeded = seeded
			e.Applied(r.now())
			if seedErr != nil {
				e.LastError = "seed: " + r.journal.errorText(seedErr)
			}
		case errors.Is(runErr, errShutdown):
			e.Status = preview.StatusQueued // the next start applies again
		default:
			r.failed(e, runErr)
		}
	})
	if err != nil {
		watch.applied(ctx, before, false) // stops it; what it saw is kept
	} else {
		watch.applied(ctx, env, runErr == nil)
	}
	if err == nil && runErr == nil {
		r.parity.add(env.Name) // parity is checked beside, not in, the apply slot
	}
	return err
}

// destroy runs Terraform destroy. A failure is retried with exponential
// backoff from RetryBase, up to MaxAttempts; the environment is never
// dropped from the store.
func (r *runLoop) destroy(ctx context.Context, env preview.Environment) error {
	env, err := r.begin(ctx, env.Name, func(e *preview.Environment) bool {
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
	run, log, err := r.journal.startRun(ctx, env, preview.PhaseDestroy)
	if err != nil {
		return err
	}
	if r.checker != nil {
		if err := r.checker.PreDestroy(ctx, env, log); err != nil {
			fmt.Fprintf(log, "# previewd: pre-destroy command failed (destroying anyway): %v\n", err)
			r.log.Warn("pre-destroy command failed; destroying anyway", "environment", env.Name, "err", err)
		}
	}
	runErr := r.journal.finishRun(ctx, run, log, r.prov.Destroy(ctx, env, log))
	_, err = r.transition(context.WithoutCancel(ctx), env.Name, func(e *preview.Environment) {
		e.LastRunID, e.LastRunAt = run.ID, r.now().UTC()
		switch {
		case runErr == nil:
			e.Status, e.URL, e.Outputs = preview.StatusDestroyed, "", nil
			e.AppliedSHA, e.AppliedGeneration, e.LastError, e.Attempts = "", 0, "", 0
			e.Transient, e.RetryAt = false, time.Time{}
			e.Seeded, e.Parity, e.Drifted = false, preview.ParityReport{}, false // a rebuild starts empty
			e.Destroyed(r.now())
		case errors.Is(runErr, errShutdown):
			e.Status = preview.StatusDestroying
		default:
			r.failed(e, runErr)
		}
	})
	if runErr == nil {
		r.admission.roomMade() // stored first: those waiting see the room
	}
	return err
}

// failed records a failed run and when it may be retried: destroys always
// back off and retry, applies only when the failure was transient.
func (r *runLoop) failed(e *preview.Environment, err error) {
	e.Status, e.LastError = preview.StatusFailed, r.journal.errorText(err)
	e.Transient = transient(err)
	e.RetryAt = r.now().Add(r.retryBase << min(e.Attempts, 10))
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

// begin stores the transition that starts a run, if start still holds on
// the stored environment: it returns false when desired state moved since
// the decision, and begin then returns a zero environment and no error, so
// the caller's loop decides again on what is stored now.
func (r *runLoop) begin(ctx context.Context, name string, start func(*preview.Environment) bool) (preview.Environment, error) {
	env, err := r.store.UpdateEnvironment(ctx, name, func(e *preview.Environment) error {
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
	r.notices.add(name)
	return env, nil
}
