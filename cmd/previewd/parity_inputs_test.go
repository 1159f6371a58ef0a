package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/parity"
)

// TestParityNeedsProductionsRealInputs runs the parity command with the
// example module as the default module_dir: without production's var
// files the module's required variables have no production value, and
// the check is an error naming them; production_var_files gives them.
func TestParityNeedsProductionsRealInputs(t *testing.T) {
	t.Parallel()
	example := absFixture(t, "../../examples/preview-web-module")
	env := config.MapEnv(map[string]string{"PREVIEWD_TERRAFORM_BIN": terraformForTests(t)})
	tests := []struct {
		name       string
		configFile string
		wantCode   int
		wantOut    string
	}{
		{"module_dir alone", "module_dir: " + example + "\n", parity.ExitError,
			"production's inputs do not set database_engine_version, database_instance_class, external_api_url, which the module requires: give production's values in production_var_files (PREVIEWD_PRODUCTION_VAR_FILES)"},
		{"a repos entry without var files", "repos:\n  - name: acme/shop\n    module_dir: " + example + "\n", parity.ExitError,
			"give production's values in production.var_files or production.vars of its repos entry"},
		{"with production_var_files", "module_dir: " + example + "\nproduction_var_files: [production.tfvars]\n", parity.ExitParity, `"status": "ok"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := runParity(context.Background(), []string{"--config", writeConfig(t, tt.configFile), "--repo", "acme/shop", "--json"}, &stdout, &stderr, env)
			if out := stdout.String() + stderr.String(); code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("got exit %d, want %d with %q:\n%s", code, tt.wantCode, tt.wantOut, out)
			}
		})
	}
}

// TestParityComparesTheEngine names production's engine in the setting
// and in the module's required_version.
func TestParityComparesTheEngine(t *testing.T) {
	t.Parallel()
	example := absFixture(t, "../../examples/preview-web-module")
	env := config.MapEnv(map[string]string{"PREVIEWD_TERRAFORM_BIN": terraformForTests(t)})
	base := "module_dir: " + example + "\nproduction_var_files: [production.tfvars]\n"
	tests := []struct {
		name, setting string
		want          []preview.Finding
	}{
		{"the same engine", `production_terraform_version: "terraform 1.5.7"`, nil},
		{"another version", `production_terraform_version: "1.6.2"`, []preview.Finding{
			{Kind: preview.FindingEngineVersion, Subject: "version", Production: "1.6.2", Preview: "1.5.7", Reason: "production runs another version"}}},
		{"another engine", `production_terraform_version: "opentofu 1.5.7"`, []preview.Finding{
			{Kind: preview.FindingEngineVersion, Subject: "engine", Production: "opentofu", Preview: "terraform", Reason: "production runs another engine"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := runParity(context.Background(), []string{"--config", writeConfig(t, base+tt.setting+"\n"), "--repo", "acme/shop", "--json"}, &stdout, &stderr, env)
			var report preview.ParityReport
			if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
				t.Fatalf("exit %d: %v\n%s%s", code, err, stdout.String(), stderr.String())
			}
			var got []preview.Finding
			for _, f := range report.Findings {
				if f.Kind == preview.FindingEngineVersion {
					got = append(got, f)
				}
			}
			if len(got) != len(tt.want) || len(got) > 0 && got[0] != tt.want[0] {
				t.Errorf("engine findings: got %+v, want %+v", got, tt.want)
			}
			if wantCode := map[bool]int{true: parity.ExitParity, false: parity.ExitDrift}[len(tt.want) == 0]; code != wantCode {
				t.Errorf("exit: got %d, want %d", code, wantCode)
			}
		})
	}
}
