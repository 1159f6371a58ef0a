package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/store"
)

// productionWatchKey is the key of w's row: its repository in lower case,
// as GitHub compares names, and its At to the nanosecond (a timestamptz
// keeps microseconds), as the bbolt store keys it.
func productionWatchKey(w preview.ProductionWatch) (repo, at string) {
	return strings.ToLower(w.Repo), w.At.UTC().Format(store.WatchTimeLayout)
}

// RecordProductionWatch stores w under its repository and At, replacing a
// watch of the same repository and At, and deletes the repository's
// watches older than the newest store.ProductionWatchesKept, in one
// transaction. At is stored in UTC.
func (db *DB) RecordProductionWatch(ctx context.Context, w preview.ProductionWatch) error {
	w.At = w.At.UTC()
	data, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("record production watch of %s: %w", w.Repo, err)
	}
	repo, at := productionWatchKey(w)
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO production_watches (repo, at, data) VALUES ($1, $2, $3)
			ON CONFLICT (repo, at) DO UPDATE SET data = excluded.data`, repo, at, string(data)); err != nil {
			return err
		}
		return pruneProductionWatches(ctx, tx, repo)
	})
	if err != nil {
		return fmt.Errorf("record production watch of %s: %w", w.Repo, err)
	}
	return nil
}

// pruneProductionWatches deletes repo's watches (repo in lower case) but
// the newest store.ProductionWatchesKept.
func pruneProductionWatches(ctx context.Context, tx pgx.Tx, repo string) error {
	_, err := tx.Exec(ctx, `DELETE FROM production_watches WHERE repo = $1 AND at < (
		SELECT at FROM production_watches WHERE repo = $1 ORDER BY at DESC OFFSET $2 LIMIT 1)`,
		repo, store.ProductionWatchesKept-1)
	return err
}

// FindProductionWatches returns f.Repo's watches (every repository's when
// f.Repo is ""; names compare without case), newest first (watches of the
// same instant by repository), at most f.Limit when it is positive; an
// empty slice when there are none.
func (db *DB) FindProductionWatches(ctx context.Context, f preview.ProductionWatchFilter) ([]preview.ProductionWatch, error) {
	q, args := "SELECT data FROM production_watches", []any{}
	if f.Repo != "" {
		q += " WHERE repo = $1"
		args = append(args, strings.ToLower(f.Repo))
	}
	q += " ORDER BY at DESC, repo"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find production watches: %w", err)
	}
	watches, err := collect[preview.ProductionWatch](rows)
	if err != nil {
		return nil, fmt.Errorf("find production watches: %w", err)
	}
	if watches == nil {
		watches = []preview.ProductionWatch{}
	}
	return watches, nil
}

// pruneAllProductionWatches deletes every repository's watches but its
// newest store.ProductionWatchesKept (after an import into a database
// that held some already).
func pruneAllProductionWatches(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, "SELECT DISTINCT repo FROM production_watches")
	if err != nil {
		return err
	}
	repos, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, repo := range repos {
		if err := pruneProductionWatches(ctx, tx, repo); err != nil {
			return err
		}
	}
	return nil
}
