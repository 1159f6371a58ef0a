package enginetest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/jackc/pgx/v5"

	"github.com/previewd/previewd/internal/enginetest"
	"github.com/previewd/previewd/internal/pgtest"
)

// root is the repository's root as this package's tests reach it.
const root = "../.."

// TestPGProviderDriftOnEachEngine proves that previewd/pg (built from
// testdata/terraform-provider-pg) manages real PostgreSQL objects on
// Terraform and on OpenTofu: an apply creates them and a plan after it is
// empty; a connection limit changed by hand shows in a refresh-only plan as
// drift from the applied value to the live one, and a normal plan proposes
// setting it back; applying that plan does; destroy drops them.
func TestPGProviderDriftOnEachEngine(t *testing.T) {
	t.Parallel()
	for _, engine := range []struct {
		name string
		bin  func(testing.TB, string) string
	}{
		{"terraform", enginetest.Terraform},
		{"tofu", enginetest.Tofu},
	} {
		t.Run(engine.name, func(t *testing.T) {
			t.Parallel()
			conn := pgtest.Conn(t)
			e := pgEngine(t, engine.bin(t, root), enginetest.PGProviderMirror(t, root))
			role, database := uniqueName(t, conn, "ROLE"), uniqueName(t, conn, "DATABASE")
			writeModule(t, e.dir, fmt.Sprintf(`terraform {
  required_providers {
    pg = { source = "previewd/pg", version = "0.1.0" }
  }
}

resource "pg_role" "app" {
  name             = %q
  connection_limit = 200
}

resource "pg_database" "app" {
  name             = %q
  connection_limit = 10
}
`, role, database))
			hotfixes := []hotfix{
				{"pg_role.app", role, "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1", "ALTER ROLE %s CONNECTION LIMIT 400", 200, 400},
				{"pg_database.app", database, "SELECT datconnlimit FROM pg_database WHERE datname = $1", "ALTER DATABASE %s CONNECTION LIMIT 20", 10, 20},
			}
			applied := func(h hotfix) int { return int(h.applied) }

			e.run(t, "init", "-input=false")
			e.run(t, "apply", "-input=false", "-auto-approve")
			checkLimits(t, conn, hotfixes, "after apply", applied)
			if changes := e.pendingChanges(t); changes != "" {
				t.Fatalf("plan after apply proposes changes:\n%s", changes)
			}

			for _, h := range hotfixes {
				if _, err := conn.Exec(t.Context(), fmt.Sprintf(h.alter, pgx.Identifier{h.name}.Sanitize())); err != nil {
					t.Fatal(err)
				}
			}
			outside := e.plan(t, "refresh.tfplan", "-refresh-only")
			next := e.plan(t, "revert.tfplan")
			for _, h := range hotfixes {
				if got, ok := connectionLimitChange(outside.ResourceDrift, h.address); !ok || got != [2]float64{h.applied, h.live} {
					t.Errorf("refresh-only plan: %s's connection limit drifted %v (found: %t), want %v → %v; drift: %s", h.address, got, ok, h.applied, h.live, changesJSON(outside.ResourceDrift))
				}
				if got, ok := connectionLimitChange(next.ResourceChanges, h.address); !ok || got != [2]float64{h.live, h.applied} {
					t.Errorf("plan: %s's connection limit changes %v (found: %t), want %v → %v; changes: %s", h.address, got, ok, h.live, h.applied, changesJSON(next.ResourceChanges))
				}
			}
			for _, rc := range outside.ResourceChanges {
				if !rc.Change.Actions.NoOp() {
					t.Errorf("refresh-only plan proposes %v on %s", rc.Change.Actions, rc.Address)
				}
			}

			e.run(t, "apply", "-input=false", "revert.tfplan")
			checkLimits(t, conn, hotfixes, "after the reverting apply", applied)

			e.run(t, "destroy", "-input=false", "-auto-approve")
			checkLimits(t, conn, hotfixes, "after destroy", func(hotfix) int { return missing })
		})
	}
}

// hotfix is a change made by hand, outside Terraform, to the connection
// limit of a resource (address) and the object it manages (name): the
// value Terraform applied and the one the object has since the change.
type hotfix struct {
	address, name string
	query         string // the object's connection limit, by name
	alter         string // the change, with a %s for the quoted name
	applied, live float64
}

// checkLimits fails the test when an object's connection limit on the
// server is not the one want gives (missing when it should be gone).
func checkLimits(t *testing.T, conn *pgx.Conn, hotfixes []hotfix, when string, want func(hotfix) int) {
	t.Helper()
	for _, h := range hotfixes {
		if got, want := connectionLimit(t, conn, h.query, h.name), want(h); got != want {
			t.Errorf("%s %s: connection limit %d, want %d (%d: no such object)", h.address, when, got, want, missing)
		}
	}
}

// engineDir runs one engine in one module's directory.
type engineDir struct {
	bin, dir string
	env      []string
}

// pgEngine returns bin in a directory of its own, installing providers from
// mirror and connecting previewd/pg to pgtest's server through the libpq
// variables, as production's credentials would reach it.
func pgEngine(t *testing.T, bin, mirror string) engineDir {
	t.Helper()
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+enginetest.MirrorConfig(t, mirror), "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	return engineDir{bin: bin, dir: t.TempDir(), env: append(env, libpqEnv(t, pgtest.URL())...)}
}

// libpqEnv returns the libpq environment variables naming the server and
// database of a postgres:// URL.
func libpqEnv(t *testing.T, raw string) []string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("PostgreSQL URL: %v", err)
	}
	password, _ := u.User.Password()
	var env []string
	for _, v := range [][2]string{
		{"PGHOST", u.Hostname()}, {"PGPORT", u.Port()}, {"PGUSER", u.User.Username()}, {"PGPASSWORD", password},
		{"PGDATABASE", strings.TrimPrefix(u.Path, "/")}, {"PGSSLMODE", u.Query().Get("sslmode")},
	} {
		if v[1] != "" {
			env = append(env, v[0]+"="+v[1])
		}
	}
	return env
}

// run runs the engine with args and returns its output; a failure fails
// the test with that output.
func (e engineDir) run(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := e.command(t, args...).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("%s %s: %v\n%s%s", filepath.Base(e.bin), strings.Join(args, " "), err, out, exit.Stderr)
		}
		t.Fatalf("%s %s: %v", filepath.Base(e.bin), strings.Join(args, " "), err)
	}
	return out
}

// command is the engine's command for args, output without color.
func (e engineDir) command(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), e.bin, append(args[:1:1], append([]string{"-no-color"}, args[1:]...)...)...)
	cmd.Dir = e.dir
	cmd.Env = e.env
	return cmd
}

// plan saves a plan with the extra args to file and returns it as `show
// -json` reads it.
func (e engineDir) plan(t *testing.T, file string, args ...string) *tfjson.Plan {
	t.Helper()
	e.run(t, append([]string{"plan", "-input=false", "-out=" + file}, args...)...)
	var plan tfjson.Plan
	if err := json.Unmarshal(e.run(t, "show", "-json", file), &plan); err != nil {
		t.Fatalf("show -json %s: %v", file, err)
	}
	return &plan
}

// pendingChanges returns what a plan would change, "" when nothing
// (-detailed-exitcode: 0 none, 2 some).
func (e engineDir) pendingChanges(t *testing.T) string {
	t.Helper()
	out, err := e.command(t, "plan", "-input=false", "-detailed-exitcode").CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &exit) && exit.ExitCode() == 2:
		return string(out)
	}
	t.Fatalf("plan -detailed-exitcode: %v\n%s", err, out)
	return ""
}

// connectionLimitChange returns the connection limit before and after the
// update of address among changes; ok is false when there is no such
// update.
func connectionLimitChange(changes []*tfjson.ResourceChange, address string) (change [2]float64, ok bool) {
	for _, rc := range changes {
		if rc.Address != address || !rc.Change.Actions.Update() {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		after, _ := rc.Change.After.(map[string]any)
		b, okBefore := before["connection_limit"].(float64)
		a, okAfter := after["connection_limit"].(float64)
		return [2]float64{b, a}, okBefore && okAfter
	}
	return change, false
}

func changesJSON(changes []*tfjson.ResourceChange) string {
	b, _ := json.Marshal(changes)
	return string(b)
}

// missing is connectionLimit's answer for an object that does not exist.
const missing = -2

// connectionLimit returns what query (one row, one limit) says of name, or
// missing when it returns no row.
func connectionLimit(t *testing.T, conn *pgx.Conn, query, name string) int {
	t.Helper()
	var limit int
	err := conn.QueryRow(t.Context(), query, name).Scan(&limit)
	if errors.Is(err, pgx.ErrNoRows) {
		return missing
	}
	if err != nil {
		t.Fatalf("%s (%s): %v", query, name, err)
	}
	return limit
}

// uniqueName returns a role or database name (kind) no other test uses,
// dropping the object, if the test left it, when the test ends.
func uniqueName(t *testing.T, conn *pgx.Conn, kind string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "previewd_pgprovider_" + hex.EncodeToString(b)
	drop := "DROP " + kind + " IF EXISTS " + pgx.Identifier{name}.Sanitize()
	if kind == "DATABASE" {
		drop += " WITH (FORCE)"
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, drop); err != nil {
			t.Errorf("%s: %v", drop, err)
		}
	})
	return name
}

func writeModule(t *testing.T, dir, main string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
}
