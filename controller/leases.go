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
// lost. It returns false without running fn when another replica holds the
// name: that replica is told someone asked, and calls again when it lets
// go.
func (c *Controller) leased(ctx context.Context, name string, again func(), fn func(context.Context)) bool {
	if c.cfg.Leases == nil {
		fn(ctx)
		return true
	}
	h, err := c.hold(ctx, name)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error("acquire lease; trying again", "name", name, "err", err)
			time.AfterFunc(c.cfg.LeaseTTL/3, again)
		}
		return false
	}
	if h == nil {
		return false // another replica has it
	}
	lctx, cancel := context.WithCancel(preview.WithLease(ctx, h.lease))
	go func() {
		select {
		case <-h.lost:
			cancel()
		case <-lctx.Done():
		}
	}()
	fn(lctx)
	cancel()
	c.unhold(ctx, h, again)
	return true
}

// hold takes name's lease, or shares it when this process holds it
// already; it returns nil when another replica has it. The database is
// asked without the process's lease lock held: one slow acquisition does
// not hold up the others, and workers asking for the same name meanwhile
// wait for its outcome.
func (c *Controller) hold(ctx context.Context, name string) (*heldLease, error) {
	for {
		c.leasesMu.Lock()
		if h := c.held[name]; h != nil {
			h.refs++
			c.leasesMu.Unlock()
			return h, nil
		}
		if wait, busy := c.acquiring[name]; busy {
			c.leasesMu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		c.acquiring[name] = done
		c.leasesMu.Unlock()

		sent := time.Now()
		actx, cancel := context.WithTimeout(ctx, c.cfg.LeaseTTL/3)
		lease, ok, err := c.cfg.Leases.AcquireLease(actx, name, c.cfg.LeaseTTL)
		cancel()
		var h *heldLease
		if err == nil && ok {
			h = &heldLease{lease: lease, refs: 1, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
			for _, r := range lease.Interrupted {
				c.log.Warn("took over an environment whose replica stopped renewing its lease", "environment", name, "run", r.ID, "phase", r.Phase)
			}
		}
		c.leasesMu.Lock()
		delete(c.acquiring, name)
		if h != nil {
			c.held[name] = h
		}
		c.leasesMu.Unlock()
		close(done)
		if h != nil {
			go c.renew(h, sent)
		}
		return h, err
	}
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

// renew keeps h's lease alive until stopped, renewing it every
// LeaseTTL/6. It gives the lease up as lost when another replica took it,
// or LeaseTTL/3 after the last renewal that succeeded was sent (the
// database unreachable). The database let the lease run a whole LeaseTTL
// from a moment after that send, so the work under the lease is stopped
// with two thirds of a lease to spare: a run's Terraform is interrupted at
// once and its process group killed LeaseTTL/3 later (see StopDelay),
// before another replica may take the lease over.
func (c *Controller) renew(h *heldLease, acquired time.Time) {
	defer close(h.done)
	ttl := c.cfg.LeaseTTL
	t := time.NewTicker(ttl / 6)
	defer t.Stop()
	lastSent := acquired // the sending of the last acquisition or renewal that succeeded
	for {
		giveUp := lastSent.Add(ttl / 3)
		wait := time.NewTimer(time.Until(giveUp))
		select {
		case <-h.stop:
			wait.Stop()
			return
		case <-wait.C:
			c.giveUp(h, "lease not renewed in time")
			return
		case <-t.C:
			wait.Stop()
		}
		sent := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), giveUp)
		err := c.cfg.Leases.RenewLease(ctx, h.lease, ttl)
		cancel()
		switch {
		case err == nil:
			lastSent = sent
		case errors.Is(err, preview.ErrLeaseLost), !time.Now().Before(giveUp):
			c.giveUp(h, err.Error())
			return
		default:
			c.log.Warn("renew lease", "name", h.lease.Name, "err", err)
		}
	}
}

// giveUp tells h's users the lease is lost, and waits for them to stop.
func (c *Controller) giveUp(h *heldLease, why string) {
	c.log.Warn("lease lost: stopping its work", "name", h.lease.Name, "why", why)
	close(h.lost)
	<-h.stop
}

// StopDelay is how long a Terraform interrupted because its lease was lost
// may take to stop before its process group is killed: LeaseTTL/3, so it
// has stopped LeaseTTL/3 before the lease can expire (see renew).
func StopDelay(leaseTTL time.Duration) time.Duration { return leaseTTL / 3 }

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
