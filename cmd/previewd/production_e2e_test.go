package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/previewd/previewd/internal/enginetest"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/server"
)

// driftModule is production's module: a role in PostgreSQL (previewd/pg)
// whose connection limit production sets to limit, on line 12.
const driftModule = `terraform {
  required_providers {
    pg = { source = "previewd/pg" }
  }
}

variable "environment" { type = string }
variable "suffix" { type = string }

resource "pg_role" "app" {
  name             = "app-${var.suffix}-${var.environment}"
  connection_limit = %s
}

output "url" { value = "https://${var.environment}.example.com/" }
`

// TestProductionDriftEndToEnd is the seed story: production, built by
// hand from a module whose role lives in a real PostgreSQL, its state in
// Terraform's pg backend, gets a hotfix by hand (ALTER ROLE … CONNECTION
// LIMIT 400). previewd, reading the state with a role that may only read
// it, opens the drift issue naming the attribute and the module's line; a
// pull request's preview is warned that deploying would revert the hotfix
// (its parity still ok); once the module adopts the fix the issue closes.
// Production's state is byte for byte the same after every watch. On
// Terraform and OpenTofu.
func TestProductionDriftEndToEnd(t *testing.T) {
	engines := map[string]string{"terraform": terraformForTests(t), "tofu": enginetest.Tofu(t, "../..")}
	mirror := enginetest.PGProviderMirror(t, "../..")
	for engine, bin := range engines {
		t.Run(engine, func(t *testing.T) { testProductionDrift(t, bin, mirror) })
	}
}

func testProductionDrift(t *testing.T, bin, mirror string) {
	stateURL, admin := pgtest.StateDatabase(t)
	super := pgtest.Conn(t)
	b := make([]byte, 4)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	t.Cleanup(func() {
		super.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{"app-" + suffix + "-production"}.Sanitize())
	})
	pgEnv := libpqEnv(t)
	cli := enginetest.MirrorConfig(t, mirror)

	module := t.TempDir()
	writeModule := func(limit string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(module, "main.tf"), []byte(strings.Replace(driftModule, "%s", limit, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeModule("200")
	enginetest.LockProviders(t, bin, module, mirror) // production's lock file, as its repository holds it
	applyProductionByHand(t, bin, module, stateURL, cli, suffix, pgEnv)
	if _, err := super.Exec(context.Background(), "ALTER ROLE "+pgx.Identifier{"app-" + suffix + "-production"}.Sanitize()+" CONNECTION LIMIT 400"); err != nil {
		t.Fatal(err)
	}
	before := pgtest.StateData(t, admin, "default")

	gh := &fakeGitHub{comments: map[int64]string{}}
	srv := httptest.NewServer(gh.handler())
	t.Cleanup(srv.Close)
	var env strings.Builder
	for k, v := range pgEnv {
		env.WriteString("    " + k + ": \"" + v + "\"\n")
	}
	p := startPreviewd(t, map[string]string{"PREVIEWD_TERRAFORM_BIN": bin, "PREVIEWD_GITHUB_TOKEN": "ghs_e2etoken", "PREVIEWD_GITHUB_API_URL": srv.URL + "/",
		"PREVIEWD_CONFIG": writeConfig(t, "terraform:\n  cli_config: "+cli+"\n  env:\n"+env.String()+
			"repos:\n  - name: acme/shop\n    module_dir: "+module+"\n    production:\n      vars: {suffix: \""+suffix+"\"}\n"+
			"      state: {backend: pg, config: {conn_str: \""+pgtest.StateReader(t, stateURL, admin)+"\"}}\n      watch_interval: 1h\n")})

	// The watch at start finds the hotfix and opens the issue.
	last := waitForWatch(t, p, func(w server.ProductionWatch) bool { return w.Status != "" })
	t.Logf("the first watch took %.2fs", last.TookSeconds)
	if last.Status != "drift" || len(last.Findings) != 1 {
		t.Fatalf("first watch %+v, want drift with one finding", last)
	}
	f := last.Findings[0]
	if f.Kind != "changed_outside" || f.Address != "pg_role.app" || f.Path != "connection_limit" || f.Live != "400" || f.Module != "200" || f.Where != "main.tf:12" {
		t.Errorf("finding %+v, want connection_limit changed outside: 400 live, 200 in main.tf:12", f)
	}
	issue, ok := gh.issue(last.Issue)
	if !ok || issue.State != "open" || !strings.Contains(issue.Body, "pg_role.app.connection_limit") || !strings.Contains(issue.Body, "main.tf:12") {
		t.Fatalf("issue %d: %+v (opened %v), want it open naming the attribute and its line", last.Issue, issue, ok)
	}

	// A pull request's preview sets the limit to the module's 200: warned.
	p.send(prEvent{"opened", "feature/x", "sha1", 3, time.Now().Add(-time.Hour)})
	p.waitFor("feature-x", "ready and checked", func(e apiEnvironment) bool { return readyAt("sha1")(e) && e.Parity.SHA == "sha1" })
	var report struct {
		Status   string
		Findings []struct {
			Kind, Subject, Reason string
			Warning               bool
		}
	}
	if code := p.get("/api/v1/environments/feature-x/parity", &report); code != 200 {
		t.Fatalf("parity: %d", code)
	}
	warned := false
	for _, f := range report.Findings {
		warned = warned || f.Kind == "reverts_production" && f.Warning && strings.Contains(f.Reason, "set it back to `200` (main.tf:12)")
	}
	if !warned || report.Status != "ok" {
		t.Errorf("parity %s with %+v; want ok with a reverts_production warning", report.Status, report.Findings)
	}

	// The module adopts the fix: the next watch finds nothing and closes
	// the issue.
	writeModule("400")
	if code := p.post("/api/v1/production/acme/shop/watch", nil); code != 202 {
		t.Fatalf("watch now: %d", code)
	}
	after := waitForWatch(t, p, func(w server.ProductionWatch) bool { return w.At.After(last.At) })
	if after.Status != "ok" || len(after.Findings) != 0 || after.Issue != last.Issue {
		t.Errorf("watch after the fix %+v, want ok, nothing found, the same issue", after)
	}
	waittest.Until(t, "the issue closed", func() bool { i, _ := gh.issue(last.Issue); return i.State == "closed" })
	if now := pgtest.StateData(t, admin, "default"); !bytes.Equal(before, now) {
		t.Errorf("production's state changed under the watches:\n%s\n→\n%s", before, now)
	}
	p.send(prEvent{"closed", "feature/x", "sha1", 3, time.Now()})
	p.waitFor("feature-x", "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })
}

// waitForWatch waits for acme/shop's newest watch to satisfy done.
func waitForWatch(t *testing.T, p *previewd, done func(server.ProductionWatch) bool) server.ProductionWatch {
	t.Helper()
	return waittest.For(t, "a watch of production", func() server.ProductionWatch {
		var ws []server.ProductionWatch
		if p.get("/api/v1/production/acme/shop?limit=1", &ws) != 200 || len(ws) == 0 {
			return server.ProductionWatch{}
		}
		return ws[0]
	}, done)
}

// libpqEnv is the test server's connection as the libpq variables the
// pg provider reads.
func libpqEnv(t *testing.T) map[string]string {
	t.Helper()
	u, err := url.Parse(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"PGHOST": u.Hostname(), "PGPORT": u.Port(), "PGUSER": u.User.Username(), "PGDATABASE": strings.TrimPrefix(u.Path, "/"), "PGSSLMODE": "disable"}
}

// applyProductionByHand applies the module in dir as production's own
// pipeline would, its state in the pg backend at stateURL.
func applyProductionByHand(t *testing.T, bin, dir, stateURL, cli, suffix string, env map[string]string) {
	t.Helper()
	work := t.TempDir()
	src, _ := os.ReadFile(filepath.Join(dir, "main.tf"))
	os.WriteFile(filepath.Join(work, "main.tf"), src, 0o644)
	lock, _ := os.ReadFile(filepath.Join(dir, ".terraform.lock.hcl"))
	os.WriteFile(filepath.Join(work, ".terraform.lock.hcl"), lock, 0o644)
	os.WriteFile(filepath.Join(work, "backend.tf"), []byte("terraform {\n  backend \"pg\" {}\n}\n"), 0o644)
	vars := append(os.Environ(), "TF_IN_AUTOMATION=1", "TF_CLI_CONFIG_FILE="+cli)
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	for _, args := range [][]string{
		{"init", "-input=false", "-no-color", "-backend-config=conn_str=" + stateURL},
		{"apply", "-auto-approve", "-input=false", "-no-color", "-var", "environment=production", "-var", "suffix=" + suffix},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = work, vars
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), args[0], err, out)
		}
	}
	t.Cleanup(func() {
		cmd := exec.Command(bin, "destroy", "-auto-approve", "-input=false", "-no-color", "-var", "environment=production", "-var", "suffix="+suffix)
		cmd.Dir, cmd.Env = work, vars
		cmd.Run()
	})
}

// TestProductionWatchFailureBlocksNothing: a watch whose backend does not
// answer is recorded as failed, with why, shown by the API and the
// metrics, opens no issue, and a pull request's preview is built all the
// same.
func TestProductionWatchFailureBlocksNothing(t *testing.T) {
	module, _ := filepath.Abs("testdata/module")
	gh := &fakeGitHub{comments: map[int64]string{}}
	srv := httptest.NewServer(gh.handler())
	t.Cleanup(srv.Close)
	p := startPreviewd(t, map[string]string{"PREVIEWD_GITHUB_TOKEN": "ghs_e2etoken", "PREVIEWD_GITHUB_API_URL": srv.URL + "/",
		"PREVIEWD_CONFIG": writeConfig(t, "repos:\n  - name: acme/shop\n    module_dir: "+module+"\n"+
			"    production:\n      state: {backend: pg, config: {conn_str: \"postgres://watch:s3cret-canary@127.0.0.1:1/states?connect_timeout=2\"}}\n")})
	p.send(prEvent{"opened", "feature/y", "sha1", 4, time.Now().Add(-time.Hour)})
	w := waitForWatch(t, p, func(w server.ProductionWatch) bool { return w.Status != "" })
	if w.Status != "failed" || w.Error == "" || len(w.Findings) != 0 || w.Issue != 0 || strings.Contains(w.Error, "s3cret-canary") {
		t.Errorf("watch %+v, want failed, saying why without the password, no findings, no issue", w)
	}
	t.Logf("the failed watch: %s", w.Error)
	p.waitFor("feature-y", "ready despite the failed watch", readyAt("sha1"))
	if got := sample(scrape(t, p), "previewd_production_watch_failed", map[string]string{"repo": "acme/shop"}); got != 1 {
		t.Errorf("previewd_production_watch_failed = %v, want 1", got)
	}
	gh.mu.Lock()
	defer gh.mu.Unlock()
	if len(gh.issues) != 0 {
		t.Errorf("a failed watch opened issues: %+v", gh.issues)
	}
}
