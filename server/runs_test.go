package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/store"
)

// TestReusedNameDoesNotInheritRuns takes the name of a destroyed
// environment with another pull request, then reads the runs and logs of
// that name through the admin API and through signed links.
func TestReusedNameDoesNotInheritRuns(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	links := server.NewLogLinks([]byte("key"), "http://previewd.test", time.Hour)
	s := server.New(server.Config{AdminToken: token, TTL: time.Hour, Store: db, Controller: &fakeController{ready: true}, LogLinks: links})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, db: db}

	logs := t.TempDir()
	build := func(repo string, number int, at time.Time) preview.Run {
		t.Helper()
		res, err := db.RecordPullRequest(ctx, "", preview.PullRequest{Repo: repo, Number: number, Open: true, HeadSHA: "abc", Branch: "fix", UpdatedAt: at})
		if err != nil || res.Environment.Name != "fix" {
			t.Fatalf("%s#%d: got environment %q (err %v), want fix", repo, number, res.Environment.Name, err)
		}
		run, err := db.CreateRun(ctx, preview.Run{Environment: "fix", Repo: repo, PR: number, Phase: preview.PhaseApply, State: preview.RunSucceeded})
		if err != nil {
			t.Fatal(err)
		}
		run.LogPath = filepath.Join(logs, strings.ReplaceAll(run.ID, "/", "-")+".log")
		os.WriteFile(run.LogPath, []byte("log of "+preview.PullRequestKey(repo, number)+"\n"), 0o600)
		if err := db.UpdateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		return run
	}
	old := build("acme/shop", 1, time.Now())
	if _, err := db.UpdateEnvironment(ctx, "fix", func(e *preview.Environment) error {
		e.Desired.Present, e.Status = false, preview.StatusDestroyed
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	current := build("acme/api", 1, time.Now().Add(time.Second)) // another repository takes the name
	oldLink, currentLink := links.Link(old.ID), links.Link(current.ID)

	resp, raw := f.api(t, "GET", "/api/v1/environments/fix/runs", token)
	var runs []preview.Run
	if err := json.Unmarshal(raw, &runs); resp.StatusCode != 200 || err != nil {
		t.Fatalf("runs: got %d %s", resp.StatusCode, raw)
	}
	if len(runs) != 1 || runs[0].ID != current.ID || runs[0].Repo != "acme/api" || runs[0].PR != 1 {
		t.Errorf("runs: got %s, want only %s of acme/api#1", raw, current.ID)
	}

	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(strings.Replace(u, "http://previewd.test", srv.URL, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	seq := func(id string) string { return id[strings.Index(id, "/")+1:] }
	tests := []struct {
		what string
		code int
		body string
		read func() (int, string)
	}{
		{"admin log of the old run", 404, "not found", func() (int, string) {
			resp, raw := f.api(t, "GET", "/api/v1/environments/fix/runs/"+seq(old.ID)+"/log", token)
			return resp.StatusCode, string(raw)
		}},
		{"admin log of the current run", 200, "log of acme/api#1", func() (int, string) {
			resp, raw := f.api(t, "GET", "/api/v1/environments/fix/runs/"+seq(current.ID)+"/log", token)
			return resp.StatusCode, string(raw)
		}},
		{"the old pull request's signed link", 404, "not found", func() (int, string) { return get(oldLink) }},
		{"the current pull request's signed link", 200, "log of acme/api#1", func() (int, string) { return get(currentLink) }},
	}
	for _, tt := range tests {
		if code, body := tt.read(); code != tt.code || !strings.Contains(body, tt.body) {
			t.Errorf("%s: got %d %q, want %d with %q", tt.what, code, body, tt.code, tt.body)
		}
	}
}

// TestRunsArePaged: ?limit= pages the run journal, the next page's cursor
// in X-Next-Cursor and a Link, and ?cursor= starts after it; a bad limit
// or cursor is a 400.
func TestRunsArePaged(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 3, "feature/x", "abc", time.Now())
	f.deliver(t, "pull_request", "d", body, sign(body))
	ctx := context.Background()
	var ids []string
	for range 5 {
		r, err := f.db.CreateRun(ctx, preview.Run{Environment: "feature-x", Repo: "acme/shop", PR: 3, Phase: preview.PhaseApply, State: preview.RunSucceeded})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	var got []string
	path := "/api/v1/environments/feature-x/runs?limit=2"
	for pages := 0; path != ""; pages++ {
		resp, raw := f.api(t, "GET", path, token)
		var runs []struct{ ID string }
		if err := json.Unmarshal(raw, &runs); err != nil || resp.StatusCode != 200 || len(runs) > 2 || pages > 3 {
			t.Fatalf("page %d: %d %s", pages, resp.StatusCode, raw)
		}
		for _, r := range runs {
			got = append(got, r.ID)
		}
		path = ""
		if next := resp.Header.Get("X-Next-Cursor"); next != "" {
			if !strings.Contains(resp.Header.Get("Link"), "cursor="+next) {
				t.Errorf("Link %q does not carry the cursor %q", resp.Header.Get("Link"), next)
			}
			path = "/api/v1/environments/feature-x/runs?limit=2&cursor=" + next
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("pages gave %v, want %v", got, ids)
	}
	for _, q := range []string{"limit=0", "limit=x", "cursor=zz", "cursor=feature-x"} {
		if resp, _ := f.api(t, "GET", "/api/v1/environments/feature-x/runs?"+q, token); resp.StatusCode != 400 {
			t.Errorf("?%s: %d, want 400", q, resp.StatusCode)
		}
	}
}
