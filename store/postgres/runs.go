package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
)

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
