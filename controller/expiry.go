package controller

import (
	"context"
	"errors"
	"time"

	preview "github.com/previewd/previewd"
)

// expiry is the service that tears down idle environments: on the leader,
// every sweep, an environment idle too long (preview.Environment.Expired)
// is no longer wanted. The same pass forgets old delivery IDs and expired
// leases.
type expiry struct {
	*core
	retention time.Duration // how long delivery IDs are kept
	every     time.Duration
	ttl       time.Duration // for records without KeepUntil (BackfillKeepUntil)
	maxKeep   time.Duration
}

// run expires environments while this replica leads, until ctx ends.
func (x *expiry) run(ctx context.Context) {
	x.leader.every(ctx, x.every, true, func(ctx context.Context) {
		x.sweep(ctx)
		x.finishedPass("expiry")
	}, nil)
}

// sweep expires idle environments, and prunes delivery IDs and leases.
func (x *expiry) sweep(ctx context.Context) {
	now := x.now()
	envs, err := x.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
	if err != nil {
		x.log.Error("expiry", "err", err)
		return
	}
	for _, env := range envs {
		env.BackfillKeepUntil(x.ttl, x.maxKeep)
		if env.Desired.Present && env.Expired(now) {
			x.expire(ctx, env.Name)
		}
	}
	if _, err := x.store.PruneDeliveries(ctx, now.Add(-x.retention)); err != nil {
		x.log.Error("prune deliveries", "err", err)
	}
	if x.leases.db != nil {
		if _, err := x.leases.db.PruneLeases(ctx); err != nil {
			x.log.Error("prune leases", "err", err)
		}
	}
}

var errUnchanged = errors.New("unchanged")

func (x *expiry) expire(ctx context.Context, name string) {
	_, err := x.store.UpdateEnvironment(ctx, name, func(e *preview.Environment) error {
		e.BackfillKeepUntil(x.ttl, x.maxKeep)
		if !e.Desired.Present || !e.Expired(x.now()) {
			return errUnchanged
		}
		e.Desired.Present = false
		e.Desired.Reason = preview.ReasonExpired
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return
	} else if err != nil {
		x.log.Error("expire", "environment", name, "err", err)
		return
	}
	x.log.Info("environment expired", "environment", name)
	x.runs.add(name)
}
