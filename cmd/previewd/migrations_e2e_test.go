package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/pgtest"
)

// TestMigrationsWatchedEndToEnd: a preview whose module names its
// database in a sensitive output (a real PostgreSQL database with 400,000
// orders), and whose seed hook runs a migration building an index without
// CONCURRENTLY: the previewd/migrations verdict fails naming the statement,
// in the API, the comment and the status; the connection string's
// password shows nowhere previewd writes.
func TestMigrationsWatchedEndToEnd(t *testing.T) {
	dbURL, conn := pgtest.Database(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE orders (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL);
		INSERT INTO orders (created_at) SELECT now() - g * interval '1 second' FROM generate_series(1, 400000) g;
		ANALYZE orders`); err != nil {
		t.Fatal(err)
	}
	const canary = "watch-canary-7f3a9c" // the password (trust authentication ignores it)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), canary)
	migrate := filepath.Join(t.TempDir(), "migrate")
	if out, err := exec.Command("go", "build", "-o", migrate, "./testdata/migrate").CombinedOutput(); err != nil {
		t.Fatalf("build the migration: %v\n%s", err, out)
	}
	module, _ := filepath.Abs("testdata/migrations")
	gh := &fakeGitHub{comments: map[int64]string{}}
	srv := httptest.NewServer(gh.handler())
	t.Cleanup(srv.Close)
	srvURL := srv.URL + "/"
	p := startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": writeConfig(t, "repos:\n  - name: acme/shop\n    module_dir: "+module+"\n"+
		"    production:\n      vars: {database_url: \""+u.String()+"\"}\n"+
		"    parity:\n      hook_sensitive_outputs: true\n      seed_command: ["+migrate+", env, \"CREATE INDEX orders_created_at ON orders (created_at)\"]\n"+
		"    migrations: {database_output: database_url, max_write_block: 50ms, settle: 1s}\n"),
		"PREVIEWD_GITHUB_TOKEN": "ghs_e2etoken", "PREVIEWD_GITHUB_API_URL": srvURL})
	sha := strings.Repeat("d", 40)
	p.send(prEvent{"opened", "index", sha, 1, time.Now().Add(-time.Hour)})

	type dbReport struct {
		Watched bool
		Holds   []struct {
			Relation, Statement, Mode string
			BlockedWrites             float64 `json:"blocked_writes_seconds"`
			Rows                      float64
		}
		Verdict struct {
			Status  string
			Reasons []string
		}
	}
	var report dbReport
	p.waitFor("index", "the migrations verdict", func(apiEnvironment) bool {
		report = dbReport{}
		return p.get("/api/v1/environments/index/database", &report) == 200
	})
	if !report.Watched || report.Verdict.Status != "failure" || len(report.Holds) == 0 || report.Holds[0].Relation != "orders" ||
		report.Holds[0].Statement != "CREATE INDEX orders_created_at ON orders (created_at)" || report.Holds[0].BlockedWrites < 0.05 {
		b, _ := json.Marshal(report)
		t.Fatalf("report %s, want a failure: the index blocked writes on orders over 50 ms", b)
	}
	env := p.waitFor("index", "the verdict on the pull request", func(e apiEnvironment) bool { return strings.Contains(e.Comment.Body, "**Migrations:** ❌") })
	if _, _, statuses, _ := gh.github(); !containsPrefix(statuses, sha[:7]+" failure previewd/migrations") {
		t.Errorf("statuses %v, want previewd/migrations failure on %s", statuses, sha[:7])
	}

	// The password, nowhere previewd writes.
	var raw json.RawMessage
	p.get("/api/v1/environments/index", &raw)
	var runs []struct{ ID string }
	p.get("/api/v1/environments/index/runs", &runs)
	written := []string{p.logs.String(), string(raw), env.Comment.Body}
	for _, r := range runs {
		written = append(written, p.runLog(r.ID).Body)
	}
	for i, w := range written {
		if strings.Contains(w, canary) {
			t.Errorf("the database's password is in what previewd wrote (%d):\n%s", i, w)
		}
	}
}

// containsPrefix reports whether one of list starts with prefix.
func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
