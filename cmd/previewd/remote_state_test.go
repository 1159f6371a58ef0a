package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/pgtest"
)

// TestKill9DuringApplyWithStateInPostgres keeps the environments' state in
// a real PostgreSQL (Terraform's pg backend) and kills previewd in the
// middle of an apply: the restarted previewd converges (the backend's lock
// went with the killed run's connection), the state is a workspace of the
// environment's own in PostgreSQL and nowhere on previewd's disk, and the
// destroy leaves nothing in PostgreSQL.
func TestKill9DuringApplyWithStateInPostgres(t *testing.T) {
	db, conn := pgtest.Database(t)
	schema := pgtest.StateSchema
	config := filepath.Join(t.TempDir(), "previewd.yaml")
	body := "state:\n  backend: pg\n  config:\n    conn_str: " + db + "\n"
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	p := startProcess(t, dataDir, "PREVIEWD_CONFIG="+config)
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "crash-pg", "sha1", 1, t0})
	p.waitRunning("crash-pg", "apply")
	p.kill9()

	p2 := startProcess(t, dataDir, "PREVIEWD_CONFIG="+config)
	env := p2.waitFor("crash-pg", "ready after restart", readyAt("sha1"))
	if !strings.HasSuffix(env.URL, "/sha1") {
		t.Errorf("url: got %q", env.URL)
	}
	got := runStates(p2.previewd, "crash-pg")
	if len(got) < 2 || got[0] != "apply:interrupted" || got[len(got)-1] != "apply:succeeded" {
		t.Errorf("journal: got %v, want the killed apply interrupted, then a successful one", got)
	}
	if names := pgtest.StateNames(t, conn, schema); !slices.Equal(names, []string{"previewd-crash-pg"}) {
		t.Errorf("workspaces in PostgreSQL: %v, want previewd-crash-pg alone", names)
	}
	if files := pgtest.StateFiles(t, dataDir); len(files) > 0 {
		t.Errorf("state files on previewd's disk: %v", files)
	}

	p2.send(prEvent{"closed", "crash-pg", "sha1", 1, t0.Add(time.Minute)})
	p2.waitFor("crash-pg", "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })
	if names := pgtest.StateNames(t, conn, schema); len(names) > 0 {
		t.Errorf("workspaces left in PostgreSQL after the destroy: %v", names)
	}
}
