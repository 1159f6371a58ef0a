package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
)

// checkApp is a GitHub that knows one App by its public key: GET /app and
// GET /app/installations with its JWT, one installation on acme granting
// permissions and events.
func checkApp(t *testing.T, key *rsa.PublicKey, permissions map[string]string, events []string) string {
	t.Helper()
	valid := func(w http.ResponseWriter, r *http.Request) bool {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		parts := strings.Split(token, ".")
		if len(parts) == 3 {
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
			if err == nil && rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig) == nil {
				return true
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"message":"A JSON web token could not be decoded"}`))
		return false
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) {
		if valid(w, r) {
			json.NewEncoder(w).Encode(map[string]any{"id": 7, "slug": "previewd", "name": "previewd"})
		}
	})
	mux.HandleFunc("GET /app/installations", func(w http.ResponseWriter, r *http.Request) {
		if valid(w, r) {
			json.NewEncoder(w).Encode([]any{map[string]any{"id": 99, "app_id": 7, "account": map[string]any{"login": "acme"},
				"permissions": permissions, "events": events}})
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

var fullGrant = map[string]string{"metadata": "read", "pull_requests": "write", "issues": "read", "deployments": "write", "statuses": "read", "checks": "write"}

// writeKey writes a fresh App key and returns it and its file.
func writeKey(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "app.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return key, file
}

// runCheck runs previewd check with a configuration of yaml (data_dir and
// the Terraform binary added) and returns its exit code and stdout.
func runCheck(t *testing.T, yaml string, args ...string) (int, string) {
	t.Helper()
	t.Setenv("PREVIEWD_CONFIG", "")
	dir := t.TempDir()
	module, err := filepath.Abs("testdata/module")
	if err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "previewd.yaml")
	full := "webhook_secret: 0123456789abcdef0123456789abcdef\ndata_dir: " + filepath.Join(dir, "data") + "\nterraform:\n  bin: " + terraformForTests(t) + "\n" +
		strings.ReplaceAll(yaml, "MODULE", module)
	if err := os.WriteFile(configFile, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	code := run(append([]string{"check", "--config", configFile, "--timeout", "2m"}, args...), &out, &errOut)
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return code, out.String()
}

func TestCheckAppPermissions(t *testing.T) {
	key, keyFile := writeKey(t)
	// An App from before check runs: commit statuses, no checks.
	lacking := map[string]string{"metadata": "read", "pull_requests": "write", "issues": "read", "deployments": "write", "statuses": "write"}
	noStatuses := map[string]string{"metadata": "read", "pull_requests": "write", "issues": "read", "deployments": "write", "checks": "write"}
	events := []string{"pull_request", "issue_comment", "check_run", "check_suite", "status"}
	app := func(api string) string {
		return "module_dir: MODULE\nwait_for_checks: [ci]\ngithub:\n  api_url: " + api + "\n  app_id: 7\n  app_private_key_file: " + keyFile + "\n"
	}

	t.Run("all granted", func(t *testing.T) {
		code, out := runCheck(t, app(checkApp(t, &key.PublicKey, fullGrant, events)))
		if code != 0 || !strings.Contains(out, "ok    github app") || !strings.Contains(out, "0 failed") {
			t.Errorf("exit %d, want 0 and every check ok:\n%s", code, out)
		}
	})
	t.Run("lacks checks: write", func(t *testing.T) {
		code, out := runCheck(t, app(checkApp(t, &key.PublicKey, lacking, events)))
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		for _, want := range []string{"fail  github installation acme", "the installation on acme lacks checks: write, which github.app_id needs",
			"fix (github.app_id): grant it in the App's settings → Permissions"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("lacks statuses: read", func(t *testing.T) {
		code, out := runCheck(t, app(checkApp(t, &key.PublicKey, noStatuses, events)))
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		for _, want := range []string{"fail  github installation acme", "the installation on acme lacks statuses: read, which wait_for_checks needs",
			"fix (wait_for_checks): grant it in the App's settings → Permissions"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("a key GitHub refuses", func(t *testing.T) {
		other, _ := writeKey(t)
		code, out := runCheck(t, app(checkApp(t, &other.PublicKey, fullGrant, events)), "--json")
		var got struct {
			Checks []struct{ Check, Status, Setting, Detail, Fix string }
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("--json: %v\n%s", err, out)
		}
		if code != 1 || len(got.Checks) == 0 || got.Checks[0].Check != "github app" || got.Checks[0].Status != "fail" ||
			got.Checks[0].Setting != "github.app_id" || !strings.Contains(got.Checks[0].Detail, "401") ||
			!strings.Contains(got.Checks[0].Fix, "github.app_private_key_file") {
			t.Errorf("exit %d, checks %+v; want 1 and the github app check failing with 401 and its fix", code, got.Checks)
		}
	})
}

func TestCheckModuleSource(t *testing.T) {
	missing := "git::file://" + filepath.Join(t.TempDir(), "nowhere.git") + "?ref=main"
	code, out := runCheck(t, "repos:\n  - name: acme/shop\n    module_source: "+missing+"\n")
	if code != 1 || !strings.Contains(out, "fail  module acme/shop") || !strings.Contains(out, "fix (repos[acme/shop].module_source)") {
		t.Errorf("exit %d, want 1 and the module_source named:\n%s", code, out)
	}
}

func TestCheckEngineVersion(t *testing.T) {
	code, out := runCheck(t, "module_dir: MODULE\nproduction_terraform_version: 1.4.0\n")
	if code != 0 || !strings.Contains(out, "warn  engine default: version: production 1.4.0") ||
		!strings.Contains(out, "fix (production_terraform_version)") {
		t.Errorf("exit %d, want 0 and a warning naming production_terraform_version:\n%s", code, out)
	}
}

// TestCheckPostgresState initialises Terraform's pg backend (real
// PostgreSQL, real Terraform): a role that cannot log in fails naming the
// state setting; one that can passes and leaves no workspace behind.
func TestCheckPostgresState(t *testing.T) {
	state, conn := pgtest.StateDatabase(t)
	pg := func(connStr string) string {
		return "module_dir: MODULE\nstate:\n  backend: pg\n  config:\n    conn_str: \"" + connStr + "\"\n"
	}
	code, out := runCheck(t, pg(state))
	if code != 0 || !strings.Contains(out, "ok    state pg (default)") {
		t.Errorf("exit %d, want 0 and the state ok:\n%s", code, out)
	}
	for _, name := range pgtest.StateNames(t, conn, pgtest.StateSchema) {
		if strings.HasPrefix(name, "previewd-preflight-") {
			t.Errorf("workspace %s left behind", name)
		}
	}

	u, err := url.Parse(state)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("previewd_no_such_role")
	code, out = runCheck(t, pg(u.String()))
	if code != 1 || !strings.Contains(out, "fail  state pg (default)") || !strings.Contains(out, "fix (state)") ||
		!strings.Contains(out, "terraform init") {
		t.Errorf("exit %d, want 1 and the state failing at init:\n%s", code, out)
	}
}

func TestCheckHelpAndUsage(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"check", "--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "Usage: previewd check") ||
		!strings.Contains(out.String(), "-timeout") || errOut.Len() > 0 {
		t.Errorf("check --help: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	t.Setenv("PREVIEWD_CONFIG", "")
	if code := run([]string{"check", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, &out, &errOut); code != 2 {
		t.Errorf("a missing configuration: exit %d, want 2", code)
	}
}

// TestServeRunsTheChecksAtStartup: serve runs previewd check's checks as
// it starts (startup_checks): a module source that cannot be resolved is
// logged with its setting and fix and listed by /readyz, which still
// answers 200 (deliveries are still taken); with every check passing,
// /readyz says ready.
func TestServeRunsTheChecksAtStartup(t *testing.T) {
	type readyz struct {
		Status    string
		Preflight *struct {
			Ran    bool
			Checks int
			Failed []struct{ Check, Status, Setting, Detail, Fix string }
		}
	}
	read := func(p *previewd) func() readyz {
		return func() readyz {
			var r readyz
			if code := p.get("/readyz", &r); code != http.StatusOK {
				t.Errorf("/readyz: %d, want 200", code)
			}
			return r
		}
	}
	ran := func(r readyz) bool { return r.Preflight != nil && r.Preflight.Ran }

	missing := "git::file://" + filepath.Join(t.TempDir(), "nowhere.git") + "?ref=main"
	p := startPreviewd(t, map[string]string{"PREVIEWD_STARTUP_CHECKS": "true",
		"PREVIEWD_CONFIG": writeConfig(t, "repos:\n  - name: acme/shop\n    module_source: "+missing+"\n")})
	r := waittest.For(t, "the start-up checks in /readyz", read(p), ran)
	if r.Status != "degraded" || len(r.Preflight.Failed) != 1 || r.Preflight.Failed[0].Check != "module acme/shop" ||
		r.Preflight.Failed[0].Setting != "repos[acme/shop].module_source" || r.Preflight.Failed[0].Fix == "" {
		t.Errorf("/readyz: %+v, want degraded with the module acme/shop check failing, its setting and fix", r)
	}
	logs := p.logs.String()
	if !strings.Contains(logs, `msg="preflight check failed" check="module acme/shop" setting=repos[acme/shop].module_source`) ||
		!strings.Contains(logs, `msg="preflight checks done"`) {
		t.Errorf("the log does not name the failed check and its setting:\n%s", logs)
	}

	module, err := filepath.Abs("testdata/module")
	if err != nil {
		t.Fatal(err)
	}
	p = startPreviewd(t, map[string]string{"PREVIEWD_STARTUP_CHECKS": "true", "PREVIEWD_MODULE_DIR": module})
	r = waittest.For(t, "the start-up checks in /readyz", read(p), ran)
	if r.Status != "ready" || r.Preflight.Checks == 0 || len(r.Preflight.Failed) != 0 {
		t.Errorf("/readyz: %+v, want ready with every check passing", r)
	}
}
