package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLogLinksOutliveARestartAndTheWebhookSecret opens a run's signed log
// link from the comment, restarts previewd on the same data directory with
// another webhook secret, and opens the same link again: it still works,
// because links are signed with a random key kept in the store, not with
// anything derived from the webhook secret.
func TestLogLinksOutliveARestartAndTheWebhookSecret(t *testing.T) {
	module, _ := filepath.Abs("testdata/module")
	env := map[string]string{"PREVIEWD_MODULE_DIR": module, "PREVIEWD_DATA_DIR": t.TempDir()}
	p := startPreviewd(t, env)
	p.send(prEvent{"opened", "linked", "sha1", 1, time.Now().Add(-time.Hour)})
	ready := p.waitFor("linked", "ready, its comment linking the run's log", func(e apiEnvironment) bool {
		return e.Status == "ready" && signedLogLink(e.Comment.Body) != ""
	})
	path := signedLogLink(ready.Comment.Body)
	path = path[strings.Index(path, "/logs/"):]
	open := func(p *previewd) (int, string) {
		t.Helper()
		resp, err := http.Get(p.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := open(p); code != http.StatusOK || !strings.Contains(body, "Apply complete!") {
		t.Fatalf("the link before the restart: %d %q", code, body)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}

	env["PREVIEWD_WEBHOOK_SECRET"] = "another-webhook-secret-" + strings.Repeat("9", 40)
	p = startPreviewd(t, env)
	if code, body := open(p); code != http.StatusOK || !strings.Contains(body, "Apply complete!") {
		t.Errorf("the link after a restart with another webhook secret: %d %q, want the log", code, body)
	}
}
