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
	"reflect"
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

// SchemaVersion is the version of the schema this previewd writes.
const SchemaVersion = 4

// migrations[i] takes the schema from version i to i+1.
var migrations = []string{
	`CREATE TABLE environments (
		name text PRIMARY KEY,
		repo text NOT NULL,
		pr integer NOT NULL,
		live boolean NOT NULL,
		data text NOT NULL -- the environment's JSON, as the API lists it
	);
	CREATE INDEX environments_live ON environments (name) WHERE live;
	CREATE TABLE pull_requests (key text PRIMARY KEY, name text NOT NULL);
	CREATE TABLE deliveries (id text PRIMARY KEY, received_at timestamptz NOT NULL);
	CREATE TABLE commands (seq bigserial PRIMARY KEY, data text NOT NULL);
	CREATE TABLE runs (
		seq bigserial PRIMARY KEY,
		id text UNIQUE NOT NULL,
		environment text NOT NULL,
		running boolean NOT NULL,
		data text NOT NULL
	);
	CREATE INDEX runs_environment ON runs (environment, seq);
	CREATE INDEX runs_running ON runs (seq) WHERE running;`,
	// Leases: each environment's runs, and each loop that must run once,
	// belong to one replica at a time (see leases.go).
	`CREATE SEQUENCE lease_tokens;
	CREATE TABLE leases (
		name text PRIMARY KEY,
		holder text NOT NULL,
		token bigint NOT NULL,
		expires_at timestamptz NOT NULL,
		pending boolean NOT NULL DEFAULT false -- another replica asked for the name meanwhile
	);`,
	// Run logs, in chunks written while Terraform runs, so every replica
	// serves every log.
	`CREATE TABLE run_logs (
		seq bigserial PRIMARY KEY,
		run_id text NOT NULL,
		chunk bytea NOT NULL
	);
	CREATE INDEX run_logs_run ON run_logs (run_id, seq);`,
	// Named random keys (the log links'), made by the first replica to
	// ask and shared by all (see keys.go).
	`CREATE TABLE keys (
		name text PRIMARY KEY,
		key bytea NOT NULL
	);`,
}

// migrationLock serialises migrations of replicas starting together.
const migrationLock = 0x70726576 // "prev"

// recordLock serialises the naming of new environments (held alone), so
// two replicas never name two environments alike, against the recording
// of events of existing ones (held shared).
const recordLock = 0x70726577

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

func (db *DB) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS previewd_schema (version integer NOT NULL)"); err != nil {
			return err
		}
		version := 0
		err := tx.QueryRow(ctx, "SELECT version FROM previewd_schema").Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			if _, err := tx.Exec(ctx, "INSERT INTO previewd_schema (version) VALUES (0)"); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if version > SchemaVersion {
			return fmt.Errorf("the database has schema version %d, newer than this previewd's %d: upgrade previewd", version, SchemaVersion)
		}
		for v := version; v < SchemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrate to schema %d: %w", v+1, err)
			}
		}
		_, err = tx.Exec(ctx, "UPDATE previewd_schema SET version = $1", SchemaVersion)
		return err
	})
}

func (db *DB) now() time.Time { return db.opts.Now().UTC() }

func notFound(name string) error {
	return preview.Errorf(preview.ENOTFOUND, "environment %q not found", name)
}

// environment reads the named environment in tx, locking its row when
// forUpdate; ok is false when there is none.
func environment(ctx context.Context, tx pgx.Tx, name string, forUpdate bool) (env preview.Environment, ok bool, err error) {
	q := "SELECT data FROM environments WHERE name = $1"
	if forUpdate {
		q += " FOR UPDATE"
	}
	var data string
	err = tx.QueryRow(ctx, q, name).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return preview.Environment{}, false, nil
	} else if err != nil {
		return preview.Environment{}, false, err
	}
	if err := json.Unmarshal([]byte(data), &env); err != nil {
		return preview.Environment{}, true, fmt.Errorf("decode %q: %w", name, err)
	}
	return env, true, nil
}

func putEnvironment(ctx context.Context, tx pgx.Tx, env *preview.Environment) error {
	data, err := json.Marshal(env)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO environments (name, repo, pr, live, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name) DO UPDATE SET repo = $2, pr = $3, live = $4, data = $5`,
		env.Name, env.Repo, env.PR, env.Status.Live(), string(data))
	return err
}

// RecordPullRequest durably records the desired state that delivery brings
// for pr, as the bbolt store does (see store.DB.RecordPullRequest), in one
// transaction committed before it returns.
//
// Recording an environment's first event names it, so it holds the record
// lock alone; events of pull requests that have an environment hold it
// shared, each locking its own environment's row, and go on side by side.
func (db *DB) RecordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error) {
	var known bool
	if err := db.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pull_requests WHERE key = $1)", pr.Key()).Scan(&known); err != nil {
		return preview.RecordResult{}, fmt.Errorf("record pull request %s: %w", pr.Key(), err)
	}
	res, err := db.recordPullRequest(ctx, delivery, pr, !known)
	if errors.Is(err, errNeedsNaming) {
		res, err = db.recordPullRequest(ctx, delivery, pr, true)
	}
	if err != nil {
		return preview.RecordResult{}, fmt.Errorf("record pull request %s: %w", pr.Key(), err)
	}
	return res, nil
}

// errNeedsNaming sends a recording that found no environment for its pull
// request, under the shared lock, back to take the lock alone.
var errNeedsNaming = errors.New("the pull request needs an environment named")

func (db *DB) recordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest, naming bool) (preview.RecordResult, error) {
	var res preview.RecordResult
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		res = preview.RecordResult{}
		now := db.now()
		if delivery != "" {
			tag, err := tx.Exec(ctx, "INSERT INTO deliveries (id, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", delivery, now)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				res.Duplicate = true
				return nil
			}
		}
		lock := "SELECT pg_advisory_xact_lock_shared($1)"
		if naming {
			lock = "SELECT pg_advisory_xact_lock($1)"
		}
		if _, err := tx.Exec(ctx, lock, recordLock); err != nil {
			return err
		}
		var env preview.Environment
		found := false
		var name string
		err := tx.QueryRow(ctx, "SELECT name FROM pull_requests WHERE key = $1", pr.Key()).Scan(&name)
		if err == nil {
			if env, found, err = environment(ctx, tx, name, true); err != nil {
				return err
			}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if !found && !naming {
			return errNeedsNaming
		}
		rules := preview.PullRequestRules{TTL: db.opts.TTL, MaxKeep: db.opts.MaxKeep, Drafts: db.opts.Drafts}
		env, result, write, err := preview.RecordPullRequest(env, found, pr, now, rules, func() (string, error) {
			return deriveName(ctx, tx, pr, db.opts.NameMax)
		})
		res = result
		if err != nil || !write {
			return err
		}
		if err := putEnvironment(ctx, tx, &env); err != nil {
			return err
		}
		if err := notifyWork(ctx, tx, env.Name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO pull_requests (key, name) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET name = $2", pr.Key(), env.Name)
		return err
	})
	return res, err
}

// deriveName picks a new environment's name: a destroyed environment frees
// its name, its record replaced and its pull request forgetting it.
func deriveName(ctx context.Context, tx pgx.Tx, pr preview.PullRequest, max int) (string, error) {
	var derr error
	name := preview.EnvironmentName(pr.Repo, pr.Number, pr.Branch, max, func(n string) bool {
		var live bool
		err := tx.QueryRow(ctx, "SELECT live FROM environments WHERE name = $1", n).Scan(&live)
		if errors.Is(err, pgx.ErrNoRows) {
			return false
		} else if err != nil {
			derr = err
			return true
		}
		return live
	})
	if derr != nil {
		return "", derr
	}
	var repo string
	var number int
	err := tx.QueryRow(ctx, "SELECT repo, pr FROM environments WHERE name = $1", name).Scan(&repo, &number)
	if err == nil {
		_, err = tx.Exec(ctx, "DELETE FROM pull_requests WHERE key = $1", preview.PullRequestKey(repo, number))
	} else if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	return name, err
}

// FindEnvironmentByName returns the named environment, or ENOTFOUND.
func (db *DB) FindEnvironmentByName(ctx context.Context, name string) (preview.Environment, error) {
	var data string
	err := db.pool.QueryRow(ctx, "SELECT data FROM environments WHERE name = $1", name).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return preview.Environment{}, notFound(name)
	} else if err != nil {
		return preview.Environment{}, err
	}
	var env preview.Environment
	return env, json.Unmarshal([]byte(data), &env)
}

// FindEnvironmentByPullRequest returns the environment of pull request
// number in repo, or ENOTFOUND.
func (db *DB) FindEnvironmentByPullRequest(ctx context.Context, repo string, number int) (preview.Environment, error) {
	key := preview.PullRequestKey(repo, number)
	var data string
	err := db.pool.QueryRow(ctx, "SELECT e.data FROM pull_requests p JOIN environments e ON e.name = p.name WHERE p.key = $1", key).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return preview.Environment{}, preview.Errorf(preview.ENOTFOUND, "no environment for %s", key)
	} else if err != nil {
		return preview.Environment{}, err
	}
	var env preview.Environment
	return env, json.Unmarshal([]byte(data), &env)
}

// environments calls fn with each environment filter selects, by name, its
// stored JSON and the decoded environment; fn says whether it kept it.
func (db *DB) environments(ctx context.Context, filter preview.EnvironmentFilter, fn func(data string, env preview.Environment) bool) error {
	q := "SELECT data FROM environments WHERE name > $1"
	if filter.LiveOnly {
		q += " AND live"
	}
	args := []any{filter.After}
	if filter.Repo != "" {
		q += " AND lower(repo) = lower($2)"
		args = append(args, filter.Repo)
	}
	q += " ORDER BY name"
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	kept := 0
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return err
		}
		var env preview.Environment
		if err := json.Unmarshal([]byte(data), &env); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		if !filter.Match(env) || !fn(data, env) {
			continue
		}
		if kept++; filter.Limit > 0 && kept == filter.Limit {
			break
		}
	}
	return rows.Err()
}

// FindEnvironments returns the environments that match filter, by name.
func (db *DB) FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error) {
	var out []preview.Environment
	err := db.environments(ctx, filter, func(_ string, env preview.Environment) bool {
		out = append(out, env)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("find environments: %w", err)
	}
	return out, nil
}

// ScanEnvironments calls fn with the name and stored encoding of each
// environment filter selects, by name; next is the name to start the
// following page after, "" when this page is the last.
func (db *DB) ScanEnvironments(ctx context.Context, filter preview.EnvironmentFilter, fn func(name string, data []byte) error) (string, error) {
	n, next := 0, ""
	var ferr error
	err := db.environments(ctx, filter, func(data string, env preview.Environment) bool {
		if ferr != nil {
			return false
		}
		if ferr = fn(env.Name, []byte(data)); ferr != nil {
			return false
		}
		if n++; filter.Limit > 0 && n == filter.Limit {
			next = env.Name
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return "", fmt.Errorf("find environments: %w", err)
	}
	return next, nil
}

// UpdateEnvironment applies fn to the named environment and stores the
// result in one transaction, the row locked meanwhile; fn must not do I/O.
// If fn returns an error nothing is written. It returns the stored
// environment, or ENOTFOUND.
func (db *DB) UpdateEnvironment(ctx context.Context, name string, fn func(*preview.Environment) error) (preview.Environment, error) {
	var env preview.Environment
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var ok bool
		var err error
		if err := fence(ctx, tx, name); err != nil {
			return err
		}
		if env, ok, err = environment(ctx, tx, name, true); err != nil {
			return err
		} else if !ok {
			return notFound(name)
		}
		before, status := env.Desired, env.Status
		if err := fn(&env); err != nil {
			return err
		}
		env.UpdatedAt = db.now()
		preview.NoteStatus(status, &env, env.UpdatedAt)
		if err := putEnvironment(ctx, tx, &env); err != nil {
			return err
		}
		if !reflect.DeepEqual(before, env.Desired) {
			return notifyWork(ctx, tx, name)
		}
		return nil
	})
	return env, err
}

// PruneDeliveries forgets delivery IDs recorded before cutoff and returns
// how many it removed.
func (db *DB) PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, "DELETE FROM deliveries WHERE received_at < $1", cutoff)
	return int(tag.RowsAffected()), err
}

// DeliveryRecorded reports whether delivery was recorded.
func (db *DB) DeliveryRecorded(ctx context.Context, delivery string) (bool, error) {
	var found bool
	err := db.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1)", delivery).Scan(&found)
	return found, err
}

// RecordCommand durably queues cmd, de-duplicating on delivery. It returns
// false for a delivery seen before.
func (db *DB) RecordCommand(ctx context.Context, delivery string, cmd preview.Command) (bool, error) {
	queued := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		queued = false
		if delivery != "" {
			tag, err := tx.Exec(ctx, "INSERT INTO deliveries (id, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", delivery, db.now())
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
		}
		var seq int64
		if err := tx.QueryRow(ctx, "SELECT nextval(pg_get_serial_sequence('commands', 'seq'))").Scan(&seq); err != nil {
			return err
		}
		cmd.ID = fmt.Sprintf("%016x", seq)
		data, err := json.Marshal(cmd)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO commands (seq, data) VALUES ($1, $2)", seq, string(data)); err != nil {
			return err
		}
		queued = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("record command %s on %s#%d: %w", cmd.Verb, cmd.Repo, cmd.Number, err)
	}
	return queued, nil
}

// FindCommands returns the queued commands, oldest first.
func (db *DB) FindCommands(ctx context.Context) ([]preview.Command, error) {
	rows, err := db.pool.Query(ctx, "SELECT data FROM commands ORDER BY seq")
	if err != nil {
		return nil, err
	}
	return collect[preview.Command](rows)
}

// DeleteCommand removes a command once it has been carried out or refused.
func (db *DB) DeleteCommand(ctx context.Context, id string) error {
	var seq int64
	if _, err := fmt.Sscanf(id, "%x", &seq); err != nil {
		return preview.Errorf(preview.EINVALID, "command id %q", id)
	}
	_, err := db.pool.Exec(ctx, "DELETE FROM commands WHERE seq = $1", seq)
	return err
}

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

// CreateRun records run as the next run of its environment, before its
// process starts, and returns it with its ID set ("<environment>/<16 hex
// digits>", as the bbolt store's).
func (db *DB) CreateRun(ctx context.Context, run preview.Run) (preview.Run, error) {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var seq int64
		if err := tx.QueryRow(ctx, "SELECT nextval(pg_get_serial_sequence('runs', 'seq'))").Scan(&seq); err != nil {
			return err
		}
		if err := fence(ctx, tx, run.Environment); err != nil {
			return err
		}
		run.ID = fmt.Sprintf("%s/%016x", run.Environment, seq)
		return putRun(ctx, tx, seq, run, true)
	})
	if err != nil {
		return preview.Run{}, fmt.Errorf("create run for %s: %w", run.Environment, err)
	}
	return run, nil
}

func putRun(ctx context.Context, tx pgx.Tx, seq int64, run preview.Run, create bool) error {
	data, err := json.Marshal(run)
	if err != nil {
		return err
	}
	running := run.State == preview.RunRunning
	if create {
		_, err = tx.Exec(ctx, "INSERT INTO runs (seq, id, environment, running, data) VALUES ($1, $2, $3, $4, $5)", seq, run.ID, run.Environment, running, string(data))
		return err
	}
	tag, err := tx.Exec(ctx, "UPDATE runs SET running = $2, data = $3 WHERE id = $1", run.ID, running, string(data))
	if err == nil && tag.RowsAffected() == 0 {
		err = preview.Errorf(preview.ENOTFOUND, "run %q not found", run.ID)
	}
	return err
}

// UpdateRun stores run, which must have been created by CreateRun.
func (db *DB) UpdateRun(ctx context.Context, run preview.Run) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := fence(ctx, tx, run.Environment); err != nil {
			return err
		}
		return putRun(ctx, tx, 0, run, false)
	})
	if err != nil {
		return fmt.Errorf("update run %s: %w", run.ID, err)
	}
	return nil
}

// FindRunByID returns the run with id, or ENOTFOUND.
func (db *DB) FindRunByID(ctx context.Context, id string) (preview.Run, error) {
	var data string
	err := db.pool.QueryRow(ctx, "SELECT data FROM runs WHERE id = $1", id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return preview.Run{}, preview.Errorf(preview.ENOTFOUND, "run %q not found", id)
	} else if err != nil {
		return preview.Run{}, err
	}
	var run preview.Run
	return run, json.Unmarshal([]byte(data), &run)
}

// FindRuns returns the runs that filter selects, oldest first.
func (db *DB) FindRuns(ctx context.Context, filter preview.RunFilter) ([]preview.Run, error) {
	rows, err := db.pool.Query(ctx, "SELECT data FROM runs WHERE environment = $1 ORDER BY seq", filter.Environment)
	if err != nil {
		return nil, fmt.Errorf("find runs of %s: %w", filter.Environment, err)
	}
	all, err := collect[preview.Run](rows)
	if err != nil {
		return nil, fmt.Errorf("find runs of %s: %w", filter.Environment, err)
	}
	var runs []preview.Run
	for _, r := range all {
		if filter.Match(r) {
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// InterruptRuns marks as interrupted every run still recorded as running
// whose environment no replica holds a live lease on, and returns them: a
// replica starting up does not touch its peers' runs.
func (db *DB) InterruptRuns(ctx context.Context) ([]preview.Run, error) {
	var runs []preview.Run
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		runs, err = interruptRuns(ctx, tx, db.now(), "previewd stopped while this run was in progress",
			"AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.name = runs.environment AND l.expires_at > now())")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("interrupt runs: %w", err)
	}
	return runs, nil
}

// interruptRuns marks the running runs that where (SQL after WHERE
// running, with args) selects as interrupted, with why.
func interruptRuns(ctx context.Context, tx pgx.Tx, now time.Time, why, where string, args ...any) ([]preview.Run, error) {
	rows, err := tx.Query(ctx, "SELECT data FROM runs WHERE running "+where+" ORDER BY seq FOR UPDATE", args...)
	if err != nil {
		return nil, err
	}
	runs, err := collect[preview.Run](rows)
	if err != nil {
		return nil, err
	}
	for i := range runs {
		runs[i].State = preview.RunInterrupted
		runs[i].FinishedAt = now
		runs[i].Error = why
		if err := putRun(ctx, tx, 0, runs[i], false); err != nil {
			return nil, err
		}
	}
	return runs, nil
}
