package controller

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// ProductionConfig tunes the watch of production. Watcher nil leaves the
// service out.
type ProductionConfig struct {
	Watcher ProductionWatcher
	Store   ProductionStore
	Issues  ProductionIssues // each repository's drift issue; nil: none
}

// ProductionWatcher looks at production read-only.
type ProductionWatcher interface {
	// Watched is each watched repository's interval between looks.
	Watched() map[string]time.Duration
	// Watch looks at repo's production and says what it found; a look
	// that failed says why in Error. It blocks until Terraform is done or
	// ctx ends.
	Watch(ctx context.Context, repo string) preview.ProductionWatch
}

// ProductionStore keeps the watches.
type ProductionStore interface {
	RecordProductionWatch(ctx context.Context, w preview.ProductionWatch) error
	FindProductionWatches(ctx context.Context, f preview.ProductionWatchFilter) ([]preview.ProductionWatch, error)
}

// ProductionIssues keeps each repository's production-drift issue
// showing its last watch, and returns its number (see
// github.Client.SyncProductionIssue).
type ProductionIssues interface {
	SyncProductionIssue(ctx context.Context, w preview.ProductionWatch) (int, error)
}

// ProductionMetrics is told of each watch, when Config.Metrics has it.
type ProductionMetrics interface {
	ProductionWatched(repo string, findings int, failed bool)
}

// production is the service that watches production: on the leader, each
// watched repository's production is looked at once its interval has
// passed since its last watch (stored: a restart or a new leader goes on
// from there), one repository at a time, in a run slot (a watch is a
// Terraform run like any other); each look is stored and its issue
// synced. A failed look is stored with why, and never blocks previews: it
// holds one run slot for the length of its plans at most.
type production struct {
	*core
	cfg     ProductionConfig
	slots   *slots
	metrics Metrics
	every   time.Duration

	mu     sync.Mutex
	wanted chan struct{} // a watch asked for out of schedule (WatchProduction)
	due    map[string]bool
}

func (p *production) run(ctx context.Context) {
	p.leader.every(ctx, p.every, true, p.pass, p.wanted)
}

// ask has repo's production looked at on the next pass, whatever its
// interval. It never blocks.
func (p *production) ask(repo string) {
	p.mu.Lock()
	p.due[repo] = true
	p.mu.Unlock()
	select {
	case p.wanted <- struct{}{}:
	default:
	}
}

// pass watches each repository that is due.
func (p *production) pass(ctx context.Context) {
	watched := p.cfg.Watcher.Watched()
	for _, repo := range slices.Sorted(maps.Keys(watched)) {
		if ctx.Err() != nil {
			return
		}
		last, err := p.last(ctx, repo)
		if err != nil {
			p.log.Error("production: read the last watch", "repo", repo, "err", err)
			continue
		}
		p.mu.Lock()
		asked := p.due[repo]
		delete(p.due, repo)
		p.mu.Unlock()
		interval := watched[repo]
		if !asked && (interval <= 0 || (!last.At.IsZero() && p.now().Sub(last.At) < interval)) {
			continue
		}
		p.watch(ctx, repo, last)
	}
	p.finishedPass("production")
}

// last is repo's last watch; the zero watch when there is none.
func (p *production) last(ctx context.Context, repo string) (preview.ProductionWatch, error) {
	ws, err := p.cfg.Store.FindProductionWatches(ctx, preview.ProductionWatchFilter{Repo: repo, Limit: 1})
	if err != nil || len(ws) == 0 {
		return preview.ProductionWatch{}, err
	}
	return ws[0], nil
}

// watch looks at repo's production in a run slot, syncs its issue and
// stores the look.
func (p *production) watch(ctx context.Context, repo string, last preview.ProductionWatch) {
	release, ok := p.slots.take(ctx)
	if !ok {
		return
	}
	w := p.cfg.Watcher.Watch(ctx, repo)
	release()
	if ctx.Err() != nil {
		return // cut short by a stop: not a finding
	}
	w.Repo, w.Issue = repo, last.Issue
	if p.cfg.Issues != nil && !w.Failed() {
		n, err := p.cfg.Issues.SyncProductionIssue(ctx, w)
		if err != nil {
			p.log.Error("production: sync the drift issue", "repo", repo, "err", err)
		} else {
			w.Issue = n
		}
	}
	if err := p.cfg.Store.RecordProductionWatch(context.WithoutCancel(ctx), w); err != nil {
		p.log.Error("production: store the watch", "repo", repo, "err", err)
	}
	if m, ok := p.metrics.(ProductionMetrics); ok {
		m.ProductionWatched(repo, len(w.Findings), w.Failed())
	}
	if w.Failed() {
		p.log.Warn("production: watch failed", "repo", repo, "err", w.Error, "took", w.Took.Round(time.Millisecond))
		return
	}
	p.log.Info("production: watched", "repo", repo, "findings", len(w.Findings), "ignored", w.Ignored, "issue", w.Issue, "took", w.Took.Round(time.Millisecond))
}

// slots bounds the Terraform runs of this process: the run workers and
// the production watch take one each.
type slots struct{ c chan struct{} }

func newSlots(n int) *slots { return &slots{c: make(chan struct{}, n)} }

// take waits for a slot; ok is false when ctx ended first. Nil slots
// bound nothing.
func (s *slots) take(ctx context.Context) (release func(), ok bool) {
	if s == nil {
		return func() {}, ctx.Err() == nil
	}
	select {
	case s.c <- struct{}{}:
		return func() { <-s.c }, true
	case <-ctx.Done():
		return nil, false
	}
}
