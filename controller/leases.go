package controller

import (
	"context"
	"errors"
	"log/slog"
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
	// Holder is the name this replica takes leases under.
	Holder() string
	// Holding reports whether holder holds a lease that has not expired:
	// every replica holds its presence lease while it runs, so false
	// means it stopped.
	Holding(ctx context.Context, holder string) (bool, error)
}

// leaderLease is the lease of the replica that runs the loops that must run
// once: resync, module polling, drift schedule, redelivery. Environment
// names are DNS labels, so no environment can be called so.
const (
	leaderLease   = "previewd:leader"
	commandsLease = "previewd:commands"
	// presenceLease prefixes the lease each replica holds, under its own
	// name, for as long as it runs: the others ask whether it is alive
	// (Holding) before doing work it kept for itself, such as the parity
	// check of what it applied.
	presenceLease = "previewd:replica:"
)

// leaser holds the leases of this process's work, renewing each while it
// is used; with no Leases, this process holds everything.
type leaser struct {
	db  Leases // nil: this process holds everything
	ttl time.Duration
	log *slog.Logger

	mu        sync.Mutex
	held      map[string]*heldLease    // leases this process holds, by name
	acquiring map[string]chan struct{} // names being asked of the database, closed when answered
}

func newLeaser(db Leases, ttl time.Duration, log *slog.Logger) *leaser {
	return &leaser{db: db, ttl: ttl, log: log, held: map[string]*heldLease{}, acquiring: map[string]chan struct{}{}}
}

// heldLease is a lease this process holds, shared by its workers that use
// the same name at once (a run and the comment it changes).
type heldLease struct {
	lease preview.Lease
	refs  int
	lost  context.Context    // done when the lease could not be renewed
	lose  context.CancelFunc // ends lost
	stop  chan struct{}      // closed to stop renewing
	done  chan struct{}      // closed when renewing stopped
}

// leased runs fn holding name's lease, with a context that carries the
// lease (fencing the store's writes) and is cancelled if the lease is
// lost. It returns false without running fn when another replica holds the
// name: that replica is told someone asked, and calls again when it lets
// go.
func (l *leaser) leased(ctx context.Context, name string, again func(), fn func(context.Context)) bool {
	if l.db == nil {
		fn(ctx)
		return true
	}
	h, err := l.hold(ctx, name)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Error("acquire lease; trying again", "name", name, "err", err)
			time.AfterFunc(l.ttl/3, again)
		}
		return false
	}
	if h == nil {
		return false // another replica has it
	}
	lctx, cancel := context.WithCancel(preview.WithLease(ctx, h.lease))
	stopWatching := context.AfterFunc(h.lost, cancel)
	fn(lctx)
	stopWatching()
	cancel()
	l.unhold(ctx, h, again)
	return true
}

// hold takes name's lease, or shares it when this process holds it
// already; it returns nil when another replica has it. The database is
// asked without the process's lease lock held: one slow acquisition does
// not hold up the others, and workers asking for the same name meanwhile
// wait for its outcome.
func (l *leaser) hold(ctx context.Context, name string) (*heldLease, error) {
	for {
		l.mu.Lock()
		if h := l.held[name]; h != nil {
			h.refs++
			l.mu.Unlock()
			return h, nil
		}
		if wait, busy := l.acquiring[name]; busy {
			l.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		l.acquiring[name] = done
		l.mu.Unlock()
		h, err := l.acquire(ctx, name)
		l.mu.Lock()
		delete(l.acquiring, name)
		if h != nil {
			l.held[name] = h
		}
		l.mu.Unlock()
		close(done)
		return h, err
	}
}

// acquire asks the database for name's lease and, when it is granted,
// starts renewing it; unhold stops the renewal and waits for it.
func (l *leaser) acquire(ctx context.Context, name string) (*heldLease, error) {
	sent := time.Now()
	actx, cancel := context.WithTimeout(ctx, l.ttl/3)
	lease, ok, err := l.db.AcquireLease(actx, name, l.ttl)
	cancel()
	if err != nil || !ok {
		return nil, err
	}
	lost, lose := context.WithCancel(context.Background()) // a signal alone: no work runs under it
	h := &heldLease{lease: lease, refs: 1, lost: lost, lose: lose, stop: make(chan struct{}), done: make(chan struct{})}
	for _, r := range lease.Interrupted {
		l.log.Warn("took over an environment whose replica stopped renewing its lease", "environment", name, "run", r.ID, "phase", r.Phase)
	}
	go l.renew(h, sent) // unhold waits for it (h.done)
	return h, nil
}

// unhold lets go of a shared lease; the last user releases it, and looks
// at the name again (again) when someone asked for it meanwhile.
func (l *leaser) unhold(ctx context.Context, h *heldLease, again func()) {
	l.mu.Lock()
	h.refs--
	last := h.refs == 0
	if last {
		delete(l.held, h.lease.Name)
	}
	l.mu.Unlock()
	if !last {
		return
	}
	close(h.stop)
	<-h.done
	h.lose()
	asked, err := l.db.ReleaseLease(context.WithoutCancel(ctx), h.lease)
	if err != nil {
		l.log.Warn("release lease (it will expire)", "name", h.lease.Name, "err", err)
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
func (l *leaser) renew(h *heldLease, acquired time.Time) {
	defer close(h.done)
	t := time.NewTicker(l.ttl / 6)
	defer t.Stop()
	lastSent := acquired // the sending of the last acquisition or renewal that succeeded
	for {
		giveUp := lastSent.Add(l.ttl / 3)
		wait := time.NewTimer(time.Until(giveUp))
		select {
		case <-h.stop:
			wait.Stop()
			return
		case <-wait.C:
			l.giveUp(h, "lease not renewed in time")
			return
		case <-t.C:
			wait.Stop()
		}
		sent := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), giveUp)
		err := l.db.RenewLease(ctx, h.lease, l.ttl)
		cancel()
		switch {
		case err == nil:
			lastSent = sent
		case errors.Is(err, preview.ErrLeaseLost), !time.Now().Before(giveUp):
			l.giveUp(h, err.Error())
			return
		default:
			l.log.Warn("renew lease", "name", h.lease.Name, "err", err)
		}
	}
}

// giveUp tells h's users the lease is lost, and waits for them to stop.
func (l *leaser) giveUp(h *heldLease, why string) {
	l.log.Warn("lease lost: stopping its work", "name", h.lease.Name, "why", why)
	h.lose()
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
