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

func envFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "previewd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigDefaultsAndOverrides(t *testing.T) {
	module := t.TempDir()
	path := writeConfig(t, "webhook_secret: from-file\nttl: 24h\nmax_concurrent_runs: 2\nmodule_dir: "+module+"\n")
	cfg, err := LoadConfig(path, envFrom(map[string]string{"PREVIEWD_TTL": "36h", "PREVIEWD_LISTEN_ADDR": "0.0.0.0:9000"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TTL != 36*time.Hour {
		t.Errorf("ttl: got %v, want the variable's 36h to win over the file", cfg.TTL)
	}
	if cfg.MaxConcurrentRuns != 2 || cfg.WebhookSecret != "from-file" || cfg.ListenAddr != "0.0.0.0:9000" {
		t.Errorf("got %+v", cfg)
	}
	if cfg.DataDir != "./.previewd" || cfg.URLOutput != "url" || cfg.GitHub.APIURL != "https://api.github.com/" {
		t.Errorf("defaults: got data_dir %q url_output %q api_url %q", cfg.DataDir, cfg.URLOutput, cfg.GitHub.APIURL)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	module := t.TempDir()
	file := filepath.Join(module, "main.tf")
	os.WriteFile(file, nil, 0o600)
	base := map[string]string{"PREVIEWD_WEBHOOK_SECRET": "s", "PREVIEWD_MODULE_DIR": module}
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want string // the error must contain this
	}{
		{"no secret", "", map[string]string{"PREVIEWD_MODULE_DIR": module}, "webhook_secret (PREVIEWD_WEBHOOK_SECRET): is empty"},
		{"blank secret", "", map[string]string{"PREVIEWD_WEBHOOK_SECRET": "  "}, "PREVIEWD_WEBHOOK_SECRET"},
		{"unknown key", "webhook_secrett: x\n", nil, "field webhook_secrett not found"},
		{"bad yaml", "ttl: [\n", nil, "config "},
		{"yaml wrong type", "max_concurrent_runs: lots\n", nil, "max_concurrent_runs"},
		{"bad ttl variable", "", map[string]string{"PREVIEWD_TTL": "3 days"}, `PREVIEWD_TTL: "3 days" is not a duration`},
		{"negative ttl", "ttl: -1h\n", nil, "ttl (PREVIEWD_TTL): must be positive"},
		{"runs not a number", "", map[string]string{"PREVIEWD_MAX_CONCURRENT_RUNS": "four"}, "PREVIEWD_MAX_CONCURRENT_RUNS"},
		{"zero runs", "max_concurrent_runs: 0\n", nil, "max_concurrent_runs (PREVIEWD_MAX_CONCURRENT_RUNS): must be between 1 and 256"},
		{"bad listen address", "", map[string]string{"PREVIEWD_LISTEN_ADDR": "8080"}, "listen_addr (PREVIEWD_LISTEN_ADDR)"},
		{"bad api url", "", map[string]string{"PREVIEWD_GITHUB_API_URL": "ftp://x"}, "github.api_url"},
		{"app id without key", "", map[string]string{"PREVIEWD_GITHUB_APP_ID": "12"}, "github.app_private_key_file (PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE): is required"},
		{"app key without id", "", map[string]string{"PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE": file}, "github.app_id (PREVIEWD_GITHUB_APP_ID): is required"},
		{"app key missing", "", map[string]string{"PREVIEWD_GITHUB_APP_ID": "12", "PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE": "/nonexistent.pem"}, "no such file"},
		{"token and app", "", map[string]string{"PREVIEWD_GITHUB_APP_ID": "12", "PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE": file, "PREVIEWD_GITHUB_TOKEN": "t"}, "not both"},
		{"app key not PEM", "", map[string]string{"PREVIEWD_GITHUB_APP_ID": "12", "PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE": file}, "holds no PEM private key"},
		{"bad allowlist", "allowed_repos: [acme]\n", nil, `allowed_repos[0]: "acme" is not owner/name`},
		{"missing module dir", "", map[string]string{"PREVIEWD_MODULE_DIR": "/nonexistent/module"}, "module_dir (PREVIEWD_MODULE_DIR)"},
		{"module dir is a file", "", map[string]string{"PREVIEWD_MODULE_DIR": file}, "is not a directory"},
		{"no module at all", "", map[string]string{"PREVIEWD_MODULE_DIR": ""}, "module_dir (PREVIEWD_MODULE_DIR): no module is configured"},
		{"secret passthrough", "terraform:\n  env_passthrough: [PREVIEWD_ADMIN_TOKEN]\n", nil, "terraform.env_passthrough"},
		{"bad repo name", "repos:\n  - name: shop\n", nil, `repos[0]: name: "shop" is not owner/name`},
		{"duplicate repo", "repos:\n  - name: acme/shop\n  - name: ACME/shop\n", nil, "repos[1].name"},
		{"bad reason", "repos:\n  - name: acme/shop\n    differences:\n      - variable: replicas\n        value: 1\n        reason: because\n", nil, `differences[0].reason: "because" is not one of scale`},
		{"difference on a per-pull-request variable", "repos:\n  - name: acme/shop\n    differences:\n      - {variable: environment, value: x, reason: cost}\n", nil, `differences[0].variable: "environment" is set by previewd`},
		{"difference without variable", "repos:\n  - name: acme/shop\n    differences:\n      - reason: scale\n", nil, "differences[0].variable: is empty"},
		{"bad log level", "log_level: loud\n", nil, "log_level"},
		{"bad name length", "name_max_length: 100\n", nil, "name_max_length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.name == "no secret" {
				delete(env, "PREVIEWD_WEBHOOK_SECRET")
			}
			path := ""
			if tt.yaml != "" {
				path = writeConfig(t, tt.yaml)
			}
			_, err := LoadConfig(path, envFrom(env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig("/nonexistent/previewd.yaml", envFrom(nil))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/previewd.yaml") {
		t.Errorf("got %v, want an error naming the file", err)
	}
}

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

func TestLoadConfigRelativePathsFromARelativeFile(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf", "module"), 0o755)
	os.WriteFile(filepath.Join(dir, "conf", "previewd.yaml"), []byte("webhook_secret: s\nrepos:\n  - name: acme/shop\n    module_dir: module\n"), 0o600)
	t.Chdir(dir)
	cfg, err := LoadConfig("conf/previewd.yaml", envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "conf", "module"); cfg.Repos[0].ModuleDir != want {
		t.Errorf("module_dir: got %q, want the absolute %q", cfg.Repos[0].ModuleDir, want)
	}
}

func TestConfigServes(t *testing.T) {
	module := t.TempDir()
	shop := RepoConfig{Name: "acme/shop", ModuleDir: module}
	tests := []struct {
		name string
		cfg  Config
		repo string
		want bool
	}{
		{"default module, no allowlist", Config{ModuleDir: module}, "stranger/anything", true},
		{"listed repository", Config{Repos: []RepoConfig{shop}}, "acme/shop", true},
		{"listed repository in another case", Config{Repos: []RepoConfig{shop}}, "ACME/Shop", true},
		{"unlisted repository without a default module", Config{Repos: []RepoConfig{shop}}, "acme/other", false},
		{"stranger without a default module", Config{Repos: []RepoConfig{shop}}, "stranger/shop", false},
		{"unlisted repository with a default module", Config{ModuleDir: module, Repos: []RepoConfig{shop}}, "acme/other", true},
		{"allowlist match without a module", Config{Repos: []RepoConfig{shop}, AllowedRepos: []string{"acme/*"}}, "acme/other", false},
		{"allowlist and module", Config{Repos: []RepoConfig{shop}, AllowedRepos: []string{"acme/*"}}, "acme/shop", true},
		{"default module outside the allowlist", Config{ModuleDir: module, AllowedRepos: []string{"acme/*"}}, "stranger/shop", false},
		{"default module inside the allowlist, any case", Config{ModuleDir: module, AllowedRepos: []string{"ACME/*"}}, "acme/other", true},
		{"listed repository outside the allowlist", Config{Repos: []RepoConfig{shop}, AllowedRepos: []string{"other/*"}}, "acme/shop", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.serves(tt.repo); got != tt.want {
				t.Errorf("serves(%q) = %v, want %v", tt.repo, got, tt.want)
			}
		})
	}
}

// TestUnservedRepositoryIsAcknowledgedAndNotRecorded sends a signed delivery
// for a repository previewd has no module for, then one for a listed
// repository: both are acknowledged, and only the second has an environment.
func TestUnservedRepositoryIsAcknowledgedAndNotRecorded(t *testing.T) {
	moduleDir, _ := filepath.Abs("testdata/module")
	config := filepath.Join(t.TempDir(), "previewd.yaml")
	os.WriteFile(config, fmt.Appendf(nil, "repos:\n  - name: acme/shop\n    module_dir: %s\n", moduleDir), 0o600)
	p := startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": config})

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
