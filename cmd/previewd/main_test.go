package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunExitCodes(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"version"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "previewd") {
		t.Errorf("version: got %d %q", code, out.String())
	}
	if code := run([]string{"bogus"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("unknown command: got %d %q", code, errOut.String())
	}
	t.Setenv("PREVIEWD_WEBHOOK_SECRET", "")
	errOut.Reset()
	if code := run([]string{"serve"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "webhook_secret") {
		t.Errorf("serve without a secret: got %d %q", code, errOut.String())
	}
}

// TestUnservedRepositoryIsAcknowledgedAndNotRecorded sends a signed delivery
// for a repository previewd has no module for, then one for a listed
// repository: both are acknowledged, and only the second has an environment.
func TestUnservedRepositoryIsAcknowledgedAndNotRecorded(t *testing.T) {
	moduleDir, _ := filepath.Abs("testdata/module")
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	os.WriteFile(configFile, fmt.Appendf(nil, "repos:\n  - name: acme/shop\n    module_dir: %s\n", moduleDir), 0o600)
	p := startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": configFile})

	t0 := time.Now().Add(-time.Hour)
	stranger := bytes.ReplaceAll(prEvent{"opened", "stranger/pr", "s1", 3, t0}.payload(), []byte("acme/shop"), []byte("stranger/shop"))
	if code, out := postDelivery(t, p, "pull_request", stranger); code != 202 || out["result"] != "ignored" || out["environment"] != "" {
		t.Fatalf("unserved repository: got %d %v, want 202 ignored with no environment", code, out)
	}
	if code, out := p.send(prEvent{"opened", "served", "s2", 4, t0}); code != 202 || out["environment"] != "served" {
		t.Fatalf("served repository: got %d %v", code, out)
	}
	var envs []apiEnvironment
	if code := p.get("/api/v1/environments", &envs); code != 200 || len(envs) != 1 || envs[0].Repo != "acme/shop" {
		t.Errorf("environments: got %d %+v, want only acme/shop's", code, envs)
	}
	p.waitFor("served", "ready", readyAt("s2"))
}

// postDelivery sends body as a signed delivery of event and returns the
// status and the decoded answer.
func postDelivery(t *testing.T, p *previewd, event string, body []byte) (int, map[string]string) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(body)
	req, _ := http.NewRequest("POST", p.base+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("unserved-%d", time.Now().UnixNano()))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// writeConfig writes a configuration file of body for the test.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "previewd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
