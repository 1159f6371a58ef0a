package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/parity"
)

// TestEnvironmentConditionalFailsParityUntilDeclared runs a module whose
// database engine follows var.environment: the preview's parity fails,
// naming the attribute and its line, in the API, the comment, the
// previewd/parity status and the CLI. Production's module then takes the
// engine from a variable the previews declare a difference in, and the
// next push is green.
func TestEnvironmentConditionalFailsParityUntilDeclared(t *testing.T) {
	module := t.TempDir()
	copyTree(t, "testdata/conditional", module)
	dir := t.TempDir()
	configFile := filepath.Join(dir, "previewd.yaml")
	writeConfig := func(differences string) {
		os.WriteFile(configFile, []byte("repos:\n  - name: acme/shop\n    module_dir: "+module+"\n"+differences), 0o600)
	}
	writeConfig("")
	p := startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": configFile})
	t0 := time.Now().Add(-time.Hour)
	sha1, sha2 := strings.Repeat("1", 40), strings.Repeat("2", 40)

	type status struct {
		SHA   string `json:"sha"`
		State string `json:"state"`
	}
	type env struct {
		apiEnvironment
		ParityStatus status `json:"parity_status"`
	}
	var got env
	waitChecked := func(sha string) {
		t.Helper()
		p.waitFor("engine", "checked at "+sha[:7], func(e apiEnvironment) bool { return e.Parity.SHA == sha })
		waittest.Until(t, "the parity status at "+sha[:7], func() bool {
			got = env{}
			p.get("/api/v1/environments/engine", &got)
			// The status of this very head: the one of the previous head
			// is still shown until the check's result is synced.
			return got.ParityStatus.SHA == sha && strings.Contains(got.Comment.Body, "Parity with production")
		})
	}
	p.send(prEvent{"opened", "engine", sha1, 1, t0})
	waitChecked(sha1)
	var report preview.ParityReport
	p.get("/api/v1/environments/engine/parity", &report)
	want := preview.Finding{Kind: preview.FindingAttribute, Subject: "terraform_data.database.input.engine_version",
		Production: "15.4", Preview: "13.11", Reason: "follows var.environment other than by the environment's name", Location: "main.tf:15"}
	if report.Status != preview.ParityDrift || len(report.Findings) != 1 || report.Findings[0] != want {
		t.Errorf("API report: got %+v, want drift with only %+v", report, want)
	}
	if report.IdentityDifferences != 2 { // input.name (shop-production, shop-engine) and output.url
		t.Errorf("identity differences: got %d, want 2", report.IdentityDifferences)
	}
	if got.ParityStatus.State != "failure" {
		t.Errorf("previewd/parity status: got %q, want failure", got.ParityStatus.State)
	}
	for _, w := range []string{"❌ 1 undeclared difference", "`terraform_data.database.input.engine_version` at `main.tf:15`", "`15.4`", "`13.11`"} {
		if !strings.Contains(got.Comment.Body, w) {
			t.Errorf("comment lacks %q:\n%s", w, got.Comment.Body)
		}
	}
	cli := func() (int, string) {
		var stdout, stderr bytes.Buffer
		code := runParity(context.Background(), []string{"--config", configFile, "--repo", "acme/shop", "--json"}, &stdout, &stderr,
			config.MapEnv(map[string]string{"PREVIEWD_TERRAFORM_BIN": terraformForTests(t)}))
		return code, stdout.String() + stderr.String()
	}
	if code, out := cli(); code != parity.ExitDrift || !strings.Contains(out, `"location": "main.tf:15"`) {
		t.Errorf("previewd parity: got exit %d, want 1 with the location:\n%s", code, out)
	}

	// Production's module now takes the engine from a variable, and the
	// previews declare why theirs differs.
	main := filepath.Join(module, "main.tf")
	src, _ := os.ReadFile(main)
	src = bytes.Replace(src, []byte(`var.environment == "production" ? "15.4" : "13.11"`), []byte("var.engine_version"), 1)
	src = append(src, []byte("\nvariable \"engine_version\" {\n  type    = string\n  default = \"15.4\"\n}\n")...)
	os.WriteFile(main, src, 0o644)
	writeConfig("    production:\n      vars: {engine_version: \"15.4\"}\n    differences:\n      - {variable: engine_version, value: \"13.11\", reason: cost}\n")
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	p = startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": configFile, "PREVIEWD_DATA_DIR": p.dataDir})
	p.send(prEvent{"synchronize", "engine", sha2, 1, t0.Add(time.Minute)})
	waitChecked(sha2)
	report = preview.ParityReport{}
	p.get("/api/v1/environments/engine/parity", &report)
	if report.Status != preview.ParityOK || got.ParityStatus.State != "success" {
		b, _ := json.Marshal(report)
		t.Errorf("after declaring: got %s, status %q; want ok and success", b, got.ParityStatus.State)
	}
	if code, out := cli(); code != parity.ExitParity {
		t.Errorf("previewd parity after declaring: got exit %d, want 0:\n%s", code, out)
	}
}
