package controller

import (
	"context"
	"sync"
	"time"
)

// leadership tells the loops that must run once whether this replica runs
// them now.
type leadership struct {
	mu      sync.Mutex
	leading bool
	gained  chan struct{} // closed when this replica becomes the leader
}

func newLeadership(leading bool) *leadership {
	return &leadership{leading: leading, gained: make(chan struct{})}
}

func (l *leadership) set(leading bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if leading && !l.leading {
		close(l.gained)
		l.gained = make(chan struct{})
	}
	l.leading = leading
}

// state returns whether this replica leads, and a channel closed when it
// next becomes the leader.
func (l *leadership) state() (bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leading, l.gained
}

// every runs fn every interval, and at once when this replica becomes the
// leader (at start, for a lone previewd), while this replica leads. Each
// extra signal runs it too, leader or not: a push received here. It
// returns when ctx ends.
func (l *leadership) every(ctx context.Context, interval time.Duration, atStart bool, fn func(context.Context), extra <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	leading, gained := l.state()
	if atStart && leading {
		fn(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-gained:
		case <-extra:
			fn(ctx)
			continue
		}
		if leading, gained = l.state(); leading {
			fn(ctx)
		}
	}
}

// elector is the service that keeps trying to become the leader, and
// while it is, keeps the leader lease; another replica takes over within
// LeaseTTL of this one dying. It also holds this replica's presence lease
// while it runs. It runs only with Leases: a lone previewd leads from the
// start.
type elector struct {
	*core
}

func (e *elector) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { e.present(ctx) })
	defer wg.Wait()
	for {
		e.leases.leased(ctx, leaderLease, func() {}, func(lctx context.Context) {
			e.log.Info("leading: resync, module polling, drift schedule and redelivery run here")
			e.leader.set(true)
			<-lctx.Done()
			e.leader.set(false)
			if ctx.Err() == nil {
				e.log.Warn("lost the leader lease")
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(e.leases.ttl / 3):
		}
	}
}

// present holds this replica's presence lease until ctx ends, taking it
// again if it is lost (the database unreachable for a while).
func (e *elector) present(ctx context.Context) {
	name := presenceLease + e.leases.db.Holder()
	for {
		e.leases.leased(ctx, name, func() {}, func(lctx context.Context) { <-lctx.Done() })
		select {
		case <-ctx.Done():
			return
		case <-time.After(e.leases.ttl / 3):
		}
	}
}
