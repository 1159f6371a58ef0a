package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
)

// Leases give each environment's runs, and each loop that must run once,
// to one replica at a time. A lease is a row naming its holder, a fencing
// token drawn from a sequence (so it only grows, even across a release)
// and an expiry by the database's clock. A holder renews it while it
// works; a replica that dies stops renewing, and once the lease expires
// any other replica may take it. Every write a run makes carries its lease
// (preview.WithLease) and is refused when the token is no longer the
// row's: a replica that lost its lease cannot overwrite its successor.

// defaultHolder names this process among the replicas.
func defaultHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Holder is the name this replica takes leases under.
func (db *DB) Holder() string { return db.opts.Holder }

// AcquireLease takes the lease on name for ttl, when nobody holds it or its
// holder let it expire. It returns false when another holder has it (this
// process too, under another lease): the request is then remembered on the
// lease, and ReleaseLease tells its holder someone asked. Taking an
// environment's lease marks the runs of it still recorded as running as
// interrupted: their replica no longer holds the lease, so they are dead
// or fenced off; they are returned in the lease.
func (db *DB) AcquireLease(ctx context.Context, name string, ttl time.Duration) (preview.Lease, bool, error) {
	for range 3 { // a lease released between the two statements is tried again
		var lease preview.Lease
		taken, asked := false, false
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			lease = preview.Lease{Name: name, Holder: db.opts.Holder}
			err := tx.QueryRow(ctx, `INSERT INTO leases (name, holder, token, expires_at)
				VALUES ($1, $2, nextval('lease_tokens'), now() + $3 * interval '1 microsecond')
				ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, token = EXCLUDED.token,
					expires_at = EXCLUDED.expires_at, pending = false
				WHERE leases.expires_at <= now()
				RETURNING token`, name, db.opts.Holder, ttl.Microseconds()).Scan(&lease.Token)
			if errors.Is(err, pgx.ErrNoRows) {
				tag, err := tx.Exec(ctx, "UPDATE leases SET pending = true WHERE name = $1 AND expires_at > now()", name)
				asked = tag.RowsAffected() == 1
				return err
			} else if err != nil {
				return err
			}
			taken = true
			lease.Interrupted, err = interruptRuns(ctx, tx, db.now(),
				"the replica running it stopped renewing its lease", "AND environment = $1", name)
			return err
		})
		if err != nil {
			return preview.Lease{}, false, fmt.Errorf("acquire lease %s: %w", name, err)
		}
		if taken {
			return lease, true, nil
		}
		if asked {
			return preview.Lease{}, false, nil
		}
	}
	return preview.Lease{}, false, nil
}

// RenewLease extends lease by ttl from now. It returns preview.ErrLeaseLost
// when another holder took it (after it expired).
func (db *DB) RenewLease(ctx context.Context, lease preview.Lease, ttl time.Duration) error {
	tag, err := db.pool.Exec(ctx, "UPDATE leases SET expires_at = now() + $3 * interval '1 microsecond' WHERE name = $1 AND token = $2",
		lease.Name, lease.Token, ttl.Microseconds())
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", lease.Name, err)
	}
	if tag.RowsAffected() == 0 {
		return preview.ErrLeaseLost
	}
	return nil
}

// ReleaseLease gives lease up. It reports whether another replica (or
// another worker of this one) asked for the name while it was held: the
// caller then looks at the name again, since what was asked for may have
// come after the holder last looked.
func (db *DB) ReleaseLease(ctx context.Context, lease preview.Lease) (asked bool, err error) {
	err = db.pool.QueryRow(ctx, "DELETE FROM leases WHERE name = $1 AND token = $2 RETURNING pending", lease.Name, lease.Token).Scan(&asked)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil // taken over: look again
	} else if err != nil {
		return false, fmt.Errorf("release lease %s: %w", lease.Name, err)
	}
	return asked, nil
}

// PruneLeases removes leases that expired before now: their holders died.
// A later holder's runs were already interrupted when it took them.
func (db *DB) PruneLeases(ctx context.Context) (int, error) {
	tag, err := db.pool.Exec(ctx, "DELETE FROM leases WHERE expires_at <= now()")
	return int(tag.RowsAffected()), err
}

// Holding reports whether holder holds a lease that has not expired, by
// the database's clock.
func (db *DB) Holding(ctx context.Context, holder string) (bool, error) {
	var holding bool
	err := db.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM leases WHERE holder = $1 AND expires_at > now())", holder).Scan(&holding)
	return holding, err
}

// fence refuses, with preview.ErrLeaseLost, a write of name's records made
// in tx under a lease (carried by ctx) that is no longer the one held. The
// row is share-locked until tx ends, so the lease cannot change hands
// before the write commits.
func fence(ctx context.Context, tx pgx.Tx, name string) error {
	lease, ok := preview.LeaseFrom(ctx)
	if !ok || lease.Name != name {
		return nil
	}
	var token int64
	err := tx.QueryRow(ctx, "SELECT token FROM leases WHERE name = $1 FOR SHARE", name).Scan(&token)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && token != lease.Token {
		return fmt.Errorf("%s: %w", name, preview.ErrLeaseLost)
	}
	return err
}

// workChannel is the channel replicas hear of desired-state changes on.
const workChannel = "previewd_work"

// notifyQuery tells the replicas listening on a channel a name.
const notifyQuery = "SELECT pg_notify($1, $2)"

// notifyWork tells every listening replica, when tx commits, that name's
// desired state moved.
func notifyWork(ctx context.Context, tx pgx.Tx, name string) error {
	_, err := tx.Exec(ctx, notifyQuery, workChannel, name)
	return err
}

// Listen calls fn with the name of each environment whose desired state
// another replica (or this one) changed, until ctx ends. A lost connection
// is opened again; what was said while it was down is found by the
// controller's periodic sweep.
func (db *DB) Listen(ctx context.Context, fn func(name string)) {
	for ctx.Err() == nil {
		err := db.listen(ctx, fn)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (db *DB) listen(ctx context.Context, fn func(name string)) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// A connection that was listening goes back clean, or not at all.
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := conn.Exec(cctx, "UNLISTEN *"); err != nil {
			conn.Conn().Close(cctx)
		}
		conn.Release()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+workChannel); err != nil {
		return err
	}
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}
