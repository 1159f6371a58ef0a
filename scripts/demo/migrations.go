package main

// Step 5: a migration measured at production's size. acme/orders (in
// examples/previewd.yaml) gives each preview a copy of a database with
// production's volume, and its application migrates it as it starts.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const ordersRepo = "acme/orders"

// migrationPR is a pull request of acme/orders whose release migrates the
// database, and the verdict previewd/migrations must give it.
type migrationPR struct {
	number      int
	branch, sql string
	want        string
	sha, name   string
}

// databaseReport is GET /api/v1/environments/{name}/database.
type databaseReport struct {
	Watched bool   `json:"watched"`
	Why     string `json:"why"`
	SHA     string `json:"sha"`
	Samples int    `json:"samples"`
	Holds   []struct {
		Relation       string   `json:"relation"`
		Statement      string   `json:"statement"`
		Mode           string   `json:"mode"`
		HeldBefore     bool     `json:"held_before_watch"`
		BlockedWrites  float64  `json:"blocked_writes_seconds"`
		Rows           float64  `json:"rows"`
		ProductionRows *float64 `json:"production_rows"`
	} `json:"holds"`
	Verdict struct {
		Status  string   `json:"status"`
		Reasons []string `json:"reasons"`
	} `json:"verdict"`
}

// appMigrations is what the example application's info.json says of its
// migrations.
type appMigrations struct {
	State   string `json:"state"`
	Note    string `json:"note"`
	Error   string `json:"error"`
	Applied []struct {
		Name    string  `json:"name"`
		Seconds float64 `json:"seconds"`
	} `json:"applied"`
}

func migrations() error {
	if *databaseServer == "" {
		step("5. A migration at production's size: skipped (%s)", *databaseSkip)
		fmt.Println("   It needs a PostgreSQL server on 127.0.0.1:5432: ./scripts/postgres.sh starts one.")
		return nil
	}
	if *releases == "" {
		return errors.New("step 5: -releases (PREVIEW_WEB_RELEASES) is empty: the previews would find no release to migrate")
	}
	step("5. A migration at production's size (%s: each preview gets a copy of a database with production's volume)", ordersRepo)
	if err := createProduction(); err != nil {
		return err
	}
	prs := []*migrationPR{
		{number: 3, branch: "add-index", want: "failure",
			sql: "CREATE INDEX orders_created_at ON orders (created_at);"},
		{number: 4, branch: "add-index-concurrently", want: "ok",
			sql: "CREATE INDEX CONCURRENTLY orders_created_at ON orders (created_at);"},
	}
	// One after the other: on a small machine the two index builds would
	// slow each other down.
	for _, pr := range prs {
		if err := pr.open(); err != nil {
			return err
		}
		if err := pr.judge(); err != nil {
			return err
		}
	}
	fmt.Println("\n   Both pull requests close: their environments and databases go.")
	for _, pr := range prs {
		if err := pr.close(); err != nil {
			return err
		}
	}
	return nil
}

// createProduction makes production's database (and, the first time, the
// template every copy comes from) and the role previewd reads production's
// statistics with, printing what preview-web says as it goes.
func createProduction() error {
	fmt.Println("   production's database, at production's volume, and a role that may read its statistics only:")
	fmt.Println("   $ preview-web db create -name orders_production -stats-role orders_stats")
	cmd := exec.Command(*previewWeb, "db", "create", "-name", "orders_production", "-stats-role", "orders_stats")
	cmd.Env = append(os.Environ(), "DATABASE_ADMIN_URL="+*databaseServer+"/postgres")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("create production's database: %w", err)
	}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		fmt.Println("   | " + lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("create production's database: %w", err)
	}
	return nil
}

// open publishes the pull request's release (its migration) and opens it.
func (pr *migrationPR) open() error {
	pr.sha = randomSHA()
	dir := filepath.Join(*releases, pr.sha, "migrations")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "002_orders_created_at.sql"), []byte(pr.sql+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("\n   #%d %s: CI publishes release %s, migrations/002_orders_created_at.sql:\n     %s\n", pr.number, pr.branch, pr.sha[:7], pr.sql)
	var err error
	pr.name, err = sendPR(ordersRepo, pr.number, "opened", pr.branch, pr.sha, "open", time.Now())
	return err
}

// judge waits for the environment and its migrations verdict, prints them
// with what the application measured, and fails unless the verdict is
// the one wanted.
func (pr *migrationPR) judge() error {
	opened := time.Now()
	env, err := waitFor(pr.name, func(e environment) bool { return e.Status == "ready" && e.AppliedSHA == pr.sha })
	if err != nil {
		return err
	}
	fmt.Printf("   environment %q ready in %.1fs at %s\n", env.Name, time.Since(opened).Seconds(), env.URL)
	if line := runLogLine(pr.name, "copied from"); line != "" {
		fmt.Printf("   its database, from the run's log: %s\n", line)
	}
	report, err := waitDatabase(pr.name, pr.sha)
	if err != nil {
		return err
	}
	app, err := waitApplication(env.URL)
	if err != nil {
		return err
	}
	fmt.Printf("   previewd/migrations (GET /api/v1/environments/%s/database): %s, %d samples\n", pr.name, strings.ToUpper(report.Verdict.Status), report.Samples)
	for _, r := range report.Verdict.Reasons {
		fmt.Printf("     - %s\n", r)
	}
	for _, h := range report.Holds {
		what := h.Statement // a change no sample saw a blocking lock of
		if h.Mode != "" {
			what = fmt.Sprintf("%s held by %q, writes blocked %.2fs", h.Mode, h.Statement, h.BlockedWrites)
		}
		if h.HeldBefore {
			what += " (held when the watch began: counted from its transaction's start)"
		}
		fmt.Printf("     %s: %s; %s rows here, %s in production\n", h.Relation, what, count(&h.Rows), count(h.ProductionRows))
	}
	for _, m := range app.Applied {
		fmt.Printf("   the application (its log and page): %s applied in %.2fs\n", m.Name, m.Seconds)
	}
	if app.Error != "" {
		fmt.Printf("   the application's migrations failed: %s\n", app.Error)
	}
	if report.Verdict.Status != pr.want {
		return fmt.Errorf("#%d (%s): previewd/migrations is %q, want %q; the environment is left up to look at", pr.number, pr.sql, report.Verdict.Status, pr.want)
	}
	return nil
}

// close closes the pull request, waits for its environment to go, and
// removes its release.
func (pr *migrationPR) close() error {
	if _, err := sendPR(ordersRepo, pr.number, "closed", pr.branch, pr.sha, "closed", time.Now()); err != nil {
		return err
	}
	if _, err := waitFor(pr.name, func(e environment) bool { return e.Status == "destroyed" }); err != nil {
		return err
	}
	if line := runLogLine(pr.name, "dropped"); line != "" {
		fmt.Printf("   %s\n", line)
	}
	return os.RemoveAll(filepath.Join(*releases, pr.sha))
}

// waitDatabase waits for the environment's database report of sha.
func waitDatabase(name, sha string) (databaseReport, error) {
	deadline := time.Now().Add(*timeout)
	for {
		var r databaseReport
		code, err := getJSON("/api/v1/environments/"+name+"/database", &r)
		if err == nil && code == http.StatusOK && r.SHA == sha && r.Verdict.Status != "" {
			return r, nil
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("no database report of %s at %s after %s (last: %d %v)", name, sha[:7], *timeout, code, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitApplication waits until the application at url is done migrating.
func waitApplication(url string) (appMigrations, error) {
	deadline := time.Now().Add(*timeout)
	for {
		var in struct {
			Migrations *appMigrations `json:"migrations"`
		}
		resp, err := http.Get(url + "info.json")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&in)
			resp.Body.Close()
		}
		if err == nil && in.Migrations == nil {
			return appMigrations{}, fmt.Errorf("%s has no database: was it started without DATABASE_URL?", url)
		}
		if err == nil && in.Migrations.State != "running" {
			return *in.Migrations, nil
		}
		if time.Now().After(deadline) {
			return appMigrations{}, fmt.Errorf("the application at %s is still migrating after %s (%v)", url, *timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// runLogLine returns what a provisioner printed on the last line holding
// substr in the environment's runs' logs, newest run first, or "".
func runLogLine(name, substr string) string {
	var runs []struct {
		ID string `json:"id"`
	}
	if code, err := getJSON("/api/v1/environments/"+name+"/runs", &runs); err != nil || code != http.StatusOK {
		return ""
	}
	for i := len(runs) - 1; i >= 0; i-- {
		id := runs[i].ID
		req, _ := http.NewRequest(http.MethodGet, *base+"/api/v1/environments/"+name+"/runs/"+id[strings.LastIndexByte(id, '/')+1:]+"/log", nil)
		req.Header.Set("Authorization", "Bearer "+*token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		found := ""
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, substr) {
				_, printed, _ := strings.Cut(line, "(local-exec): ")
				found = strings.TrimSpace(printed)
			}
		}
		if found != "" {
			return found
		}
	}
	return ""
}

// getJSON decodes the admin API's answer at path into v.
func getJSON(path string, v any) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, *base+path, nil)
	req.Header.Set("Authorization", "Bearer "+*token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(v)
}

// count shows a row estimate: 1.4M, 200, or "?" when unknown.
func count(n *float64) string {
	switch {
	case n == nil:
		return "?"
	case *n >= 1e6:
		return fmt.Sprintf("%.1fM", *n/1e6)
	case *n >= 1e4:
		return fmt.Sprintf("%.0fk", *n/1e3)
	}
	return fmt.Sprintf("%.0f", *n)
}
