package controller

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"

	preview "github.com/previewd/previewd"
)

// Budgets caps how many environments may hold resources at once.
type Budgets interface {
	// Budget returns the caps repo's environments are admitted under.
	Budget(repo string) Budget
}

// Budget is how many environments may hold resources at once, and what
// may be torn down to make room.
type Budget struct {
	RepoMax  int // the most live environments the repository may have (0: no cap)
	TotalMax int // the most previewd may have in all (0: no cap)
	// Evict tears down the environment idle longest to make room: one of
	// the asking repository's own, or, with EvictAcrossRepos, any
	// repository's when the cap over all is the one that is full.
	Evict, EvictAcrossRepos bool
}

// budgetLease serialises admissions across replicas, so two never both
// take the last slot.
const budgetLease = "previewd:budget"

// admission is the service that keeps environments within their budgets:
// an environment that holds nothing is built only when its budget has room
// (admit, called by the run loop), waits in line otherwise, and may have
// the environment idle longest torn down to make room. When the line
// moves (a destroy makes room, or the one in line is admitted), its loop
// queues those in line, first in line first, so each learns its new place
// at once. With no Budgets everything is admitted and it is not started.
type admission struct {
	*core
	caps        Budgets // nil: no caps
	maxAttempts int

	mu    sync.Mutex    // one admission at a time (see admit)
	freed chan struct{} // roomMade's and lineMoved's signal to run
}

// run queues the environments in line each time the line moved, until
// ctx ends.
func (a *admission) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.freed:
			a.wakeWaiting(ctx)
		}
	}
}

// roomMade tells the service that a destroy made room. It never blocks;
// signals that come while it looks are folded into one more look.
func (a *admission) roomMade() { a.lineMoved() }

// lineMoved tells the service that the line for room moved: room was
// made, or an environment in line was admitted and those behind it moved
// up. It never blocks; signals that come while it looks are folded into
// one more look.
func (a *admission) lineMoved() {
	if a.caps == nil {
		return
	}
	select {
	case a.freed <- struct{}{}:
	default:
	}
}

// admit decides whether env, which holds no resources yet, may be built
// now. When it may, it returns a release to call once the apply's first
// transition is stored (the environment then counts as provisioning, and
// out of the line: those that were behind it are queued to learn their
// new place).
// When it may not, it records on env that it waits, with its place in
// line, and, when eviction is allowed and nothing is being torn down in
// the full scope already, tears down the environment idle longest that
// eviction may take there (see Budget).
func (a *admission) admit(ctx context.Context, env preview.Environment) (release func(), ok bool) {
	if a.caps == nil || env.HoldsResources() {
		return func() {}, true
	}
	budget := a.caps.Budget(env.Repo)
	if budget.RepoMax <= 0 && budget.TotalMax <= 0 {
		return func() {}, true
	}
	unlock, ok := a.lock(ctx, env.Name)
	if !ok {
		return nil, false
	}
	live, err := a.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
	if err != nil {
		unlock()
		a.log.Error("budget: load environments", "err", err)
		return nil, false
	}
	for _, b := range []struct {
		scope string
		max   int
	}{{env.Repo, budget.RepoMax}, {"all", budget.TotalMax}} {
		if b.max <= 0 {
			continue
		}
		r := a.measure(env, b.scope, live)
		if r.holding+r.ahead < b.max {
			continue
		}
		unlock()
		a.wait(ctx, env, b.scope, r.holding, b.max, r.waiting)
		if budget.Evict && r.freeing == 0 {
			a.evict(ctx, evictable(r.idle, env.Repo, b.scope == "all" && budget.EvictAcrossRepos), b.scope, b.max)
		}
		return nil, false
	}
	if env.Budget == nil {
		return unlock, true
	}
	return func() {
		unlock()
		a.lineMoved() // after the apply's first transition: it counts as holding, no longer in line
	}, true
}

// lock takes the right to admit, for the environment named name:
// one admission at a time in this process, and across replicas while it
// holds the budget lease. It returns false, with name queued to look again
// soon, when another replica admits now.
func (a *admission) lock(ctx context.Context, name string) (unlock func(), ok bool) {
	a.mu.Lock()
	if a.leases.db == nil {
		return a.mu.Unlock, true
	}
	lease, held, err := a.leases.db.AcquireLease(ctx, budgetLease, a.leases.ttl)
	if err != nil || !held {
		a.mu.Unlock()
		a.runs.addAfter(ctx, name, a.leases.ttl/3)
		return nil, false
	}
	return func() {
		if _, err := a.leases.db.ReleaseLease(context.WithoutCancel(ctx), lease); err != nil {
			a.log.Warn("release the budget lease (it will expire)", "err", err)
		}
		a.mu.Unlock()
	}, true
}

// room is how full one scope of a budget is, as env sees it.
type room struct {
	holding int                   // environments holding resources
	freeing int                   // of those, the ones a destroy under way or due will free
	ahead   int                   // environments in line before env
	waiting []preview.Environment // the environments in line, env aside
	idle    []preview.Environment // ready and not kept: what eviction may take
}

// measure measures scope (a repository, or "all") among live for env. Over
// all, only the environments their own repository has room for are in
// line: one waiting for its repository's cap does not hold up another
// repository's.
func (a *admission) measure(env preview.Environment, scope string, live []preview.Environment) room {
	var r room
	now := a.now()
	for _, e := range live {
		if e.Name == env.Name || scope != "all" && !strings.EqualFold(e.Repo, scope) {
			continue
		}
		switch {
		case e.HoldsResources():
			r.holding++
			if !e.Desired.Present && (e.Status == preview.StatusDestroying || e.NextAction(now, a.maxAttempts) == preview.ActionDestroy) {
				r.freeing++ // a destroy under way or to be retried; one that gave up frees nothing
			} else if e.Desired.Present && e.Status == preview.StatusReady && !e.Kept() {
				r.idle = append(r.idle, e)
			}
		case inLine(e):
			r.waiting = append(r.waiting, e)
		}
	}
	if scope == "all" {
		r.waiting = a.pastRepoCaps(live, r.waiting)
	}
	for _, e := range r.waiting {
		if env.Budget == nil || waitsBefore(e, env) {
			r.ahead++ // room goes first to those in line before env
		}
	}
	return r
}

// pastRepoCaps keeps, of waiting, the environments whose own repository
// has room for them, first in line first: the others wait for their
// repository, not for room over all.
func (a *admission) pastRepoCaps(live, waiting []preview.Environment) []preview.Environment {
	taken := map[string]int{} // by repository: slots held, then promised to those in line
	for _, e := range live {
		if e.HoldsResources() {
			taken[strings.ToLower(e.Repo)]++
		}
	}
	slices.SortFunc(waiting, lineOrder)
	var past []preview.Environment
	for _, e := range waiting {
		repo := strings.ToLower(e.Repo)
		if max := a.caps.Budget(e.Repo).RepoMax; max <= 0 || taken[repo] < max {
			past = append(past, e)
		}
		taken[repo]++
	}
	return past
}

// evictable returns the environments of idle that eviction may take for an
// environment of repo: the repository's own, or every one when across.
func evictable(idle []preview.Environment, repo string, across bool) []preview.Environment {
	if across {
		return idle
	}
	return slices.DeleteFunc(slices.Clone(idle), func(e preview.Environment) bool { return !strings.EqualFold(e.Repo, repo) })
}

// wait records that env waits for room in scope, its place in line among
// those waiting there before it, and shows it on the pull request.
func (a *admission) wait(ctx context.Context, env preview.Environment, scope string, live, max int, waiting []preview.Environment) {
	since := a.now().UTC()
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
	_, err := a.store.UpdateEnvironment(ctx, env.Name, func(e *preview.Environment) error {
		if e.HoldsResources() || !e.Desired.Present {
			return errMoved
		}
		e.Budget = &want
		return nil
	})
	if err != nil {
		return
	}
	a.log.Info("waiting for room within the budget", "environment", env.Name, "scope", scope, "live", live, "max", max, "position", position)
	a.notices.add(env.Name)
}

// evict tears down the environment idle longest (its last activity the
// oldest) among idle, to make room in scope, and says why on its pull
// request.
func (a *admission) evict(ctx context.Context, idle []preview.Environment, scope string, max int) {
	if len(idle) == 0 {
		return
	}
	victim := slices.MinFunc(idle, func(x, y preview.Environment) int {
		return cmp.Or(x.ExpiresAt.Compare(y.ExpiresAt), strings.Compare(x.Name, y.Name))
	})
	_, err := a.store.UpdateEnvironment(ctx, victim.Name, func(e *preview.Environment) error {
		if !e.Desired.Present || e.Kept() {
			return errMoved
		}
		e.Destroy(preview.ReasonEvicted)
		return nil
	})
	if err != nil {
		return
	}
	a.log.Info("evicted the environment idle longest to make room", "environment", victim.Name, "scope", scope, "max", max)
	a.runs.add(victim.Name)
}

// inLine reports whether e waits for room within a budget: it was
// refused room, is still wanted, holds nothing, and waits for nothing
// else. A head whose required checks failed is failed, and out of line
// until they pass: it would not take the room.
func inLine(e preview.Environment) bool {
	return e.Budget != nil && e.Desired.Present && e.Status == preview.StatusQueued && !e.HoldsResources()
}

// lineOrder orders environments in line for room (both waiting): the
// longest waiting first.
func lineOrder(a, b preview.Environment) int {
	return cmp.Or(a.Budget.Since.Compare(b.Budget.Since), strings.Compare(a.Name, b.Name))
}

// waitsBefore reports whether a is before b in the line for room (both
// waiting).
func waitsBefore(a, b preview.Environment) bool { return lineOrder(a, b) < 0 }

// wakeWaiting queues the environments waiting for room, first in line
// first: a destroy just made some.
func (a *admission) wakeWaiting(ctx context.Context) {
	if a.caps == nil {
		return
	}
	live, err := a.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
	if err != nil {
		return
	}
	var waiting []preview.Environment
	for _, e := range live {
		if inLine(e) {
			waiting = append(waiting, e)
		}
	}
	slices.SortFunc(waiting, lineOrder)
	for _, e := range waiting {
		a.runs.add(e.Name)
	}
}
