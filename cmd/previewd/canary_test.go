package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/waittest"
)

// The secrets of TestSecretsAppearNowherePreviewdWrites: production's and
// the previews' database passwords. The module's sensitive output is
// "canary-" and the password.
const (
	productionSecret = "prod-canary-5150"
	previewSecret    = "prev-canary-8086"
)

// TestSecretsAppearNowherePreviewdWrites plants secrets in a sensitive
// variable (production's value and the previews' declared one) and a
// sensitive output, takes two environments through apply, seed, parity, a
// drift check, pre-destroy and destroy, then reads every byte previewd
// wrote: run logs, its own log, the database file, the API's answers, the
// signed log links and the comment. One repository lets its hooks see
// sensitive outputs; only its hook gets them.
func TestSecretsAppearNowherePreviewdWrites(t *testing.T) {
	module, _ := filepath.Abs("testdata/canary")
	hooks := t.TempDir()
	dir := t.TempDir()
	configFile := filepath.Join(dir, "previewd.yaml")
	// The hooks of the repository allowed to see sensitive outputs print
	// them and fail: their output and errors must be redacted.
	repo := func(name, hookFile string, allow bool) string {
		leak := ""
		if allow {
			leak = `; echo "stdout: $PREVIEW_OUTPUT_DB_PASSWORD"; echo "stderr: $PREVIEW_OUTPUT_DB_PASSWORD" >&2; exit 3`
		}
		return fmt.Sprintf(`  - name: %s
    module_dir: %s
    production:
      vars: {db_password: %s, external_api_url: "https://api.shop.test", region: eu-west-1}
    differences:
      - {variable: db_password, value: %s, reason: security}
      - {variable: region, value: eu-north-1, reason: cost}
    parity:
      hook_sensitive_outputs: %v
      seed_command: [sh, -c, 'env > %s.seed%s']
      pre_destroy_command: [sh, -c, 'env > %s.predestroy; echo pre-destroy ran%s']
`, name, module, productionSecret, previewSecret, allow, hookFile, leak, hookFile, leak)
	}
	os.WriteFile(configFile, []byte("repos:\n"+
		repo("acme/shop", filepath.Join(hooks, "shop"), false)+
		repo("acme/ops", filepath.Join(hooks, "ops"), true)), 0o600)
	p := startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": configFile})
	sha := strings.Repeat("c", 40)
	t0 := time.Now().Add(-time.Hour)

	for _, r := range []string{"acme/shop", "acme/ops"} {
		if code, _ := p.sendTo(r, prEvent{"opened", "canary-" + strings.TrimPrefix(r, "acme/"), sha, 1, t0}); code != http.StatusAccepted {
			t.Fatalf("%s opened: got %d", r, code)
		}
	}
	for _, name := range []string{"canary-shop", "canary-ops"} {
		env := p.waitFor(name, "ready and checked", func(e apiEnvironment) bool { return e.Status == "ready" && e.Parity.SHA == sha })
		if got := env.Outputs["db_name"]; got != "db-"+name {
			t.Errorf("%s: db_name output %q, want db-%s", name, got, name)
		}
		if code := p.post("/api/v1/environments/"+name+"/drift-check", nil); code != http.StatusAccepted {
			t.Errorf("%s: drift check: got %d, want 202", name, code)
		}
	}
	waittest.Until(t, "both drift checks", func() bool {
		return strings.Count(p.logs.String(), "drift checked") >= 2
	})

	var answers bytes.Buffer // every API answer, to search
	apiGet := func(path string) {
		req, _ := http.NewRequest("GET", p.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		io.Copy(&answers, resp.Body)
	}
	readAPI := func(live bool) {
		apiGet("/api/v1/environments")
		apiGet("/dashboard?all=true")
		for _, name := range []string{"canary-shop", "canary-ops"} {
			apiGet("/api/v1/environments/" + name)
			if live { // a destroyed environment has no parity report
				apiGet("/api/v1/environments/" + name + "/parity")
			}
			var runs []struct{ ID string }
			p.get("/api/v1/environments/"+name+"/runs", &runs)
			apiGet("/api/v1/environments/" + name + "/runs")
			apiGet("/dashboard/environments/" + name) // its inputs, logs and parity report
			if live {
				if page := answers.String(); !strings.Contains(page, "<code>db_password</code></td><td><em>(sensitive)</em>") {
					t.Errorf("%s's page does not show db_password as sensitive", name)
				}
			}
			for _, run := range runs {
				_, seq, _ := strings.Cut(run.ID, "/")
				apiGet("/api/v1/environments/" + name + "/runs/" + seq + "/log")
			}
			var env apiEnvironment
			p.get("/api/v1/environments/"+name, &env)
			answers.WriteString(env.Comment.Body)
			if link := signedLogLink(env.Comment.Body); link != "" {
				answers.WriteString(fetch(t, link))
			} else if env.Status != "destroyed" {
				t.Errorf("%s: the comment has no log link:\n%s", name, env.Comment.Body)
			}
		}
	}
	readAPI(true)

	for _, r := range []string{"acme/shop", "acme/ops"} {
		p.sendTo(r, prEvent{"closed", "canary-" + strings.TrimPrefix(r, "acme/"), sha, 1, t0.Add(time.Minute)})
	}
	for _, name := range []string{"canary-shop", "canary-ops"} {
		p.waitFor(name, "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })
	}
	readAPI(false)
	// Plain inputs stay in clear: production's and the declared
	// difference's values, and Terraform's own flags.
	for _, want := range []string{`api_url  = "https://api.shop.test"`, `region   = "eu-north-1"`, "-input=false"} {
		if !strings.Contains(answers.String(), want) {
			t.Errorf("the run logs redact a plain value: they lack %q", want)
		}
	}
	for _, want := range []string{"pre-destroy ran", "Destroy complete!", "stdout: (sensitive)", "stderr: (sensitive)", `"last_error":"seed: command sh: exit status 3: stderr: (sensitive)"`} {
		if !strings.Contains(answers.String(), want) {
			t.Errorf("the API's answers lack %q:\n%.3000s", want, answers.String())
		}
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}

	written := map[string][]byte{"previewd's log": []byte(p.logs.String()), "API answers": answers.Bytes()}
	filepath.WalkDir(p.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			written[path] = b
		}
		return nil
	})
	for what, b := range written {
		for _, secret := range []string{productionSecret, previewSecret} {
			if i := bytes.Index(b, []byte(secret)); i >= 0 {
				t.Errorf("%s holds %s: …%s…", what, secret, b[max(0, i-80):min(len(b), i+40)])
			}
		}
	}
	if len(written) < 4 {
		t.Errorf("found only %d things previewd wrote: %v", len(written), written)
	}

	for _, hook := range []string{"shop.seed", "shop.predestroy", "ops.seed", "ops.predestroy"} {
		b, err := os.ReadFile(filepath.Join(hooks, hook))
		if err != nil {
			t.Fatalf("hook %s did not run: %v", hook, err)
		}
		got := strings.Contains(string(b), "PREVIEW_OUTPUT_DB_PASSWORD=canary-"+previewSecret)
		if want := strings.HasPrefix(hook, "ops."); got != want {
			t.Errorf("hook %s saw the sensitive output: %v, want %v", hook, got, want)
		}
		if !strings.Contains(string(b), "PREVIEW_OUTPUT_DB_NAME=db-canary-") {
			t.Errorf("hook %s did not get the plain outputs:\n%s", hook, b)
		}
	}
}

// post sends an admin API POST and returns the status code.
func (p *previewd) post(path string, body io.Reader) int {
	p.t.Helper()
	req, _ := http.NewRequest("POST", p.base+path, body)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// signedLogLink finds the "Run log" link in a comment body.
func signedLogLink(body string) string {
	_, rest, ok := strings.Cut(body, "[Run log](<")
	if !ok {
		return ""
	}
	link, _, _ := strings.Cut(rest, ">)")
	return link
}
