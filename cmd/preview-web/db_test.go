package main

// These tests run on the real PostgreSQL server `make postgres` makes sure
// of (pgtest: under CI its absence fails them; elsewhere it skips them).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/previewd/previewd/internal/pgtest"
)

// dbCanary is the administrator's password in the tests' connection
// string (trust authentication ignores it): it must show nowhere.
const dbCanary = "db-canary-5c1e"

// testNames returns a prefix no other test uses, and drops, when the test
// ends, every database and role whose name starts with it (templates
// first made ordinary again: PostgreSQL refuses to drop a template).
func testNames(t *testing.T, admin *pgx.Conn) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	prefix := "pw_test_" + hex.EncodeToString(b) + "_"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rows, _ := admin.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix)
		names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, name := range names {
			for _, stmt := range []string{"ALTER DATABASE " + ident(name) + " WITH IS_TEMPLATE false", "DROP DATABASE " + ident(name) + " WITH (FORCE)"} {
				if _, err := admin.Exec(ctx, stmt); err != nil {
					t.Errorf("clean up: %s: %v", stmt, err)
				}
			}
		}
		rows, _ = admin.Query(ctx, "SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1)", prefix)
		roles, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, role := range roles {
			if _, err := admin.Exec(ctx, "DROP ROLE "+ident(role)); err != nil {
				t.Errorf("clean up: drop role %s: %v", role, err)
			}
		}
	})
	return prefix
}

// serverURL is the tests' server as user (with a password when given) on
// database.
func serverURL(t *testing.T, user, password, database string) string {
	t.Helper()
	u, err := url.Parse(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)
	if password != "" {
		u.User = url.UserPassword(user, password)
	}
	u.Path = "/" + database
	return u.String()
}

// runDB runs "preview-web db ARGS" and returns what it printed and its
// exit code.
func runDB(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := run(append([]string{"db"}, args...), &out, &out)
	if strings.Contains(out.String(), dbCanary) {
		t.Errorf("db %q printed the administrator's password:\n%s", args, out.String())
	}
	return out.String(), code
}

func mustDB(t *testing.T, args ...string) string {
	t.Helper()
	out, code := runDB(t, args...)
	if code != 0 {
		t.Fatalf("db %q: exit %d:\n%s", args, code, out)
	}
	return out
}

func TestDBCreateDrop(t *testing.T) {
	admin := pgtest.Conn(t)
	prefix := testNames(t, admin)
	template, name, role := prefix+"template", prefix+"orders", prefix+"stats"
	u, _ := url.Parse(pgtest.URL())
	t.Setenv(adminURLVariable, serverURL(t, u.User.Username(), dbCanary, "postgres"))
	ctx := context.Background()

	out := mustDB(t, "create", "-name", name, "-template", template, "-rows", "1000", "-stats-role", role)
	for _, want := range []string{"template " + template + ": made in", "database " + name + ": copied from " + template + " in", "role " + role + ": created"} {
		if !strings.Contains(out, want) {
			t.Errorf("create: got output\n%s\nwant it to say %q", out, want)
		}
	}
	conn, err := pgx.Connect(ctx, serverURL(t, u.User.Username(), "", name))
	if err != nil {
		t.Fatal(err)
	}
	var count int
	var estimate float32
	var versions []string
	if err := conn.QueryRow(ctx, "SELECT count(*), (SELECT reltuples FROM pg_class WHERE oid = 'orders'::regclass) FROM orders").Scan(&count, &estimate); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT array_agg(version) FROM schema_migrations").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if count != 1000 || estimate != 1000 || len(versions) != 1 || versions[0] != "001_create_orders" {
		t.Errorf("the copy holds %d orders (estimate %v) and migrations %v; want 1000 and 1000, and [001_create_orders]", count, estimate, versions)
	}
	var isTemplate, allowConn bool
	if err := admin.QueryRow(ctx, "SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1", template).Scan(&isTemplate, &allowConn); err != nil {
		t.Fatal(err)
	}
	if !isTemplate || allowConn {
		t.Errorf("template: got datistemplate %v datallowconn %v, want a template no one connects to", isTemplate, allowConn)
	}

	t.Run("the stats role reads statistics only", func(t *testing.T) {
		stats, err := pgx.Connect(ctx, serverURL(t, role, "", name))
		if err != nil {
			t.Fatalf("the stats role cannot connect: %v", err)
		}
		defer stats.Close(ctx)
		var readOnly string
		if err := stats.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = to_regclass('orders')").Scan(&estimate); err != nil || estimate != 1000 {
			t.Errorf("row estimate: got %v, %v; want 1000", estimate, err)
		}
		if err := stats.QueryRow(ctx, "SHOW default_transaction_read_only").Scan(&readOnly); err != nil || readOnly != "on" {
			t.Errorf("default_transaction_read_only: got %q, %v; want on", readOnly, err)
		}
		if _, err := stats.Exec(ctx, "SELECT count(*) FROM orders"); pgCode(err) != "42501" {
			t.Errorf("reading orders: got %v, want permission denied (42501)", err)
		}
	})

	t.Run("again: nothing made", func(t *testing.T) {
		out := mustDB(t, "create", "-name", name, "-template", template, "-rows", "1000", "-stats-role", role)
		if !strings.Contains(out, "database "+name+": exists") || strings.Contains(out, "made") || strings.Contains(out, "created") {
			t.Errorf("second create: got\n%s\nwant the database found, nothing made", out)
		}
	})

	t.Run("concurrent creates make the template once", func(t *testing.T) {
		template2 := prefix + "template2"
		var wg sync.WaitGroup
		outs := make([]string, 3)
		for i := range outs {
			wg.Go(func() {
				var code int
				if outs[i], code = runDB(t, "create", "-name", prefix+"copy"+string(rune('a'+i)), "-template", template2, "-rows", "20000"); code != 0 {
					t.Errorf("create %d: exit %d:\n%s", i, code, outs[i])
				}
			})
		}
		wg.Wait()
		made := strings.Count(strings.Join(outs, ""), "template "+template2+": made in")
		copied := strings.Count(strings.Join(outs, ""), "copied from "+template2)
		if made != 1 || copied != 3 {
			t.Errorf("got the template made %d times and %d copies, want 1 and 3:\n%s", made, copied, strings.Join(outs, "\n"))
		}
	})

	t.Run("a half-made template is made again", func(t *testing.T) {
		template3 := prefix + "template3"
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident(template3+buildingSuffix)); err != nil {
			t.Fatal(err)
		}
		out := mustDB(t, "create", "-name", prefix+"copy_d", "-template", template3, "-rows", "10")
		var n int
		admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", template3+buildingSuffix).Scan(&n)
		if !strings.Contains(out, "template "+template3+": made in") || n != 0 {
			t.Errorf("got\n%s\nand %d databases %s left; want the template made and none left", out, n, template3+buildingSuffix)
		}
	})

	t.Run("an existing database needs no template", func(t *testing.T) {
		out := mustDB(t, "create", "-name", name, "-template", prefix+"never_made")
		var n int
		admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", prefix+"never_made").Scan(&n)
		if !strings.Contains(out, "database "+name+": exists") || n != 0 {
			t.Errorf("got\n%s\nand %d templates made; want the database found and no template made", out, n)
		}
	})

	t.Run("drop a template", func(t *testing.T) {
		if out := mustDB(t, "drop", "-name", template); !strings.Contains(out, "database "+template+": dropped") {
			t.Errorf("drop: got %q", out)
		}
	})

	t.Run("drop", func(t *testing.T) {
		// A session on the database does not stop it.
		held, err := pgx.Connect(ctx, serverURL(t, u.User.Username(), "", name))
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close(ctx)
		if out := mustDB(t, "drop", "-name", name); !strings.Contains(out, "database "+name+": dropped") {
			t.Errorf("drop: got %q", out)
		}
		var n int
		admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
		if n != 0 {
			t.Errorf("database %s still exists after drop", name)
		}
		if out := mustDB(t, "drop", "-name", name); !strings.Contains(out, "does not exist") {
			t.Errorf("second drop: got %q, want it to say the database does not exist", out)
		}
	})
}

func TestDBErrors(t *testing.T) {
	long := strings.Repeat("x", 64)
	tests := []struct {
		name    string
		env     string
		args    []string
		wantErr string
	}{
		{"no subcommand", "postgres://u@127.0.0.1:1/postgres", nil, "usage: preview-web db create"},
		{"unknown subcommand", "postgres://u@127.0.0.1:1/postgres", []string{"frob", "-name", "x"}, "usage: preview-web db create"},
		{"no name", "postgres://u@127.0.0.1:1/postgres", []string{"create"}, "-name: is empty"},
		{"long name", "postgres://u@127.0.0.1:1/postgres", []string{"drop", "-name", long}, "longer than PostgreSQL's 63 bytes"},
		{"long template", "postgres://u@127.0.0.1:1/postgres", []string{"create", "-name", "x", "-template", long[:60]}, "-template: \"" + long[:60] + "\" is too long: at most 54 bytes"},
		{"no rows", "postgres://u@127.0.0.1:1/postgres", []string{"create", "-name", "x", "-rows", "0"}, "-rows: want at least 1"},
		{"its own template", "postgres://u@127.0.0.1:1/postgres", []string{"create", "-name", "t", "-template", "t"}, "cannot be its own template"},
		{"a connection string flag", "postgres://u@127.0.0.1:1/postgres", []string{"create", "-name", "x", "-url", "postgres://"}, "flag provided but not defined: -url"},
		{"no admin URL", "", []string{"create", "-name", "x"}, "DATABASE_ADMIN_URL is not set"},
		{"a bad admin URL", "postgres://u:" + dbCanary + "@[::1/postgres", []string{"drop", "-name", "x"}, "DATABASE_ADMIN_URL does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(adminURLVariable, tt.env)
			out, code := runDB(t, tt.args...)
			if code == 0 || !strings.Contains(out, tt.wantErr) {
				t.Errorf("db %q: got exit %d:\n%s\nwant an error containing %q", tt.args, code, out, tt.wantErr)
			}
		})
	}
}
