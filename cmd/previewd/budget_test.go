package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCostIsShown: with a price, an environment's cost is in the API (list
// and one), on its pull request's comment, on the dashboard and in the
// metrics; once destroyed, the comment says what it cost in all.
func TestCostIsShown(t *testing.T) {
	module, _ := filepath.Abs("testdata/module")
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	os.WriteFile(configFile, []byte("cost:\n  hourly: 0.5\n  currency: €\n"), 0o600)
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": module, "PREVIEWD_CONFIG": configFile})
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "costly", "sha1", 1, t0})
	p.waitFor("costly", "ready", readyAt("sha1"))
	var one struct {
		Cost struct {
			Currency    string  `json:"currency"`
			Hourly      float64 `json:"hourly"`
			UntilExpiry float64 `json:"until_expiry"`
		} `json:"cost"`
	}
	p.get("/api/v1/environments/costly", &one)
	if one.Cost.Currency != "€" || one.Cost.Hourly != 0.5 || one.Cost.UntilExpiry < 35 {
		t.Errorf("cost in the API: %+v (72h to expiry at 0.5 an hour)", one.Cost)
	}
	var list []struct {
		Name string
		Cost *struct{ Hourly float64 } `json:"cost"`
	}
	p.get("/api/v1/environments", &list)
	if len(list) != 1 || list[0].Cost == nil || list[0].Cost.Hourly != 0.5 {
		t.Errorf("cost in the list: %+v", list)
	}
	env := p.waitFor("costly", "the comment to show the cost", func(e apiEnvironment) bool { return strings.Contains(e.Comment.Body, "**Cost:**") })
	if !strings.Contains(env.Comment.Body, "≈ €0.00 so far, ≈ €36.00 if it lives until its expiry") {
		t.Errorf("the comment's cost:\n%s", env.Comment.Body)
	}
	req, _ := http.NewRequest("GET", p.base+"/dashboard", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(page, []byte("€36.00 by expiry")) || !bytes.Contains(page, []byte("Estimated cost this month")) {
		t.Errorf("the dashboard shows no cost: %d\n%s", resp.StatusCode, page)
	}
	families := scrape(t, p)
	if families["previewd_estimated_cost"] == nil || families["previewd_environment_hours"] == nil {
		t.Error("no cost metrics")
	}
	p.send(prEvent{"closed", "costly", "sha1", 1, t0.Add(time.Minute)})
	p.waitFor("costly", "destroyed, with what it cost in all", func(e apiEnvironment) bool {
		return e.Status == "destroyed" && strings.Contains(e.Comment.Body, "€0.00 in all")
	})
}

// TestBudgetMakesNewEnvironmentsWait: with max_live_environments 2, the
// third and fourth pull requests wait as queued, in line, saying so on the
// pull request; when one is closed and torn down, the first in line is
// built and the next moves up. Nothing is destroyed to make room.
func TestBudgetMakesNewEnvironmentsWait(t *testing.T) {
	module, _ := filepath.Abs("testdata/module")
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	os.WriteFile(configFile, []byte("max_live_environments: 2\n"), 0o600)
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": module, "PREVIEWD_CONFIG": configFile})
	t0 := time.Now().Add(-time.Hour)
	for i, name := range []string{"b1", "b2", "b3", "b4"} {
		p.send(prEvent{"opened", name, "sha1", i + 1, t0})
		if i < 2 {
			p.waitFor(name, "ready", readyAt("sha1"))
		}
	}
	for i, name := range []string{"b3", "b4"} {
		v := p.waitBudget(name, "waiting in line", func(v budgetView) bool {
			return v.Status == "queued" && v.Budget != nil && v.Budget.Position == i+1 && strings.Contains(v.Comment.Body, "in line")
		})
		if v.Budget.Scope != "all" || v.Budget.Live != 2 || v.Budget.Max != 2 {
			t.Errorf("%s's wait: %+v", name, *v.Budget)
		}
		want := []string{"1st in line", "2nd in line"}[i]
		if !strings.Contains(v.Comment.Body, "previewd has 2 live previews, at most 2. This one is "+want) {
			t.Errorf("%s's comment:\n%s", name, v.Comment.Body)
		}
	}
	p.send(prEvent{"closed", "b1", "sha1", 1, t0.Add(time.Minute)})
	p.waitFor("b3", "built once b1 was torn down", readyAt("sha1"))
	p.waitBudget("b4", "first in line now", func(v budgetView) bool { return v.Budget != nil && v.Budget.Position == 1 })
	if v := p.waitBudget("b2", "still ready", func(v budgetView) bool { return true }); v.Status != "ready" {
		t.Errorf("b2 was touched: %s", v.Status)
	}
}

// TestBudgetEvictsTheIdlest: with a repository's cap of 2 and
// evict_idle_over_budget, a third pull request's environment has the one
// idle longest torn down (its pull request told why) and is built in its
// place.
func TestBudgetEvictsTheIdlest(t *testing.T) {
	module, _ := filepath.Abs("testdata/module")
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	os.WriteFile(configFile, []byte("evict_idle_over_budget: true\nrepos:\n  - name: acme/shop\n    module_dir: "+module+"\n    max_live_environments: 2\n"), 0o600)
	p := startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": configFile})
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "oldest", "sha1", 1, t0})
	p.waitFor("oldest", "ready", readyAt("sha1"))
	p.send(prEvent{"opened", "newer", "sha1", 2, t0})
	p.waitFor("newer", "ready", readyAt("sha1"))
	// newer was opened once oldest was ready: oldest's last activity is the
	// older, by the length of an apply.
	var oldest, newer struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	p.get("/api/v1/environments/oldest", &oldest)
	p.get("/api/v1/environments/newer", &newer)
	if !newer.ExpiresAt.After(oldest.ExpiresAt) {
		t.Fatalf("newer's last activity (expiring %s) is not after oldest's (%s)", newer.ExpiresAt, oldest.ExpiresAt)
	}
	p.send(prEvent{"opened", "newest", "sha1", 3, t0})
	v := p.waitBudget("oldest", "evicted", func(v budgetView) bool {
		return v.Status == "destroyed" && strings.Contains(v.Comment.Body, "make room")
	})
	if v.Desired.Reason != "evicted" {
		t.Errorf("the evicted environment's reason: %q", v.Desired.Reason)
	}
	p.waitFor("newest", "built in its place", readyAt("sha1"))
	if v := p.waitBudget("newer", "", func(budgetView) bool { return true }); v.Status != "ready" {
		t.Errorf("newer: %s, want it left alone", v.Status)
	}
}

type budgetView struct {
	Status string `json:"status"`
	Budget *struct {
		Scope    string `json:"scope"`
		Live     int    `json:"live"`
		Max      int    `json:"max"`
		Position int    `json:"position"`
	} `json:"budget"`
	Desired struct {
		Reason string `json:"reason"`
	} `json:"desired"`
	Comment struct {
		Body string `json:"body"`
	} `json:"comment"`
}

func (p *previewd) waitBudget(name, what string, cond func(budgetView) bool) budgetView {
	p.t.Helper()
	return waitForAs(p, name, what, cond)
}
