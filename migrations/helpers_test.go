package migrations_test

import (
	"context"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/migrations"
)

// secret is the password the tests put in connection strings: the server
// trusts 127.0.0.1 and ignores it, and no error or report may show it.
const secret = "Xq7-zebra-Pa55w0rd-91"

// withPassword is connString with user and the secret as its password.
func withPassword(t *testing.T, connString, user string) string {
	t.Helper()
	u, err := url.Parse(connString)
	if err != nil {
		t.Fatal(err)
	}
	if user == "" {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, secret)
	return u.String()
}

// noSecret fails t when text shows the secret or one of parts (of a
// connection string).
func noSecret(t *testing.T, what, text string, parts ...string) {
	t.Helper()
	for _, p := range append([]string{secret}, parts...) {
		if strings.Contains(text, p) {
			t.Errorf("%s shows %q: %s", what, p, text)
		}
	}
}

// connect is a connection of the test's own to connString.
func connect(t *testing.T, connString string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// exec runs statements on conn, failing t on the first error.
func exec(t *testing.T, conn *pgx.Conn, statements ...string) {
	t.Helper()
	for _, s := range statements {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// timed runs statements on conn, one after another, and returns how
// long they took, from the client.
func timed(t *testing.T, conn *pgx.Conn, statements ...string) time.Duration {
	t.Helper()
	start := time.Now()
	exec(t, conn, statements...)
	return time.Since(start)
}

// watch starts a watcher with the default options.
func watch(t *testing.T, connString string) *migrations.Watcher {
	t.Helper()
	w, err := migrations.Watch(context.Background(), connString, migrations.Options{})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	t.Cleanup(func() { w.Stop() })
	return w
}

// offPhase sleeps for a random part of an interval: a statement run
// right after Watch would otherwise start as its first sample is taken,
// every time, and its duration's estimate would always round up.
func offPhase() {
	time.Sleep(rand.N(interval))
}

// holdOf is the hold of report on relation, nil without one.
func holdOf(report preview.DatabaseReport, relation string) *preview.LockHold {
	for i := range report.Holds {
		if report.Holds[i].Relation == relation {
			return &report.Holds[i]
		}
	}
	return nil
}

// logReport logs report and what sampling cost.
func logReport(t *testing.T, w *migrations.Watcher, report preview.DatabaseReport) {
	t.Helper()
	queries, over, mean := w.Overhead()
	t.Logf("%d samples over %s (%.1f queries/s, mean query %s); why %q", report.Samples, over.Round(time.Millisecond),
		float64(queries-1)/over.Seconds(), mean.Round(time.Microsecond), report.Why)
	for _, h := range report.Holds {
		t.Logf("  %s: %s, writes %s, reads %s, longest wait %s, %.0f rows: %s", h.Relation, h.Mode,
			h.BlockedWrites.Round(time.Millisecond), h.BlockedReads.Round(time.Millisecond), h.LongestWait.Round(time.Millisecond), h.Rows, h.Statement)
	}
}

// within fails t unless got is within share of want.
func within(t *testing.T, what string, got, want time.Duration, share float64) {
	t.Helper()
	off := got - want
	if off < 0 {
		off = -off
	}
	if float64(off) > share*float64(want) {
		t.Errorf("%s: %s, want %s ± %.0f%% (off by %.1f%%)", what, got.Round(time.Millisecond), want.Round(time.Millisecond), share*100, 100*float64(off)/float64(want))
	} else {
		t.Logf("%s: %s for %s measured (off by %+.1f%%)", what, got.Round(time.Millisecond), want.Round(time.Millisecond), 100*float64(got-want)/float64(want))
	}
}
