package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/store"
)

// TestRunLogsAreFoundByTheirShortNumber reads a run's log by its padded
// sequence and by the same number without its leading zeros, through the
// admin API and through a signed link; what names no run stays a 404.
func TestRunLogsAreFoundByTheirShortNumber(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.RecordPullRequest(ctx, "", preview.PullRequest{Repo: "acme/shop", Number: 1, Open: true, HeadSHA: "abc", Branch: "fix", UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var runs []preview.Run
	for i := range 10 { // the tenth is a, in hexadecimal
		run, err := db.CreateRun(ctx, preview.Run{Environment: "fix", Repo: "acme/shop", PR: 1, Phase: preview.PhaseApply, State: preview.RunSucceeded})
		if err != nil {
			t.Fatal(err)
		}
		run.LogPath = filepath.Join(t.TempDir(), "run.log")
		os.WriteFile(run.LogPath, fmt.Appendf(nil, "log of run %d\n", i+1), 0o600)
		if err := db.UpdateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, run)
	}
	if runs[0].ID != "fix/0000000000000001" {
		t.Fatalf("the first run is %q, want fix/0000000000000001", runs[0].ID)
	}
	links := server.NewLogLinks([]byte("key"), "http://previewd.test", time.Hour)
	s := server.New(server.Config{AdminToken: token, TTL: time.Hour, Store: db, Controller: &fakeController{ready: true}, LogLinks: links})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, db: db}

	admin := func(seq string) (int, string) {
		resp, raw := f.api(t, "GET", "/api/v1/environments/fix/runs/"+seq+"/log", token)
		return resp.StatusCode, string(raw)
	}
	signed := func(link string) (int, string) {
		resp, err := http.Get(strings.Replace(link, "http://previewd.test", srv.URL, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	link := links.Link(runs[0].ID)
	tests := []struct {
		what string
		read func() (int, string)
		code int
		body string
	}{
		{"padded", func() (int, string) { return admin("0000000000000001") }, 200, "log of run 1\n"},
		{"short", func() (int, string) { return admin("1") }, 200, "log of run 1\n"},
		{"short, past nine", func() (int, string) { return admin("a") }, 200, "log of run 10\n"},
		{"short, in capitals", func() (int, string) { return admin("A") }, 200, "log of run 10\n"},
		{"no such run", func() (int, string) { return admin("b") }, 404, "not found"},
		{"not a number", func() (int, string) { return admin("zz") }, 404, "not found"},
		{"the signed link", func() (int, string) { return signed(link) }, 200, "log of run 1\n"},
		{"the signed link with the short number", func() (int, string) {
			return signed(strings.Replace(link, "/0000000000000001?", "/1?", 1))
		}, 200, "log of run 1\n"},
		{"the signed link with another run's number", func() (int, string) {
			return signed(strings.Replace(link, "/0000000000000001?", "/2?", 1))
		}, 401, "not valid"},
	}
	for _, tt := range tests {
		if code, body := tt.read(); code != tt.code || !strings.Contains(body, tt.body) {
			t.Errorf("%s: got %d %q, want %d with %q", tt.what, code, body, tt.code, tt.body)
		}
	}
}
