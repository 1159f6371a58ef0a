package migrations

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
)

// A lock shorter than a sampling interval may be seen by no sample: the
// founding incident's index, built in milliseconds on a preview's 200
// rows. The catalog keeps what such a statement changed, so the watch
// reads it at its start and at Stop: a table whose file (a rewrite),
// indexes, columns or constraints changed was locked by DDL even when no
// sample saw the lock, and its size still has to be compared with
// production's.

// catalogQuery lists the user tables with what DDL changes of them.
const catalogQuery = `SELECT c.oid, c.oid::regclass::text, c.relfilenode, c.reltuples::float8,
	coalesce((SELECT array_agg(i.indexrelid::int8 ORDER BY i.indexrelid) FROM pg_index i WHERE i.indrelid = c.oid), '{}'),
	(SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
	(SELECT count(*) FROM pg_constraint k WHERE k.conrelid = c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'`

// table is what DDL changes of a table, and its name and size.
type table struct {
	name                 string
	filenode             uint32
	indexes              []int64
	columns, constraints int64
	rows                 float64
}

// same reports whether no DDL changed the table between t and u.
func (t table) same(u table) bool {
	return t.filenode == u.filenode && slices.Equal(t.indexes, u.indexes) && t.columns == u.columns && t.constraints == u.constraints
}

// catalog reads the user tables, by oid.
func catalog(conn *pgx.Conn, timeout time.Duration) (map[uint32]table, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rows, err := conn.Query(ctx, catalogQuery)
	if err != nil {
		return nil, err
	}
	out := map[uint32]table{}
	var oid uint32
	var t table
	_, err = pgx.ForEachRow(rows, []any{&oid, &t.name, &t.filenode, &t.rows, &t.indexes, &t.columns, &t.constraints}, func() error {
		out[oid] = t
		return nil
	})
	return out, err
}

// changedUnseen adds to held each table that existed at the watch's start
// and that DDL changed since, when no sample saw its lock: held for less
// than an interval. A table a sample saw held by DDL that blocks nobody
// (quiet: CREATE INDEX CONCURRENTLY) was changed by that.
func changedUnseen(before, after map[uint32]table, held []hold, quiet map[uint32]bool, interval time.Duration) []hold {
	for oid, now := range after {
		then, existed := before[oid]
		if !existed || then.same(now) || quiet[oid] || slices.ContainsFunc(held, func(h hold) bool { return h.oid == oid }) {
			continue
		}
		held = append(held, hold{oid: oid, LockHold: preview.LockHold{Relation: now.name, Rows: now.rows,
			Statement: "(changed by DDL; no sample saw its lock: held under " + interval.String() + ")"}})
	}
	return held
}
