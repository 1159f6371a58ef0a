package migrations_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/migrations"
)

// TestRowsAndJudge is the founding incident end to end: an index built
// on a preview's 200 rows holds writes for as long as its transaction,
// which says little of production's 1.4M: the verdict is inconclusive.
func TestRowsAndJudge(t *testing.T) {
	ctx := context.Background()
	production, prod := pgtest.Database(t)
	production = withPassword(t, production, "")
	exec(t, prod, `CREATE TABLE orders AS SELECT g AS id, now() AS created_at FROM generate_series(1, 1400000) g`,
		`CREATE SCHEMA billing`, `CREATE TABLE billing.invoices (id int)`, `INSERT INTO billing.invoices SELECT generate_series(1, 50)`,
		`ANALYZE`, `CREATE TABLE never_analysed (id int)`)
	staging, stage := pgtest.Database(t)
	exec(t, stage, `CREATE TABLE orders (id bigserial, created_at timestamptz)`,
		`INSERT INTO orders (created_at) SELECT now() FROM generate_series(1, 200)`, `ANALYZE orders`)

	got, err := migrations.Rows(ctx, production, []string{"orders", "billing.invoices", "never_analysed", "missing", `"Orders"`})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["orders"] != 1.4e6 || got["billing.invoices"] != 50 {
		t.Errorf("production's rows: %v, want orders 1.4M and billing.invoices 50 only", got)
	}
	if got, err := migrations.Rows(ctx, staging, []string{"orders", "public.orders"}); err != nil || got["orders"] != 200 || got["public.orders"] != 200 {
		t.Errorf("staging's rows: %v (%v), want 200", got, err)
	}

	w := watch(t, staging)
	offPhase()
	const build = `CREATE INDEX orders_created_at ON orders (created_at)`
	took := timed(t, stage, `BEGIN`, build, `SELECT pg_sleep(0.3)`, `COMMIT`)
	report := w.Stop()
	logReport(t, w, report)
	h := holdOf(report, "orders")
	if h == nil || h.Rows != 200 || h.Mode != "ShareLock" {
		t.Fatalf("hold on orders %+v, want a ShareLock on 200 rows", h)
	}
	within(t, "writes blocked", h.BlockedWrites, took, 0.35) // up to an interval on 0.3 s

	var relations []string
	for _, h := range report.Holds {
		relations = append(relations, h.Relation)
	}
	rows, err := migrations.Rows(ctx, production, relations)
	if err != nil {
		t.Fatal(err)
	}
	for i := range report.Holds {
		if n, ok := rows[report.Holds[i].Relation]; ok {
			report.Holds[i].ProductionRows = &n
		}
	}
	v := report.Judge(preview.MigrationLimits{MaxWriteBlock: 5 * time.Second, MaxReadBlock: time.Second, MinShare: 0.1})
	t.Logf("%s: %s", v.Status, strings.Join(v.Reasons, "; "))
	want := "orders: 200 rows here, 1.4M in production (under 10%): what it held here says little of production"
	if v.Status != preview.DatabaseInconclusive || !slices.Contains(v.Reasons, want) {
		t.Errorf("verdict %+v, want inconclusive: %s", v, want)
	}
}

// TestTooQuickToSample is the founding incident as it happens on a
// preview: the index on 200 rows is built in milliseconds, quicker than a
// sample, yet the catalog shows orders was changed by DDL, so its size is
// still compared with production's and the verdict is inconclusive, never
// ok.
func TestTooQuickToSample(t *testing.T) {
	production, prod := pgtest.Database(t)
	exec(t, prod, `CREATE TABLE orders AS SELECT g AS id, now() AS created_at FROM generate_series(1, 1400000) g`, `ANALYZE orders`)
	preview_, stage := pgtest.Database(t)
	exec(t, stage, `CREATE TABLE orders (id bigserial, created_at timestamptz)`, `CREATE TABLE untouched (id int)`,
		`INSERT INTO orders (created_at) SELECT now() FROM generate_series(1, 200)`, `ANALYZE orders`)
	w := watch(t, preview_)
	exec(t, stage, `CREATE INDEX orders_created_at ON orders (created_at)`)
	report := w.Stop()
	logReport(t, w, report)
	h := holdOf(report, "orders")
	if h == nil || h.Rows != 200 {
		t.Fatalf("holds %+v, want orders (200 rows), changed by DDL", report.Holds)
	}
	if holdOf(report, "untouched") != nil {
		t.Errorf("holds %+v: a table nothing changed is listed", report.Holds)
	}
	rows, err := migrations.Rows(context.Background(), production, []string{"orders"})
	if err != nil {
		t.Fatal(err)
	}
	n := rows["orders"]
	h.ProductionRows = &n
	if v := report.Judge(preview.MigrationLimits{MaxWriteBlock: 5 * time.Second, MaxReadBlock: time.Second, MinShare: 0.1}); v.Status != preview.DatabaseInconclusive {
		t.Errorf("verdict %+v, want inconclusive: 200 rows say nothing of 1.4M", v)
	}
}
