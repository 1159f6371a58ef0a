package preview

import (
	"context"
	"errors"
)

// Lease is one replica's exclusive hold on a name (an environment's, or a
// loop's) in a store several replicas share. It lasts until it expires
// unless renewed. Token is the fence: it grows with every new holder, so a
// write made under a lease that has since been taken by another replica
// is refused (ErrLeaseLost) instead of overwriting the new holder's work.
type Lease struct {
	Name   string
	Holder string // the replica holding it
	Token  int64
	// Interrupted are the runs of the name left running by a holder whose
	// lease expired: they were marked interrupted when this lease was taken.
	Interrupted []Run
}

// ErrLeaseLost is returned by a write made under a lease (WithLease) that
// is no longer held, and by renewing such a lease.
var ErrLeaseLost = errors.New("lease lost: another replica holds it now")

type leaseKey struct{}

// WithLease returns ctx carrying lease: a store shared by replicas fences
// every write of the lease's environment and of its runs made with it.
func WithLease(ctx context.Context, lease Lease) context.Context {
	return context.WithValue(ctx, leaseKey{}, lease)
}

// LeaseFrom returns the lease ctx carries, if any.
func LeaseFrom(ctx context.Context) (Lease, bool) {
	l, ok := ctx.Value(leaseKey{}).(Lease)
	return l, ok
}
