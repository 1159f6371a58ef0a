package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/previewd/previewd/internal/pgtest"
)

// ordersDatabase is a database of the tests' server shaped as db create
// makes one: orders (rows of them) and schema_migrations holding
// 001_create_orders. It returns its URL and an administrator's connection.
func ordersDatabase(t *testing.T, rows int) (string, *pgx.Conn) {
	t.Helper()
	dbURL, conn := pgtest.Database(t)
	for _, stmt := range fillStatements {
		var args []any
		if stmt == fillStatements[1] {
			args = append(args, rows)
		}
		if _, err := conn.Exec(context.Background(), stmt, args...); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return dbURL, conn
}

// release writes commit's release under a new releases directory: its
// migrations, by file name; it returns the directory.
func release(t *testing.T, releases, commit string, migrations map[string]string) string {
	t.Helper()
	if releases == "" {
		releases = t.TempDir()
	}
	dir := filepath.Join(releases, commit, "migrations")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, sql := range migrations {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return releases
}

func versions(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, _ := conn.Query(context.Background(), "SELECT version FROM schema_migrations ORDER BY version")
	v, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func names(applied []appliedMigration) []string {
	out := []string{}
	for _, a := range applied {
		out = append(out, a.Name)
	}
	return out
}

func TestMigrator(t *testing.T) {
	dbURL, conn := ordersDatabase(t, 1000)
	ctx := context.Background()
	releases := release(t, "", "c1", map[string]string{
		"001_create_orders.sql":  "SELECT no_such_column FROM orders;", // applied already: never run
		"002_index.sql":          "CREATE INDEX orders_created_at ON orders (created_at);",
		"003_concurrently.sql":   "CREATE INDEX CONCURRENTLY orders_customer ON orders (customer_id);",
		"README.md":              "not a migration",
		"004_two_statements.sql": "CREATE TABLE refunds (order_id bigint);\nCREATE INDEX refunds_order ON refunds (order_id);\n",
	})
	var logged strings.Builder
	var mu sync.Mutex
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged.WriteString(fmt.Sprintf(format, args...) + "\n")
	}

	m := newMigrator(dbURL, releases, "c1", logf)
	m.run(ctx)
	r := m.Report()
	if want := []string{"002_index", "003_concurrently", "004_two_statements"}; r.State != migrationsDone || r.Error != "" || !slices.Equal(names(r.Applied), want) {
		t.Fatalf("got %+v, want done with %v applied", r, want)
	}
	for _, a := range r.Applied {
		if a.Seconds <= 0 {
			t.Errorf("%s: got %v seconds, want its duration", a.Name, a.Seconds)
		}
	}
	if got, want := versions(t, conn), []string{"001_create_orders", "002_index", "003_concurrently", "004_two_statements"}; !slices.Equal(got, want) {
		t.Errorf("schema_migrations: got %v, want %v", got, want)
	}
	var indexes []string
	conn.QueryRow(ctx, "SELECT array_agg(indexname::text ORDER BY indexname) FROM pg_indexes WHERE tablename IN ('orders', 'refunds')").Scan(&indexes)
	if want := []string{"orders_created_at", "orders_customer", "orders_pkey", "refunds_order"}; !slices.Equal(indexes, want) {
		t.Errorf("indexes: got %v, want %v", indexes, want)
	}
	for _, want := range []string{"migration 002_index: applied in ", "migration 003_concurrently: applied in ", "migrations: 3 applied from " + filepath.Join(releases, "c1", "migrations")} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log:\n%s\nwant it to contain %q", logged.String(), want)
		}
	}

	t.Run("again: nothing to apply", func(t *testing.T) {
		m := newMigrator(dbURL, releases, "c1", logf)
		m.run(ctx)
		if r := m.Report(); r.State != migrationsDone || len(r.Applied) != 0 || !strings.Contains(r.Note, "nothing to apply") {
			t.Errorf("got %+v, want done, nothing applied, and saying so", r)
		}
	})

	t.Run("a failing migration is rolled back and stops the rest", func(t *testing.T) {
		release(t, releases, "c2", map[string]string{
			"005_bad.sql":   "CREATE TABLE coupons (code text);\nSELECT no_such_column FROM orders;\n",
			"006_after.sql": "CREATE TABLE after_bad (x int);",
		})
		m := newMigrator(dbURL, releases, "c2", logf)
		m.run(ctx)
		r := m.Report()
		if r.State != migrationsFailed || !strings.Contains(r.Error, "005_bad: ") || !strings.Contains(r.Error, "no_such_column") || len(r.Applied) != 0 {
			t.Errorf("got %+v, want failed at 005_bad, nothing applied", r)
		}
		var tables int
		conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename IN ('coupons', 'after_bad')").Scan(&tables)
		if tables != 0 || slices.Contains(versions(t, conn), "005_bad") {
			t.Errorf("got %d of its tables and versions %v, want the failed migration rolled back and the next not run", tables, versions(t, conn))
		}
	})
}

// TestMigratorInstancesTakeTurns: the module's instances start together
// against one database; each migration runs once.
func TestMigratorInstancesTakeTurns(t *testing.T) {
	dbURL, conn := ordersDatabase(t, 20000)
	releases := release(t, "", "c1", map[string]string{
		"002_index.sql":        "CREATE INDEX orders_created_at ON orders (created_at);",
		"003_concurrently.sql": "CREATE INDEX CONCURRENTLY orders_customer ON orders (customer_id);",
	})
	migrators := make([]*migrator, 3)
	var wg sync.WaitGroup
	for i := range migrators {
		migrators[i] = newMigrator(dbURL, releases, "c1", func(string, ...any) {})
		wg.Go(func() { migrators[i].run(context.Background()) })
	}
	wg.Wait()
	var applied []string
	for _, m := range migrators {
		r := m.Report()
		if r.State != migrationsDone {
			t.Errorf("an instance: got %+v, want done", r)
		}
		applied = append(applied, names(r.Applied)...)
	}
	slices.Sort(applied)
	if want := []string{"002_index", "003_concurrently"}; !slices.Equal(applied, want) {
		t.Errorf("the instances applied %v between them, want each migration once: %v", applied, want)
	}
	if got := versions(t, conn); len(got) != 3 {
		t.Errorf("schema_migrations: got %v", got)
	}
}

// TestMigratorWithoutRelease: nothing to run, said why, and the database
// (here none answers) not even connected to.
func TestMigratorWithoutRelease(t *testing.T) {
	releases := release(t, "", "c1", nil)
	tests := []struct {
		name, releases, commit, want string
	}{
		{"no releases directory", "", "c1", "PREVIEW_WEB_RELEASES is not set: no release to migrate"},
		{"no release for the commit", releases, "c2", "no release for commit c2 (" + filepath.Join(releases, "c2", "migrations") + "): nothing to migrate"},
		{"no commit", releases, "", `no release for commit "": nothing to migrate`},
		{"a commit that is a path", releases, "../x", `no release for commit "../x": nothing to migrate`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMigrator("postgres://nobody@127.0.0.1:1/none", tt.releases, tt.commit, func(string, ...any) {})
			m.run(context.Background())
			if r := m.Report(); r.State != migrationsDone || r.Note != tt.want || r.Error != "" {
				t.Errorf("got %+v, want done with note %q", r, tt.want)
			}
		})
	}
}

// TestStartMigrates runs the real server: start returns while the
// migration runs (it waits on a lock this test holds), and the page then
// shows it with its duration.
func TestStartMigrates(t *testing.T) {
	dbURL, conn := ordersDatabase(t, 1000)
	ctx := context.Background()
	releases := release(t, "", "c1", map[string]string{"002_index.sql": "CREATE INDEX orders_created_at ON orders (created_at);"})
	t.Setenv(databaseURLVariable, dbURL)
	t.Setenv(releasesVariable, releases)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Cleanup(func() { run([]string{"stop", dir}, io.Discard, io.Discard) })
	started := time.Now()
	url := mustStart(t, "-commit=c1", dir)

	in := getInfo(t, url)
	if in.Migrations == nil || in.Migrations.State != migrationsRunning {
		t.Fatalf("while the table is locked: got migrations %+v, want running", in.Migrations)
	}
	// Watched from another connection: in a transaction, pg_stat_activity
	// is the snapshot its first read took.
	watcher, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(ctx)
	for waiting := false; !waiting; time.Sleep(20 * time.Millisecond) {
		err := watcher.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity
			WHERE application_name = 'preview-web migrations' AND wait_event_type = 'Lock')`).Scan(&waiting)
		if err != nil || time.Since(started) > 10*time.Second {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("the migration does not wait for the lock (%v): migrations %+v, log:\n%s", err, getInfo(t, url).Migrations, log)
		}
	}
	time.Sleep(300 * time.Millisecond) // the migration waits this long at least
	tx.Rollback(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for in.Migrations.State == migrationsRunning && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		in = getInfo(t, url)
	}
	r := in.Migrations
	if r.State != migrationsDone || len(r.Applied) != 1 || r.Applied[0].Name != "002_index" || r.Applied[0].Seconds < 0.3 || r.Applied[0].Seconds > time.Since(started).Seconds() {
		t.Fatalf("got %+v, want 002_index applied, in at least the 0.3 s it waited", r)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "<tr><th>002_index</th><td>applied in ") {
		t.Errorf("the page does not show the migration:\n%s", page)
	}
	if strings.Contains(string(page), dbURL) {
		t.Errorf("the page shows the connection string")
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	if !strings.Contains(string(log), "migration 002_index: applied in ") || strings.Contains(string(log), dbURL) {
		t.Errorf("log:\n%s\nwant the migration and its duration, never the connection string", log)
	}
}

// TestStartWithoutDatabase: without DATABASE_URL, no migrations at all.
func TestStartWithoutDatabase(t *testing.T) {
	t.Setenv(databaseURLVariable, "")
	dir := t.TempDir()
	t.Cleanup(func() { run([]string{"stop", dir}, io.Discard, io.Discard) })
	url := mustStart(t, "-commit=c1", dir)
	resp, err := http.Get(url + "info.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]json.RawMessage
	json.NewDecoder(resp.Body).Decode(&raw)
	if _, ok := raw["migrations"]; ok || raw["commit"] == nil {
		t.Errorf("info.json without a database: got keys %v, want no migrations", raw)
	}
}
