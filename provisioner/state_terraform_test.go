package provisioner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
)

// TestStateInPostgres runs two environments' lifecycle with Terraform's pg
// backend on a real PostgreSQL server: each state is a workspace of its own
// there, carrying the environment's name, nothing of it is left on
// previewd's disk, and a destroy leaves nothing behind in PostgreSQL. It
// runs on Terraform and on OpenTofu.
func TestStateInPostgres(t *testing.T) {
	t.Parallel()
	for engine, bin := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			testStateInPostgres(t, bin)
		})
	}
}

func testStateInPostgres(t *testing.T, bin string) {
	db, conn := pgtest.Database(t)
	// A setting reaches Terraform as it is written, "${" included.
	schema := "previewd_${states}"
	mod := fixture("basic")
	mod.State = State{Backend: "pg", Config: map[string]string{"conn_str": db, "schema_name": schema}}
	p, dataDir := newTestProvisioner(t, mod, func(c *Config) { c.TerraformBin = bin })
	ctx := context.Background()
	for _, name := range []string{"pg-a", "pg-b"} {
		var log waittest.Buffer
		res, err := p.Apply(ctx, testEnv(name, "sha-"+name), &log)
		if err != nil {
			t.Fatalf("apply %s: %v\n%s", name, err, log.String())
		}
		if want := "http://" + name + ".preview.test/sha-" + name; res.URL != want {
			t.Errorf("%s: url %q, want %q", name, res.URL, want)
		}
		if strings.Contains(log.String(), "hunter2") {
			t.Errorf("%s: the sensitive output is in the log:\n%s", name, log.String())
		}
	}
	if got, want := pgtest.StateNames(t, conn, schema), []string{"previewd-pg-a", "previewd-pg-b"}; !slices.Equal(got, want) {
		t.Fatalf("workspaces in PostgreSQL: %v, want %v", got, want)
	}
	var data string
	if err := conn.QueryRow(ctx, "SELECT data FROM "+pgx.Identifier{schema, "states"}.Sanitize()+" WHERE name = 'previewd-pg-a'").Scan(&data); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(data, "runtime/pg-a") || strings.Contains(data, "runtime/pg-b") {
		t.Errorf("pg-a's state holds something else than pg-a's resource:\n%s", data)
	}
	if files := pgtest.StateFiles(t, dataDir); len(files) > 0 {
		t.Errorf("state files on previewd's disk with a remote backend: %v", files)
	}

	env := testEnv("pg-a", "sha-pg-a")
	if res, err := p.PlanApplied(ctx, env, nil); err != nil || res.Plan == nil {
		t.Errorf("plan as applied: %v", err)
	}
	if res, err := p.PlanApplied(ctx, env, nil); err != nil || res.Plan == nil {
		t.Errorf("a fresh plan of the remote state: %v", err)
	}
	if outputs, err := p.SensitiveOutputs(ctx, env); err != nil || outputs["password"] != "hunter2" {
		t.Errorf("sensitive outputs: %v, %v", outputs, err)
	}
	if changed, _, err := p.DetectDrift(ctx, env, nil); err != nil || changed {
		t.Errorf("drift check: changed %v, %v; want no drift", changed, err)
	}

	// A workspace whose state holds resources is never deleted: a destroy
	// that left some fails rather than losing track of them.
	r, err := p.ready(ctx, env, mod, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.deleteWorkspace(ctx, env.Name); err == nil {
		t.Error("deleting the workspace of an environment that holds resources succeeded")
	}
	if got, want := pgtest.StateNames(t, conn, schema), []string{"previewd-pg-a", "previewd-pg-b"}; !slices.Equal(got, want) {
		t.Fatalf("workspaces in PostgreSQL after a refused delete: %v, want %v", got, want)
	}

	for _, name := range []string{"pg-a", "pg-b"} {
		var log waittest.Buffer
		if err := p.Destroy(ctx, testEnv(name, "sha-"+name), &log); err != nil {
			t.Fatalf("destroy %s: %v\n%s", name, err, log.String())
		}
		if _, err := os.Stat(filepath.Join(dataDir, "envs", name)); !os.IsNotExist(err) {
			t.Errorf("%s's directory is still there after its destroy: %v", name, err)
		}
		// The state is pulled once, before the destroy (its secrets, and
		// whether it holds anything): `workspace delete` checks it after.
		if pulls := strings.Count(log.String(), " state pull"); pulls != 1 {
			t.Errorf("%s's destroy pulled the state %d times, want 1:\n%s", name, pulls, log.String())
		}
	}
	if got := pgtest.StateNames(t, conn, schema); len(got) != 0 {
		t.Errorf("workspaces left in PostgreSQL after every destroy: %v", got)
	}
	// A destroyed environment's plan finds nothing to compare.
	if _, err := p.PlanApplied(ctx, env, nil); err == nil || !strings.Contains(err.Error(), "destroyed") {
		t.Errorf("plan of a destroyed environment: %v, want it reported destroyed", err)
	}
	if got := pgtest.StateNames(t, conn, schema); len(got) != 0 {
		t.Errorf("looking at a destroyed environment left workspaces: %v", got)
	}
}

// TestManyFirstAppliesAtOnceInPostgres starts 12 environments' first
// applies at once on a fresh database with the pg backend: they race to
// create the backend's table, and each creates its workspace under the
// backend's one creation lock, which Terraform takes without waiting. All
// must succeed, and then be destroyed at once too.
func TestManyFirstAppliesAtOnceInPostgres(t *testing.T) {
	t.Parallel()
	db, conn := pgtest.Database(t)
	mod := fixture("basic")
	mod.State = State{Backend: "pg", Config: map[string]string{"conn_str": db}}
	p, _ := newTestProvisioner(t, mod, func(*Config) {})
	ctx := context.Background()
	const n = 12
	errs := make(chan error, n)
	for i := range n {
		go func() {
			var log waittest.Buffer
			_, err := p.Apply(ctx, testEnv(fmt.Sprintf("many-%d", i), "sha"), &log)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("apply: %v", err)
		}
	}
	if got := pgtest.StateNames(t, conn, pgtest.StateSchema); len(got) != n {
		t.Errorf("%d workspaces, want %d: %v", len(got), n, got)
	}
	for i := range n {
		go func() { errs <- p.Destroy(ctx, testEnv(fmt.Sprintf("many-%d", i), "sha"), nil) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("destroy: %v", err)
		}
	}
	if got := pgtest.StateNames(t, conn, pgtest.StateSchema); len(got) != 0 {
		t.Errorf("workspaces left: %v", got)
	}
}
