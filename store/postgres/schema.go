package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SchemaVersion is the version of the schema this previewd writes.
const SchemaVersion = 5

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
	// Production watches, the newest store.ProductionWatchesKept of each
	// repository (see production.go). The primary key's index, read
	// backwards, lists a repository's newest first.
	`CREATE TABLE production_watches (
		repo text COLLATE "C" NOT NULL, -- the repository, in lower case
		at text COLLATE "C" NOT NULL, -- the watch's At as store.WatchTimeLayout writes it: to the nanosecond, sorting as time does
		data text NOT NULL, -- the watch's JSON
		PRIMARY KEY (repo, at)
	);`,
}

// migrationLock serialises migrations of replicas starting together.
const migrationLock = 0x70726576 // "prev"

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
