package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	preview "github.com/previewd/previewd"
)

// core is what every service shares: the store, the clock and the log, the
// two queues that join the services (environments to reconcile, and
// environments whose pull request must be written), the leases and the
// leadership.
type core struct {
	store   Store
	log     *slog.Logger
	now     func() time.Time
	runs    *workQueue // environments to reconcile
	notices *workQueue // environments whose pull request must be written
	leases  *leaser
	leader  *leadership
	passed  func(service string) // Config.Passed; nil: nobody is told
}

func newCore(store Store, cfg Config) *core {
	log := cfg.Logger.With("component", "controller")
	return &core{
		store:   store,
		log:     log,
		now:     cfg.Now,
		runs:    newWorkQueue(),
		notices: newWorkQueue(),
		leases:  newLeaser(cfg.Leases, cfg.LeaseTTL, log),
		leader:  newLeadership(cfg.Leases == nil),
		passed:  cfg.Passed,
	}
}

// finishedPass tells Config.Passed, if set, that service finished a
// scheduled pass.
func (c *core) finishedPass(service string) {
	if c.passed != nil {
		c.passed(service)
	}
}

// errMoved aborts a change of an environment when what it was decided on
// moved meanwhile.
var errMoved = errors.New("desired state moved")

// transition stores a change of the environment and queues its comment.
func (c *core) transition(ctx context.Context, name string, fn func(*preview.Environment)) (preview.Environment, error) {
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
