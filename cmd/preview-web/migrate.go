package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The variables that give the server a database to migrate.
const (
	databaseURLVariable = "DATABASE_URL"
	// releasesVariable names the directory CI publishes each commit's
	// release to: <dir>/<commit>/migrations/*.sql.
	releasesVariable = "PREVIEW_WEB_RELEASES"
)

// migrationsLock is the advisory lock one server at a time migrates
// under: the module starts several instances against one database.
var migrationsLock = lockKey("preview-web migrations")

// The states of a migrator.
const (
	migrationsRunning = "running"
	migrationsDone    = "done"
	migrationsFailed  = "failed"
)

// migrationReport is what a server's migrations did, on its page.
type migrationReport struct {
	State string `json:"state"`
	// Release is the directory migrated from; Note says why nothing was.
	Release string             `json:"release,omitempty"`
	Note    string             `json:"note,omitempty"`
	Applied []appliedMigration `json:"applied"`
	Running string             `json:"running,omitempty"`
	Error   string             `json:"error,omitempty"`
}

// appliedMigration is one migration this server applied, and how long it
// took, its transaction's commit included.
type appliedMigration struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// migrator applies the release's migrations of the deployed commit that
// the database's schema_migrations does not hold yet, as a release phase
// does after a deploy. Its report is safe to read while it runs.
type migrator struct {
	databaseURL string
	dir         string // the release's migrations; "" when there is none
	logf        func(format string, args ...any)

	mu     sync.Mutex
	report migrationReport
}

// newMigrator is the migrator of commit's release under releases (the
// value of PREVIEW_WEB_RELEASES).
func newMigrator(databaseURL, releases, commit string, logf func(string, ...any)) *migrator {
	m := &migrator{databaseURL: databaseURL, logf: logf, report: migrationReport{State: migrationsRunning, Applied: []appliedMigration{}}}
	switch dir := filepath.Join(releases, commit, "migrations"); {
	case releases == "":
		m.report.Note = releasesVariable + " is not set: no release to migrate"
	case commit == "" || commit == "." || commit == ".." || strings.ContainsAny(commit, `/\`):
		m.report.Note = fmt.Sprintf("no release for commit %q: nothing to migrate", commit)
	default:
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			m.report.Note = fmt.Sprintf("no release for commit %s (%s): nothing to migrate", commit, dir)
		} else {
			m.dir, m.report.Release = dir, dir
		}
	}
	return m
}

// Report returns a copy of what the migrator did so far.
func (m *migrator) Report() migrationReport {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.report
	r.Applied = append([]appliedMigration{}, r.Applied...)
	return r
}

func (m *migrator) update(f func(r *migrationReport)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.report)
}

// run applies the pending migrations, in name order, and logs each; it
// stops at the first that fails. It blocks until done or ctx ends.
func (m *migrator) run(ctx context.Context) {
	err := m.migrate(ctx)
	m.update(func(r *migrationReport) {
		r.Running, r.State = "", migrationsDone
		if err != nil {
			r.State, r.Error = migrationsFailed, err.Error()
		}
	})
	switch r := m.Report(); {
	case err != nil:
		m.logf("migrations failed: %v", err)
	case r.Note != "":
		m.logf("migrations: %s", r.Note)
	default:
		m.logf("migrations: %d applied from %s", len(r.Applied), r.Release)
	}
}

func (m *migrator) migrate(ctx context.Context) error {
	if m.dir == "" {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(m.dir, "*.sql")) // sorted
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(m.databaseURL)
	if err != nil {
		return fmt.Errorf("%s does not parse as a PostgreSQL connection string", databaseURLVariable)
	}
	cfg.RuntimeParams["application_name"] = "preview-web migrations"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := m.lock(ctx, conn); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return err
	}
	pending := 0
	for _, file := range files {
		version := strings.TrimSuffix(filepath.Base(file), ".sql")
		if applied[version] {
			continue
		}
		pending++
		if err := m.apply(ctx, conn, version, file); err != nil {
			return fmt.Errorf("%s: %w", version, err)
		}
	}
	if pending == 0 {
		m.update(func(r *migrationReport) {
			r.Note = "nothing to apply: the database holds every migration of the release"
		})
	}
	return nil
}

// lock waits for the migrations lock. It asks without waiting in the
// server: a session waiting there keeps a snapshot, which a CREATE INDEX
// CONCURRENTLY of the instance holding the lock would wait for in turn.
func (m *migrator) lock(ctx context.Context, conn *pgx.Conn) error {
	for said := false; ; said = true {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", migrationsLock).Scan(&ok); err != nil {
			return fmt.Errorf("take the migrations lock: %w", err)
		}
		if ok {
			return nil // until the connection closes
		}
		if !said {
			m.logf("migrations: another instance is migrating; waiting for it")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[string]bool, error) {
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("schema_migrations: %w", err)
	}
	applied := map[string]bool{}
	for _, v := range versions {
		applied[v] = true
	}
	return applied, nil
}

const recordVersion = "INSERT INTO schema_migrations (version) VALUES ($1)"

// apply runs one migration file and records its version: in one
// transaction, unless the file says CONCURRENTLY, which PostgreSQL
// refuses inside one (then the version is recorded after it).
func (m *migrator) apply(ctx context.Context, conn *pgx.Conn, version, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	sql := string(b)
	m.update(func(r *migrationReport) { r.Running = version })
	m.logf("migration %s: running", version)
	start := time.Now()
	if strings.Contains(strings.ToUpper(sql), "CONCURRENTLY") {
		if _, err = conn.Exec(ctx, sql); err == nil {
			_, err = conn.Exec(ctx, recordVersion, version)
		}
	} else {
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, recordVersion, version)
			return err
		})
	}
	took := time.Since(start)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			err = fmt.Errorf("stopped after %s: %w", seconds(took), err)
		}
		return err
	}
	m.logf("migration %s: applied in %.2fs", version, took.Seconds())
	m.update(func(r *migrationReport) {
		r.Running = ""
		r.Applied = append(r.Applied, appliedMigration{Name: version, Seconds: took.Seconds()})
	})
	return nil
}
