package controller

import (
	"cmp"
	"context"
	"slices"
	"strings"

	preview "github.com/previewd/previewd"
)

// Budgets caps how many environments may hold resources at once.
type Budgets interface {
	// Budget returns the most live environments repo may have (0: no
	// cap), the most previewd may have in all (0: no cap), and whether the
	// environment idle longest may be torn down to make room.
	Budget(repo string) (repoMax, totalMax int, evict bool)
}

// budgetLease serialises admissions across replicas, so two never both
// take the last slot.
const budgetLease = "previewd:budget"

// admit decides whether env, which holds no resources yet, may be built
// now. When it may, it returns a release to call once the apply's first
// transition is stored (the environment then counts as provisioning).
// When it may not, it records on env that it waits, with its place in
// line, and, when eviction is allowed and nothing is being torn down in
// the full scope already, tears down the environment idle longest there.
func (c *Controller) admit(ctx context.Context, env preview.Environment) (release func(), ok bool) {
	if c.cfg.Budgets == nil || env.HoldsResources() {
		return func() {}, true
	}
	repoMax, totalMax, evict := c.cfg.Budgets.Budget(env.Repo)
	if repoMax <= 0 && totalMax <= 0 {
		return func() {}, true
	}
	c.budgetMu.Lock()
	unlock := c.budgetMu.Unlock
	if c.cfg.Leases != nil {
		lease, held, err := c.cfg.Leases.AcquireLease(ctx, budgetLease, c.cfg.LeaseTTL)
		if err != nil || !held {
			unlock()
			c.runs.addAfter(ctx, env.Name, c.cfg.LeaseTTL/3) // another replica admits now: look again soon
			return nil, false
		}
		unlock = func() {
			if _, err := c.cfg.Leases.ReleaseLease(context.WithoutCancel(ctx), lease); err != nil {
				c.log.Warn("release the budget lease (it will expire)", "err", err)
			}
			c.budgetMu.Unlock()
		}
	}
	live, err := c.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
	if err != nil {
		unlock()
		c.log.Error("budget: load environments", "err", err)
		return nil, false
	}
	inScope := func(scope string, e preview.Environment) bool {
		return scope == "all" || strings.EqualFold(e.Repo, scope)
	}
	for _, b := range []struct {
		scope string
		max   int
	}{{env.Repo, repoMax}, {"all", totalMax}} {
		if b.max <= 0 {
			continue
		}
		holding, freeing, ahead := 0, 0, 0
		now := c.cfg.Now()
		var waiting, idle []preview.Environment
		for _, e := range live {
			if e.Name == env.Name || !inScope(b.scope, e) {
				continue
			}
			switch {
			case e.HoldsResources():
				holding++
				if !e.Desired.Present && (e.Status == preview.StatusDestroying || e.NextAction(now, c.cfg.MaxAttempts) == preview.ActionDestroy) {
					freeing++ // a destroy under way or to be retried; one that gave up frees nothing
				} else if e.Desired.Present && e.Status == preview.StatusReady && !e.Kept() {
					idle = append(idle, e)
				}
			case e.Budget != nil && e.Desired.Present:
				waiting = append(waiting, e)
				if env.Budget == nil || waitsBefore(e, env) {
					ahead++ // room goes first to those in line before env
				}
			}
		}
		if holding+ahead < b.max {
			continue
		}
		unlock()
		c.wait(ctx, env, b.scope, holding, b.max, waiting)
		if evict && freeing == 0 && len(idle) > 0 {
			c.evict(ctx, idle, b.scope, b.max)
		}
		return nil, false
	}
	return unlock, true
}

// wait records that env waits for room in scope, its place in line among
// those waiting there before it, and shows it on the pull request.
func (c *Controller) wait(ctx context.Context, env preview.Environment, scope string, live, max int, waiting []preview.Environment) {
	since := c.cfg.Now().UTC()
	if env.Budget != nil {
		since = env.Budget.Since
	}
	position := 1
	me := env
	me.Budget = &preview.BudgetWait{Since: since}
	for _, w := range waiting {
		if waitsBefore(w, me) {
			position++
		}
	}
	want := preview.BudgetWait{Since: since, Scope: scope, Live: live, Max: max, Position: position}
	if env.Budget != nil && *env.Budget == want {
		return
	}
	_, err := c.store.UpdateEnvironment(ctx, env.Name, func(e *preview.Environment) error {
		if e.HoldsResources() || !e.Desired.Present {
			return errMoved
		}
		e.Budget = &want
		return nil
	})
	if err != nil {
		return
	}
	c.log.Info("waiting for room within the budget", "environment", env.Name, "scope", scope, "live", live, "max", max, "position", position)
	c.notices.add(env.Name)
}

// evict tears down the environment idle longest (its last activity the
// oldest) among idle, to make room in scope, and says why on its pull
// request.
func (c *Controller) evict(ctx context.Context, idle []preview.Environment, scope string, max int) {
	victim := slices.MinFunc(idle, func(a, b preview.Environment) int {
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), strings.Compare(a.Name, b.Name))
	})
	_, err := c.store.UpdateEnvironment(ctx, victim.Name, func(e *preview.Environment) error {
		if !e.Desired.Present || e.Kept() {
			return errMoved
		}
		e.Destroy(preview.ReasonEvicted)
		return nil
	})
	if err != nil {
		return
	}
	c.log.Info("evicted the environment idle longest to make room", "environment", victim.Name, "scope", scope, "max", max)
	c.Nudge(victim.Name)
}

// waitsBefore reports whether a is before b in the line for room (both
// waiting).
func waitsBefore(a, b preview.Environment) bool {
	return a.Budget.Since.Before(b.Budget.Since) || a.Budget.Since.Equal(b.Budget.Since) && a.Name < b.Name
}

// wakeWaiting queues the environments waiting for room, first in line
// first: a destroy just made some.
func (c *Controller) wakeWaiting(ctx context.Context) {
	if c.cfg.Budgets == nil {
		return
	}
	live, err := c.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
	if err != nil {
		return
	}
	var waiting []preview.Environment
	for _, e := range live {
		if e.Budget != nil && e.Desired.Present {
			waiting = append(waiting, e)
		}
	}
	slices.SortFunc(waiting, func(a, b preview.Environment) int {
		return cmp.Or(a.Budget.Since.Compare(b.Budget.Since), strings.Compare(a.Name, b.Name))
	})
	for _, e := range waiting {
		c.runs.add(e.Name)
	}
}
