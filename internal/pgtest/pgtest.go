// Package pgtest gives tests a PostgreSQL database of their own on the
// server `make test` makes sure of (it starts one when none answers on
// 127.0.0.1:5432).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server the project's machines and `make test` provide.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// URL is the server tests use: PREVIEWD_TEST_POSTGRES_URL, or DefaultURL.
func URL() string {
	if u := os.Getenv("PREVIEWD_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Conn connects to URL. Without a server the test fails under CI (make
// test provides one) and is skipped elsewhere, saying how to get one.
func Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at %s: %v", URL(), err)
		}
		t.Skipf("no PostgreSQL at %s (%v): `make test` starts one, or set PREVIEWD_TEST_POSTGRES_URL", URL(), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Database creates a database no other test uses and returns its URL and
// a connection to it; the database is dropped, with everything in it, when
// the test ends.
func Database(t testing.TB) (string, *pgx.Conn) {
	t.Helper()
	admin := Conn(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "previewd_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	u, err := url.Parse(URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect to %s: %v", name, err)
	}
	t.Cleanup(func() {
		conn.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return u.String(), conn
}

// StateDatabase creates a database for Terraform's pg backend, owned by a
// login role of its own, as docs/install.md tells operators to set it up:
// previewd refuses to hand Terraform its own store's user. It returns the
// database's URL with that role as its user, and an administrator's
// connection to it (to look at the states); both go when the test ends.
func StateDatabase(t testing.TB) (string, *pgx.Conn) {
	t.Helper()
	admin := Conn(t)
	b := make([]byte, 6)
	rand.Read(b)
	role := "previewd_state_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ident := pgx.Identifier{role}.Sanitize()
	for _, stmt := range []string{"CREATE ROLE " + ident + " LOGIN", "CREATE DATABASE " + ident + " OWNER " + ident} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	u, err := url.Parse(URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + role
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect to %s: %v", role, err)
	}
	t.Cleanup(func() {
		conn.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, stmt := range []string{"DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)", "DROP ROLE IF EXISTS " + ident} {
			if _, err := admin.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	u.User = url.User(role)
	return u.String(), conn
}

// StateSchema is where Terraform's pg backend keeps states by default.
const StateSchema = "terraform_remote_state"

// StateNames returns the workspaces Terraform's pg backend holds in schema,
// sorted; none when it never created its table there.
func StateNames(t testing.TB, conn *pgx.Conn, schema string) []string {
	t.Helper()
	ctx := context.Background()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, "states"}.Sanitize()).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return nil
	}
	rows, err := conn.Query(ctx, "SELECT name FROM "+pgx.Identifier{schema, "states"}.Sanitize()+" ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// StateFiles lists the Terraform state files under a data directory:
// what a remote backend must leave none of. Data directories (.terraform,
// and the kept inits under DIR/init) are skipped: terraform.tfstate there
// holds the backend's settings, not state.
func StateFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == ".terraform" || path == filepath.Join(dir, "init")):
			return filepath.SkipDir
		case strings.HasSuffix(d.Name(), ".tfstate") || strings.HasSuffix(d.Name(), ".tfstate.backup"):
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// StateReader makes a login role that may only read the states Terraform's
// pg backend keeps in the database at connString (admin is that database's
// owner, as StateDatabase returns it), as docs/parity.md tells operators to
// make one for the watch of production, and returns connString with that
// role as its user. The role goes when the test ends.
func StateReader(t testing.TB, connString string, admin *pgx.Conn) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	role := "previewd_watch_" + hex.EncodeToString(b)
	ident := pgx.Identifier{role}.Sanitize()
	ctx := context.Background()
	super := Conn(t)
	if _, err := super.Exec(ctx, "CREATE ROLE "+ident+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin.Exec(ctx, "DROP OWNED BY "+ident)
		super.Exec(ctx, "DROP ROLE IF EXISTS "+ident)
	})
	for _, stmt := range []string{
		"GRANT USAGE ON SCHEMA " + StateSchema + " TO " + ident,
		"GRANT SELECT ON " + StateSchema + ".states TO " + ident,
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	u, err := url.Parse(connString)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

// StateData is the state Terraform's pg backend keeps for workspace in the
// database conn is connected to.
func StateData(t testing.TB, conn *pgx.Conn, workspace string) []byte {
	t.Helper()
	var data []byte
	if err := conn.QueryRow(context.Background(), "SELECT data FROM "+StateSchema+".states WHERE name = $1", workspace).Scan(&data); err != nil {
		t.Fatalf("the state of workspace %s: %v", workspace, err)
	}
	return data
}
