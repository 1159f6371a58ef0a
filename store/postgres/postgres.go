// Package postgres is previewd's store on PostgreSQL, for several replicas
// sharing one database. It keeps the same records as the bbolt store and
// passes the same contract (store/storetest); the desired-state rules are
// the domain's (preview.ClassifyPullRequest, preview.ApplyPullRequest).
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	preview "github.com/previewd/previewd"
)

// Options tune Open.
type Options struct {
	// NameMax is the longest environment name (default 63).
	NameMax int
	// TTL is the idle time after which an environment expires.
	TTL time.Duration
	// MaxKeep is the idle time after which a kept environment expires.
	MaxKeep time.Duration
	// Drafts builds environments for draft pull requests too.
	Drafts bool
	// Now is the clock (default time.Now); tests set it. Leases expire by
	// the database's clock, one clock for every replica.
	Now func() time.Time
	// Holder names this replica in the leases it takes (default: host
	// name, process ID and a random suffix).
	Holder string
}

// DB is previewd's store on PostgreSQL. It is safe for concurrent use, by
// any number of processes.
type DB struct {
	pool *pgxpool.Pool
	opts Options
	held *pgxpool.Conn // the connection holding the instance lock, when taken
}

// Open connects to the database at url and migrates it to SchemaVersion;
// it refuses a database a newer previewd wrote.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.NameMax <= 0 {
		opts.NameMax = 63
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Holder == "" {
		opts.Holder = defaultHolder()
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db := &DB{pool: pool, opts: opts}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return db, nil
}

// ErrLocked is returned by Lock when another process holds the lock.
var ErrLocked = errors.New("another process is migrating this database")

// instanceLock is the session lock `previewd store migrate` holds.
const instanceLock = 0x70726578

// Lock makes this process the only one holding the database's instance
// lock until Close: two migrations into one database never interleave.
// Replicas serving it do not take it; they share the database through
// leases. It returns ErrLocked when another process holds it.
func (db *DB) Lock(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", instanceLock).Scan(&ok); err != nil {
		conn.Release()
		return err
	}
	if !ok {
		conn.Release()
		return ErrLocked
	}
	db.held = conn
	return nil
}

// Close releases the instance lock, if held, and closes the connections.
func (db *DB) Close() error {
	if db.held != nil {
		db.held.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", instanceLock)
		db.held.Release()
		db.held = nil
	}
	db.pool.Close()
	return nil
}

// Backup refuses: a PostgreSQL store is backed up with the database's own
// tools (pg_dump, the provider's snapshots), which see every replica's
// writes.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return 0, preview.Errorf(preview.EINVALID, "the PostgreSQL store is backed up with PostgreSQL's own tools (pg_dump), not through previewd")
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

func (db *DB) now() time.Time { return db.opts.Now().UTC() }

// collect decodes the JSON of each row's one column.
func collect[T any](rows pgx.Rows) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
