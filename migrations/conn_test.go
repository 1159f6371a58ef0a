package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/migrations"
)

// TestReadOnly: the watcher's connection is refused anything but reads,
// and a sample locks nothing but catalogs, in AccessShareLock.
func TestReadOnly(t *testing.T) {
	connString, admin := pgtest.Database(t)
	exec(t, admin, `CREATE TABLE orders (id int)`)
	ctx := context.Background()
	conn, err := migrations.ConnectLikeWatcher(ctx, connString, migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	for _, s := range []string{`CREATE TABLE widgets (id int)`, `INSERT INTO orders VALUES (1)`, `CREATE INDEX ON orders (id)`} {
		_, err := conn.Exec(ctx, s)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "25006" {
			t.Errorf("%s: %v, want PostgreSQL's read-only error (25006)", s, err)
		}
	}
	for setting, want := range map[string]string{"default_transaction_read_only": "on", "statement_timeout": "2s", "application_name": "previewd-migrations-watch"} {
		var got string
		if err := conn.QueryRow(ctx, "SHOW "+setting).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", setting, got, err, want)
		}
	}

	// A sample, while another session holds a lock it reports, in a
	// transaction kept open to see what the sample locked.
	holder, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	exec(t, holder.Conn(), `LOCK TABLE orders IN SHARE MODE`)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	rows, _ := tx.Query(ctx, migrations.SampleQuery)
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil || n != 1 {
		t.Fatalf("sample: %d rows (%v), want the one ShareLock held", n, err)
	}
	rows, _ = tx.Query(ctx, `SELECT l.relation::regclass::text, l.mode, n.nspname
		FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'`)
	locks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var rel, mode, ns string
		err := r.Scan(&rel, &mode, &ns)
		if mode != "AccessShareLock" || ns != "pg_catalog" {
			err = fmt.Errorf("the watcher holds %s on %s.%s", mode, ns, rel)
		}
		return rel, err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a sample holds AccessShareLock on %s", strings.Join(locks, ", "))
}

// closedPort is a port on 127.0.0.1 nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return fmt.Sprint(port)
}

// silentPort is a port on 127.0.0.1 that takes connections and never
// answers.
func silentPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// noTLSPort is a port on 127.0.0.1 whose server answers a request for
// TLS with no.
func noTLSPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				request := make([]byte, 8) // SSLRequest: its length, 80877103
				if _, err := io.ReadFull(c, request); err == nil {
					c.Write([]byte("N"))
				}
			}()
		}
	}()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// TestUnanswered: a database that does not answer is not watched, and
// the error says why without a word of the connection string.
func TestUnanswered(t *testing.T) {
	defer migrations.SetConnectTimeout(500 * time.Millisecond)()
	existing, _ := pgtest.Database(t)
	u, _ := url.Parse(existing)
	const user, database = "watcher_q7", "shopdb_z9"
	for _, c := range []struct{ name, connString, why string }{
		{"closed port", "postgres://" + user + ":" + secret + "@127.0.0.1:" + closedPort(t) + "/" + database + "?sslmode=disable", "connection refused"},
		{"silent server", "postgres://" + user + ":" + secret + "@127.0.0.1:" + silentPort(t) + "/" + database + "?sslmode=disable", "no answer in time"},
		{"no such role", "postgres://" + user + ":" + secret + "@" + u.Host + "/" + database + "?sslmode=disable", "(SQLSTATE 28000)"},
		{"no such database", withPassword(t, "postgres://"+u.Host+"/"+database+"?sslmode=disable", u.User.Username()), "does not exist (SQLSTATE 3D000)"},
		{"no such host", "postgres://" + user + ":" + secret + "@" + database + ".invalid/" + database + "?sslmode=disable", "does not resolve"},
		{"unparsable", "postgres://" + user + ":" + secret + "@[::1/" + database + "?sslmode=disable", "does not parse"},
		{"silent server, TLS preferred", "postgres://" + user + ":" + secret + "@127.0.0.1:" + silentPort(t) + "/" + database, "no answer in time"},
		{"TLS refused", "postgres://" + user + ":" + secret + "@127.0.0.1:" + noTLSPort(t) + "/" + database + "?sslmode=require", "refused TLS"},
		{"key=value", "host=127.0.0.1 port=" + closedPort(t) + " user=" + user + " password=" + secret + " dbname=" + database, "connection refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			w, err := migrations.Watch(context.Background(), c.connString, migrations.Options{})
			if err == nil {
				w.Stop()
				t.Fatal("watched")
			}
			took := time.Since(start)
			t.Logf("%s after %s", err, took.Round(time.Millisecond))
			if took > time.Second || !strings.Contains(err.Error(), c.why) {
				t.Errorf("%q after %s, want %q within the connect timeout", err, took, c.why)
			}
			noSecret(t, "Watch's error", err.Error(), user, database, "127.0.0.1")
			_, err = migrations.Rows(context.Background(), c.connString, []string{"orders"})
			if err == nil {
				t.Fatal("Rows answered")
			}
			noSecret(t, "Rows' error", err.Error(), user, database, "127.0.0.1")
		})
	}
}

// TestGone: a database that goes away mid-watch ends sampling, and Stop
// says why.
func TestGone(t *testing.T) {
	admin := pgtest.Conn(t)
	ctx := context.Background()
	for name, end := range map[string]func(t *testing.T, w *migrations.Watcher, database string){
		"terminated": func(t *testing.T, w *migrations.Watcher, _ string) {
			exec(t, admin, fmt.Sprintf("SELECT pg_terminate_backend(%d)", w.PID()))
		},
		"dropped": func(t *testing.T, _ *migrations.Watcher, database string) {
			exec(t, admin, "DROP DATABASE "+pgx.Identifier{database}.Sanitize()+" WITH (FORCE)")
		},
	} {
		t.Run(name, func(t *testing.T) {
			connString, conn := pgtest.Database(t)
			u, _ := url.Parse(connString)
			database := strings.TrimPrefix(u.Path, "/")
			exec(t, conn, `CREATE TABLE orders (id int)`)
			holder, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			exec(t, holder.Conn(), `LOCK TABLE orders`)
			w := watch(t, withPassword(t, connString, ""))
			time.Sleep(3 * interval)
			end(t, w, database)
			waittest.Until(t, "the watcher's connection to end", func() bool {
				var n int
				err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", int32(w.PID())).Scan(&n)
				return err == nil && n == 0
			})
			time.Sleep(2 * interval)
			report := w.Stop()
			logReport(t, w, report)
			if !report.Watched || report.Samples < 1 || !strings.HasPrefix(report.Why, "sampling stopped after") ||
				!strings.Contains(report.Why, "terminated") {
				t.Errorf("watched %v, %d samples, why %q; want sampling stopped, and why", report.Watched, report.Samples, report.Why)
			}
			noSecret(t, "Why", report.Why, database)
			if h := holdOf(report, "orders"); h == nil || h.BlockedWrites < interval || h.Rows != -1 {
				t.Errorf("hold %+v, want writes blocked while watched, rows unknown", h)
			}
			if report.To.Sub(report.From) > time.Since(report.From)-2*interval {
				t.Errorf("watched from %s to %s: past the end of sampling", report.From, report.To)
			}
		})
	}
}

// TestStop: Stop waits for the sampler, closes the connection, and says
// the same when called again.
func TestStop(t *testing.T) {
	connString, _ := pgtest.Database(t)
	admin := pgtest.Conn(t)
	before := runtime.NumGoroutine()
	w := watch(t, connString)
	time.Sleep(2 * interval)
	first := w.Stop()
	if !first.Watched || first.Samples < 1 || first.Why != "" || len(first.Holds) != 0 || first.To.Before(first.From) {
		t.Errorf("report %+v", first)
	}
	if again := w.Stop(); again.Samples != first.Samples || !again.To.Equal(first.To) {
		t.Errorf("Stop again: %+v, want %+v", again, first)
	}
	waittest.Until(t, "the sampler's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	waittest.Until(t, "the watcher's connection to end", func() bool {
		var n int
		err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", int32(w.PID())).Scan(&n)
		return err == nil && n == 0
	})
}

// TestSamplesFail: samples that keep failing on a connection still open
// end sampling too; Stop says why, and still reads the rows.
func TestSamplesFail(t *testing.T) {
	connString, conn := pgtest.Database(t)
	ctx := context.Background()
	exec(t, conn, `CREATE TABLE orders (id int)`, `INSERT INTO orders SELECT generate_series(1, 10)`, `ANALYZE orders`)
	holder, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	exec(t, holder.Conn(), `LOCK TABLE orders IN EXCLUSIVE MODE`)
	w, err := migrations.Watch(ctx, connString, migrations.Options{StatementTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	time.Sleep(2 * interval)

	// A sample reads pg_namespace: it waits for this lock, and times out.
	locker, err := connect(t, connString).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, locker.Conn(), `LOCK TABLE pg_catalog.pg_namespace IN ACCESS EXCLUSIVE MODE`)
	waittest.Until(t, "sampling to end", func() bool { return !w.Sampling() })
	locker.Rollback(ctx)

	report := w.Stop()
	logReport(t, w, report)
	if !report.Watched || !strings.HasPrefix(report.Why, "sampling stopped after") || !strings.Contains(report.Why, "timeout") {
		t.Errorf("watched %v, why %q; want sampling stopped on a timeout", report.Watched, report.Why)
	}
	if h := holdOf(report, "orders"); h == nil || h.Mode != "ExclusiveLock" || h.Rows != 10 {
		t.Errorf("hold %+v, want orders' ExclusiveLock, 10 rows", h)
	}
}

// TestCancelled: sampling ends with the watch's context.
func TestCancelled(t *testing.T) {
	connString, _ := pgtest.Database(t)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := migrations.Watch(ctx, connString, migrations.Options{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * interval)
	cancel()
	waittest.Until(t, "sampling to end", func() bool { return !w.Sampling() })
	if report := w.Stop(); !report.Watched || !strings.HasSuffix(report.Why, ": cancelled") {
		t.Errorf("watched %v, why %q; want sampling stopped: cancelled", report.Watched, report.Why)
	}
}

// TestNeverSampled: a watch none of whose samples succeeded is not
// watched, and says why.
func TestNeverSampled(t *testing.T) {
	connString, conn := pgtest.Database(t)
	ctx := context.Background()
	locker, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Rollback(ctx)
	exec(t, locker.Conn(), `LOCK TABLE pg_catalog.pg_namespace IN ACCESS EXCLUSIVE MODE`)
	w, err := migrations.Watch(ctx, connString, migrations.Options{StatementTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	waittest.Until(t, "sampling to end", func() bool { return !w.Sampling() })
	report := w.Stop()
	if report.Watched || report.Samples != 0 || !strings.HasPrefix(report.Why, "no sample of the database's locks succeeded: ") {
		t.Errorf("watched %v, %d samples, why %q; want not watched, and why", report.Watched, report.Samples, report.Why)
	}
	t.Log(report.Why)
}
