package controller

import (
	"context"
	"errors"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// Leases let replicas sharing a store divide the work: an environment's
// runs, comment and checks, and each loop that must run once, belong to the
// replica holding the name's lease. Nil (one previewd on a bbolt file)
// means this process holds everything.
type Leases interface {
	// AcquireLease takes name's lease for ttl, or returns false when
	// another holder has it; the request is then remembered, and that
	// holder's ReleaseLease reports it.
	AcquireLease(ctx context.Context, name string, ttl time.Duration) (preview.Lease, bool, error)
	// RenewLease extends a held lease by ttl, or returns
	// preview.ErrLeaseLost when another replica took it.
	RenewLease(ctx context.Context, lease preview.Lease, ttl time.Duration) error
	// ReleaseLease gives the lease up and reports whether someone asked
	// for the name while it was held.
	ReleaseLease(ctx context.Context, lease preview.Lease) (asked bool, err error)
	// PruneLeases removes leases whose holders let them expire.
	PruneLeases(ctx context.Context) (int, error)
}

// leaderLease is the lease of the replica that runs the loops that must run
// once: resync, module polling, drift schedule, redelivery. Environment
// names are DNS labels, so no environment can be called so.
const (
	leaderLease   = "previewd:leader"
	commandsLease = "previewd:commands"
)

// heldLease is a lease this process holds, shared by its workers that use
// the same name at once (a run and the comment it changes).
type heldLease struct {
	lease preview.Lease
	refs  int
	lost  chan struct{} // closed when the lease could not be renewed
	stop  chan struct{} // closed to stop renewing
	done  chan struct{} // closed when renewing stopped
}

// leased runs fn holding name's lease, with a context that carries the
// lease (fencing the store's writes) and is cancelled if the lease is
// lost. It returns without running fn when another replica holds the name:
// that replica is told someone asked, and calls again when it lets go.
func (c *Controller) leased(ctx context.Context, name string, again func(), fn func(context.Context)) {
	if c.cfg.Leases == nil {
		fn(ctx)
		return
	}
	h, err := c.hold(ctx, name)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error("acquire lease; trying again", "name", name, "err", err)
			time.AfterFunc(c.cfg.LeaseTTL/3, again)
		}
		return
	}
	if h == nil {
		return // another replica has it
	}
	lctx, cancel := context.WithCancel(preview.WithLease(ctx, h.lease))
	go func() {
		select {
		case <-h.lost:
			c.log.Warn("lease lost: stopping its work", "name", name)
			cancel()
		case <-lctx.Done():
		}
	}()
	fn(lctx)
	cancel()
	c.unhold(ctx, h, again)
}

// hold takes name's lease, or shares it when this process holds it
// already; it returns nil when another replica has it.
func (c *Controller) hold(ctx context.Context, name string) (*heldLease, error) {
	c.leasesMu.Lock()
	defer c.leasesMu.Unlock()
	if h := c.held[name]; h != nil {
		h.refs++
		return h, nil
	}
	lease, ok, err := c.cfg.Leases.AcquireLease(ctx, name, c.cfg.LeaseTTL)
	if err != nil || !ok {
		return nil, err
	}
	for _, r := range lease.Interrupted {
		c.log.Warn("took over an environment whose replica stopped renewing its lease", "environment", name, "run", r.ID, "phase", r.Phase)
	}
	h := &heldLease{lease: lease, refs: 1, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	c.held[name] = h
	go c.renew(h)
	return h, nil
}

// unhold lets go of a shared lease; the last user releases it, and looks
// at the name again (again) when someone asked for it meanwhile.
func (c *Controller) unhold(ctx context.Context, h *heldLease, again func()) {
	c.leasesMu.Lock()
	h.refs--
	last := h.refs == 0
	if last {
		delete(c.held, h.lease.Name)
	}
	c.leasesMu.Unlock()
	if !last {
		return
	}
	close(h.stop)
	<-h.done
	asked, err := c.cfg.Leases.ReleaseLease(context.WithoutCancel(ctx), h.lease)
	if err != nil {
		c.log.Warn("release lease (it will expire)", "name", h.lease.Name, "err", err)
	}
	if (asked || err != nil) && ctx.Err() == nil {
		again()
	}
}

// renew keeps h's lease alive until stopped. It gives the lease up as lost
// when another replica took it, or when renewing failed for as long as the
// lease lasts (the database unreachable: another replica may take it).
func (c *Controller) renew(h *heldLease) {
	defer close(h.done)
	ttl := c.cfg.LeaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), ttl/3)
		err := c.cfg.Leases.RenewLease(ctx, h.lease, ttl)
		cancel()
		switch {
		case err == nil:
			renewed = time.Now()
			continue
		case errors.Is(err, preview.ErrLeaseLost), time.Since(renewed) > ttl:
			close(h.lost)
			<-h.stop
			return
		default:
			c.log.Warn("renew lease", "name", h.lease.Name, "err", err)
		}
	}
}

// replica names the replica holding the lease ctx carries, if any.
func replica(ctx context.Context) string {
	lease, _ := preview.LeaseFrom(ctx)
	return lease.Holder
}

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

// Leading reports whether this replica runs the loops that must run once.
func (c *Controller) Leading() bool {
	leading, _ := c.leader.state()
	return leading
}

// leaderLoop keeps trying to become the leader, and while it is, keeps the
// lease; another replica takes over within LeaseTTL of this one dying.
func (c *Controller) leaderLoop(ctx context.Context) {
	for {
		c.leased(ctx, leaderLease, func() {}, func(lctx context.Context) {
			c.log.Info("leading: resync, module polling, drift schedule and redelivery run here")
			c.leader.set(true)
			<-lctx.Done()
			c.leader.set(false)
			if ctx.Err() == nil {
				c.log.Warn("lost the leader lease")
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.cfg.LeaseTTL / 3):
		}
	}
}

// elected runs fn every interval, and at once when this replica becomes
// the leader (at start, for a lone previewd), while this replica leads.
// Each extra signal runs it too, leader or not: a push received here.
func (c *Controller) elected(ctx context.Context, interval time.Duration, atStart bool, fn func(context.Context), extra <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	leading, gained := c.leader.state()
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
		if leading, gained = c.leader.state(); leading {
			fn(ctx)
		}
	}
}
