package main

import (
	"context"
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
	schema := pgtest.StateSchema
	config, conn := pgStateConfig(t)
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

// TestServiceOnPostgreSQL runs previewd with its records in PostgreSQL
// (PREVIEWD_DATABASE_URL) and the environments' state there too: a pull
// request's environment is built by one replica, and a second replica on
// the same database, which received the close, sees it and has it torn
// down.
func TestServiceOnPostgreSQL(t *testing.T) {
	url, conn := pgtest.Database(t)
	module, _ := filepath.Abs("testdata/module")
	config, state := pgStateConfig(t)
	vars := map[string]string{"PREVIEWD_DATABASE_URL": url, "PREVIEWD_MODULE_DIR": module, "PREVIEWD_CONFIG": config, "PREVIEWD_LEASE_TTL": "3s"}
	p := startPreviewd(t, vars)
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "on-pg", "sha1", 1, t0})
	p.waitFor("on-pg", "ready", readyAt("sha1"))
	var stored string
	if err := conn.QueryRow(context.Background(), "SELECT data FROM environments WHERE name = 'on-pg'").Scan(&stored); err != nil || !strings.Contains(stored, `"status":"ready"`) {
		t.Errorf("the environment in PostgreSQL: %q, %v", stored, err)
	}
	if _, err := os.Stat(filepath.Join(p.dataDir, "previewd.db")); !os.IsNotExist(err) {
		t.Errorf("a bbolt file beside the PostgreSQL store: %v", err)
	}

	p2 := startPreviewd(t, vars)
	p2.waitFor("on-pg", "the first replica's environment, seen by the second", readyAt("sha1"))
	if log := logOf(t, p2, "on-pg", 0); !strings.Contains(log, "Apply complete!") || !strings.Contains(log, "run on-pg/") {
		t.Errorf("the first replica's run log, served by the second:\n%s", log)
	}
	var runs []struct{ Replica string }
	p2.get("/api/v1/environments/on-pg/runs", &runs)
	if len(runs) == 0 || !strings.Contains(runs[0].Replica, "/") {
		t.Errorf("runs on PostgreSQL do not say which replica ran them: %+v", runs)
	}
	if files, _ := filepath.Glob(filepath.Join(p.dataDir, "logs", "*", "*.log")); len(files) > 0 {
		t.Errorf("run logs on a replica's disk with the PostgreSQL store: %v", files)
	}
	p2.send(prEvent{"closed", "on-pg", "sha1", 1, t0.Add(time.Minute)})
	p.waitFor("on-pg", "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })
	if names := pgtest.StateNames(t, state, pgtest.StateSchema); len(names) > 0 {
		t.Errorf("workspaces left in PostgreSQL after the destroy: %v", names)
	}
}
