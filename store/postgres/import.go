package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/store"
)

// ImportResult counts what an import did, by kind of record.
type ImportResult struct {
	Copied  map[store.RecordKind]int // written
	Present map[store.RecordKind]int // already there, the same
	Logs    int                      // run logs copied from their files, with their runs
}

// ImportFile copies the bbolt store at path, which no previewd may hold
// (else store.ErrLocked: stop it first), into the database at url, holding
// it meanwhile (see Import and Lock).
func ImportFile(ctx context.Context, path, url string) (ImportResult, error) {
	src, err := store.Open(path, store.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if errors.Is(err, store.ErrLocked) {
		return ImportResult{}, fmt.Errorf("%w: stop it first", err)
	} else if err != nil {
		return ImportResult{}, err
	}
	defer src.Close()
	var records []store.Record
	if err := src.Export(ctx, func(r store.Record) error { records = append(records, r); return nil }); err != nil {
		return ImportResult{}, err
	}
	dst, err := Open(ctx, url, Options{})
	if err != nil {
		return ImportResult{}, err
	}
	defer dst.Close()
	if err := dst.Lock(ctx); err != nil {
		return ImportResult{}, fmt.Errorf("the target: %w", err)
	}
	return dst.Import(ctx, records)
}

// Import copies records (a bbolt store's Export) into the database in one
// transaction, idempotently: a record already present with the same
// content is left alone, and one present with other content fails the
// whole import, naming it, with nothing written. Each repository keeps
// its newest store.ProductionWatchesKept production watches, as after a
// RecordProductionWatch. Hold the database (Lock) while importing, so no
// previewd writes meanwhile.
func (db *DB) Import(ctx context.Context, records []store.Record) (ImportResult, error) {
	res := ImportResult{Copied: map[store.RecordKind]int{}, Present: map[store.RecordKind]int{}}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, r := range records {
			copied, err := importRecord(ctx, tx, r)
			if err != nil {
				return fmt.Errorf("%s %q: %w", r.Kind, r.Key, err)
			}
			if copied && r.Kind == store.KindRun {
				logged, err := importLog(ctx, tx, r)
				if err != nil {
					return fmt.Errorf("log of run %q: %w", r.Key, err)
				}
				if logged {
					res.Logs++
				}
			}
			if copied {
				res.Copied[r.Kind]++
			} else {
				res.Present[r.Kind]++
			}
		}
		if res.Copied[store.KindProductionWatch] > 0 {
			if err := pruneAllProductionWatches(ctx, tx); err != nil {
				return fmt.Errorf("production watches: %w", err)
			}
		}
		for _, table := range []string{"runs", "commands"} {
			q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%[1]s', 'seq'), GREATEST((SELECT max(seq) FROM %[1]s), 1))", table)
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	// A bulk load leaves the planner without statistics until autovacuum
	// (where it runs) gets to them: without, it guesses, and the list of
	// thousands of environments is sorted on disk instead of read in the
	// primary key's order.
	if _, err := db.pool.Exec(ctx, "ANALYZE environments, pull_requests, deliveries, commands, runs"); err != nil {
		return res, fmt.Errorf("analyze: %w", err)
	}
	return res, nil
}

// importRecord writes r unless it is present; present with other content
// is an error.
func importRecord(ctx context.Context, tx pgx.Tx, r store.Record) (bool, error) {
	var insert, existing string // existing reads the value stored under r.Key, or under keyArgs when set
	var args, keyArgs []any
	value := string(r.Value)
	switch r.Kind {
	case store.KindEnvironment:
		var env preview.Environment
		if err := json.Unmarshal(r.Value, &env); err != nil {
			return false, err
		}
		insert = "INSERT INTO environments (name, repo, pr, live, data) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
		args = []any{r.Key, env.Repo, env.PR, env.Status.Live(), value}
		existing = "SELECT data FROM environments WHERE name = $1"
	case store.KindPullRequest:
		insert = "INSERT INTO pull_requests (key, name) VALUES ($1, $2) ON CONFLICT DO NOTHING"
		args = []any{r.Key, value}
		existing = "SELECT name FROM pull_requests WHERE key = $1"
	case store.KindDelivery:
		at, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return false, err
		}
		insert = insertDelivery
		args = []any{r.Key, at}
	case store.KindCommand:
		seq, err := strconv.ParseInt(r.Key, 16, 64)
		if err != nil {
			return false, err
		}
		insert = "INSERT INTO commands (seq, data) VALUES ($1, $2) ON CONFLICT DO NOTHING"
		args = []any{seq, value}
		existing = "SELECT data FROM commands WHERE lpad(to_hex(seq), 16, '0') = $1"
	case store.KindRun:
		var run preview.Run
		if err := json.Unmarshal(r.Value, &run); err != nil {
			return false, err
		}
		i := strings.LastIndexByte(r.Key, '/')
		seq, err := strconv.ParseInt(r.Key[i+1:], 16, 64)
		if i < 0 || err != nil {
			return false, fmt.Errorf("not a run ID")
		}
		insert = "INSERT INTO runs (seq, id, environment, running, data) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
		args = []any{seq, r.Key, run.Environment, run.State == preview.RunRunning, value}
		existing = "SELECT data FROM runs WHERE id = $1"
	case store.KindProductionWatch:
		var w preview.ProductionWatch
		if err := json.Unmarshal(r.Value, &w); err != nil {
			return false, err
		}
		repo, at := productionWatchKey(w)
		insert = "INSERT INTO production_watches (repo, at, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
		args = []any{repo, at, value}
		existing, keyArgs = "SELECT data FROM production_watches WHERE repo = $1 AND at = $2", []any{repo, at}
	default:
		return false, fmt.Errorf("unknown kind of record")
	}
	tag, err := tx.Exec(ctx, insert, args...)
	if err != nil || tag.RowsAffected() == 1 {
		return err == nil, err
	}
	if existing == "" {
		return false, nil // a delivery ID is the whole record
	}
	if keyArgs == nil {
		keyArgs = []any{r.Key}
	}
	return false, same(ctx, tx, existing, value, keyArgs...)
}

// importLog copies the log file of run record r, when there is one, into
// run_logs: with its run, so a second import does not copy it again.
func importLog(ctx context.Context, tx pgx.Tx, r store.Record) (bool, error) {
	var run preview.Run
	if err := json.Unmarshal(r.Value, &run); err != nil {
		return false, err
	}
	if run.LogPath == "" {
		return false, nil
	}
	data, err := os.ReadFile(run.LogPath)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // pruned, or never written
	} else if err != nil {
		return false, err
	}
	for len(data) > 0 {
		n := min(len(data), logChunkSize)
		if _, err := tx.Exec(ctx, "INSERT INTO run_logs (run_id, chunk) VALUES ($1, $2)", run.ID, data[:n]); err != nil {
			return false, err
		}
		data = data[n:]
	}
	return true, nil
}

// same checks that the value query (with args) reads is want.
func same(ctx context.Context, tx pgx.Tx, query, want string, args ...any) error {
	var got string
	if err := tx.QueryRow(ctx, query, args...).Scan(&got); err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("the target already holds different data for it; refusing to overwrite it")
	}
	return nil
}
