package migrations_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
)

// interval is the watcher's default sampling interval.
const interval = 75 * time.Millisecond

// TestCreateIndex is the incident previewd was written for: an index
// built without CONCURRENTLY on 2M rows holds writes off the table for as
// long as it builds; with CONCURRENTLY nothing does.
func TestCreateIndex(t *testing.T) {
	connString, conn := pgtest.Database(t)
	connString = withPassword(t, connString, "")
	took := timed(t, conn,
		`CREATE TABLE orders (id bigserial, created_at timestamptz)`,
		`INSERT INTO orders (created_at) SELECT now() - random() * interval '365 days' FROM generate_series(1, 2000000)`,
		`ANALYZE orders`)
	t.Logf("2M rows in %s", took.Round(time.Millisecond))

	t.Run("without CONCURRENTLY", func(t *testing.T) { testPlainIndex(t, connString, conn) })
	t.Run("CONCURRENTLY", func(t *testing.T) { testConcurrentIndex(t, connString, conn) })
}

// result is how long a statement took and how it ended.
type result struct {
	took time.Duration
	err  error
}

// run runs statement on conn in the background.
func run(conn *pgx.Conn, statement string) <-chan result {
	c := make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := conn.Exec(context.Background(), statement)
		c <- result{time.Since(start), err}
	}()
	return c
}

func testPlainIndex(t *testing.T, connString string, conn *pgx.Conn) {
	const build = `CREATE INDEX orders_created_at ON orders (created_at)`
	inserter := connect(t, connString)
	w := watch(t, connString)
	offPhase()
	built := run(conn, build)
	waittest.Until(t, "the build to hold its ShareLock", func() bool {
		var held bool
		err := inserter.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM pg_locks
			WHERE relation = 'orders'::regclass AND mode = 'ShareLock' AND granted)`).Scan(&held)
		return err == nil && held
	})
	inserted := run(inserter, `INSERT INTO orders (created_at) VALUES (now())`)
	b, i := <-built, <-inserted
	if b.err != nil || i.err != nil {
		t.Fatalf("build: %v; insert: %v", b.err, i.err)
	}
	report := w.Stop()
	logReport(t, w, report)
	t.Logf("build %s, insert waited %s (client side)", b.took.Round(time.Millisecond), i.took.Round(time.Millisecond))

	if !report.Watched || report.Why != "" || report.Samples < int(b.took/interval)/2 {
		t.Errorf("watched %v, %d samples, why %q", report.Watched, report.Samples, report.Why)
	}
	h := holdOf(report, "orders")
	if h == nil {
		t.Fatalf("no hold on orders: %+v", report.Holds)
	}
	if !strings.HasPrefix(h.Statement, build) || h.Mode != "ShareLock" || h.BlockedReads != 0 {
		t.Errorf("statement %q, mode %s, reads blocked %s; want %q, ShareLock, 0", h.Statement, h.Mode, h.BlockedReads, build)
	}
	within(t, "writes blocked", h.BlockedWrites, b.took, 0.2)
	if h.LongestWait <= 0 || h.LongestWait > b.took+interval {
		t.Errorf("longest wait %s, want over 0 and at most %s", h.LongestWait, b.took+interval)
	}
	if h.Rows < 1.9e6 || h.Rows > 2.1e6 {
		t.Errorf("rows %.0f, want about 2M", h.Rows)
	}
	if report.Holds[0].Relation != "orders" {
		t.Errorf("holds not longest first: %+v", report.Holds)
	}
}

func testConcurrentIndex(t *testing.T, connString string, conn *pgx.Conn) {
	exec(t, conn, `DROP INDEX IF EXISTS orders_created_at`)
	w := watch(t, connString)
	offPhase()
	took := timed(t, conn, `CREATE INDEX CONCURRENTLY orders_created_at ON orders (created_at)`)
	report := w.Stop()
	logReport(t, w, report)
	t.Logf("CREATE INDEX CONCURRENTLY took %s", took.Round(time.Millisecond))
	if !report.Watched || report.Samples < int(took/interval)/2 {
		t.Errorf("watched %v, %d samples, why %q", report.Watched, report.Samples, report.Why)
	}
	for _, h := range report.Holds {
		if h.BlockedWrites > 0 {
			t.Errorf("%s: writes blocked %s by %q (%s)", h.Relation, h.BlockedWrites, h.Statement, h.Mode)
		}
	}
	// Its catalog change is not taken for a blocking one no sample saw.
	if h := holdOf(report, "orders"); h != nil {
		t.Errorf("a hold on orders reported for CONCURRENTLY: %+v", h)
	}
}

// TestAccessExclusive: a lock that blocks reads is held as long as its
// transaction lasts, whichever of its statements is running.
func TestAccessExclusive(t *testing.T) {
	connString, conn := pgtest.Database(t)
	exec(t, conn, `CREATE TABLE orders (id int)`, `INSERT INTO orders SELECT generate_series(1, 1000)`, `ANALYZE orders`)
	reader := connect(t, connString)
	w := watch(t, connString)
	offPhase()
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := tx.Exec(context.Background(), `LOCK TABLE orders IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	read := run(reader, `SELECT count(*) FROM orders`)
	if _, err := tx.Exec(context.Background(), `SELECT pg_sleep(0.5)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	held := time.Since(start)
	if r := <-read; r.err != nil {
		t.Fatal(r.err)
	}
	report := w.Stop()
	logReport(t, w, report)

	h := holdOf(report, "orders")
	if h == nil {
		t.Fatalf("no hold on orders: %+v", report.Holds)
	}
	within(t, "reads blocked", h.BlockedReads, held, 0.2)
	if h.Mode != "AccessExclusiveLock" || h.BlockedWrites != h.BlockedReads {
		t.Errorf("mode %s, writes blocked %s; want AccessExclusiveLock, as long as reads", h.Mode, h.BlockedWrites)
	}
	if h.Statement != "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE" && h.Statement != "SELECT pg_sleep(0.5)" {
		t.Errorf("statement %q, want one of the transaction's", h.Statement)
	}
	if h.LongestWait <= 0 || h.LongestWait > held+interval {
		t.Errorf("longest wait %s, want over 0 and at most %s", h.LongestWait, held+interval)
	}
	if h.Rows != 1000 {
		t.Errorf("rows %.0f, want 1000", h.Rows)
	}
}

// TestLockTakenBeforeTheWatch: a migration already holding its lock when
// the watch starts (the application began migrating before the first
// apply ended) is counted from its transaction's start, as the statement
// itself measures it, not from the watch's first sample.
func TestLockTakenBeforeTheWatch(t *testing.T) {
	connString, conn := pgtest.Database(t)
	exec(t, conn, `CREATE TABLE orders (id int)`, `INSERT INTO orders SELECT generate_series(1, 1000)`, `ANALYZE orders`)
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := tx.Exec(context.Background(), `LOCK TABLE orders IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // held a second before anyone watches
	w := watch(t, connString)
	time.Sleep(500 * time.Millisecond)
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	held := time.Since(start)
	report := w.Stop()
	logReport(t, w, report)
	h := holdOf(report, "orders")
	if h == nil {
		t.Fatalf("no hold on orders: %+v", report.Holds)
	}
	within(t, "writes blocked", h.BlockedWrites, held, 0.2)
	if !h.HeldBeforeWatch || h.Statement != "LOCK TABLE orders IN SHARE MODE" {
		t.Errorf("held before the watch %v, statement %q; want true and the LOCK", h.HeldBeforeWatch, h.Statement)
	}
}
