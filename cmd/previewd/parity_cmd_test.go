package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/parity"
)

// absFixture returns the absolute path of a fixture elsewhere in the tree.
func absFixture(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.FromSlash(rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// parityConfig writes a configuration for acme/shop with module dir and the
// given lines under the repo entry (indented by the caller as a repo's
// settings, four spaces).
func parityConfig(t *testing.T, moduleDir, repoSettings string) string {
	t.Helper()
	return writeConfig(t, "repos:\n  - name: acme/shop\n    module_dir: "+moduleDir+"\n"+repoSettings)
}

func TestParityCommand(t *testing.T) {
	t.Parallel()
	example := absFixture(t, "../../examples/preview-web-module")
	scale := absFixture(t, "../../provisioner/testdata/parity-scale")
	keys := absFixture(t, "../../parity/testdata/keys")
	toggles := absFixture(t, "../../parity/testdata/toggles/toggles.json")
	locks := absFixture(t, "../../parity/testdata/locks")

	// A module whose committed lock file (locking nothing: it uses only
	// built-ins) is not the one production runs with.
	lockedModule := absFixture(t, "../../provisioner/testdata/locked")

	// Attribute findings are compared without their values. The example's
	// triggers_replace.inputs is jsonencode(local.inputs): each key that
	// differs is a finding of its own, located at its line in local.inputs
	// and declared or not by the variable it follows.
	inputsKey := func(instance int, key string, line int, declared bool, reason string) preview.Finding {
		return preview.Finding{Kind: "attribute", Subject: fmt.Sprintf("terraform_data.web[%d].triggers_replace.inputs.%s", instance, key),
			Declared: declared, Reason: reason, Location: fmt.Sprintf("main.tf:%d", line)}
	}
	declaredInputs := []preview.Finding{
		inputsKey(0, "external_api_url", 22, true, "external-integration"),
		inputsKey(0, "feature_flags.new_checkout", 23, true, "toggles"),
		inputsKey(0, "instance_count", 20, true, "scale"),
	}
	// The example declares a smaller database, which reaches an attribute.
	instanceClass := preview.Finding{Kind: "attribute", Subject: "terraform_data.web[0].input.database_instance_class",
		Declared: true, Reason: "cost", Location: "main.tf:50"}
	exampleFindings := func(attribute ...preview.Finding) []preview.Finding {
		return slices.Concat([]preview.Finding{
			{Kind: "variable", Subject: "database_instance_class", Production: "db.r5.2xlarge", Preview: "db.t3.medium", Declared: true, Reason: "cost"},
			{Kind: "variable", Subject: "external_api_url", Production: "https://api.payments.example.com", Preview: "https://sandbox.payments.example.com", Declared: true, Reason: "external-integration"},
			{Kind: "variable", Subject: "instance_count", Production: "3", Preview: "1", Declared: true, Reason: "scale"},
			{Kind: "resource", Subject: "terraform_data.web", Production: "3 instances", Preview: "1 instance", Declared: true, Reason: "scale"},
		}, attribute, []preview.Finding{
			{Kind: "toggle", Subject: "new_checkout", Production: "false", Preview: "true", Declared: true, Reason: "toggle: staging tier"},
		})
	}
	scaleSettings := "    production:\n      var_files: [production.tfvars]\n      vars: {database_password: hunter2-production}\n" +
		"    differences:\n      - {variable: instance_count, value: 1, reason: scale}\n"

	tests := []struct {
		name       string
		configFile string // a path, or a function of the test's fixtures
		args       []string
		wantCode   int
		want       []preview.Finding // exactly, in order
		wantErr    string
	}{
		{
			name:       "the example is at parity",
			configFile: absFixture(t, "../../examples/previewd.yaml"),
			args:       []string{"--pr", "7", "--branch", "feat/x", "--head-sha", "abc123"},
			want:       exampleFindings(append([]preview.Finding{instanceClass}, declaredInputs...)...),
		},
		{
			name:       "undeclared version difference",
			configFile: absFixture(t, "../../examples/previewd.yaml"),
			args:       []string{"--preview-var", "database_engine_version=13.2"},
			wantCode:   parity.ExitDrift,
			want: slices.Insert(exampleFindings(append([]preview.Finding{instanceClass}, declaredInputs...)...), 0,
				preview.Finding{Kind: "variable", Subject: "database_engine_version", Production: "15.4", Preview: "13.2", Reason: "not declared"},
				inputsKey(0, "database_engine_version", 21, false, "follows var.database_engine_version, not a declared difference")),
		},
		{
			name: "stale declaration",
			configFile: parityConfig(t, example, "    production:\n      var_files: [production.tfvars]\n"+
				"    differences:\n      - {variable: database_engine_version, value: \"15.4\", reason: cost}\n"),
			wantCode: parity.ExitDrift,
			want: []preview.Finding{
				{Kind: "variable", Subject: "database_engine_version", Production: "15.4", Preview: "15.4", Reason: "stale declaration: the declared value is production's"},
			},
		},
		{
			name: "missing config key, values never shown",
			configFile: parityConfig(t, example, "    production:\n      var_files: [production.tfvars]\n"+
				"    parity:\n      config_keys:\n        - name: app-env\n"+
				"          production: {env_file: "+filepath.Join(keys, "production.env")+"}\n"+
				"          preview: {env_file: "+filepath.Join(keys, "preview.env")+"}\n"+
				"          differences: [{key: RATE_LIMIT_PER_MINUTE, reason: cost}]\n"),
			args:     []string{"--plan=false"},
			wantCode: parity.ExitDrift,
			want: []preview.Finding{
				{Kind: "config_key", Subject: "app-env: NEW_SEARCH_ENDPOINT", Production: "present", Preview: "missing", Reason: "missing in the preview, not declared"},
				{Kind: "config_key", Subject: "app-env: RATE_LIMIT_PER_MINUTE", Production: "present", Preview: "missing", Declared: true, Reason: "cost"},
			},
		},
		{
			name:       "sensitive value, resource only in the preview",
			configFile: parityConfig(t, scale, scaleSettings),
			args:       []string{"--preview-var", "database_password=hunter2-preview"},
			wantCode:   parity.ExitDrift,
			want: []preview.Finding{
				{Kind: "variable", Subject: "database_password", Production: "(sensitive)", Preview: "(sensitive)", Reason: "not declared"},
				{Kind: "resource", Subject: "terraform_data.debug", Production: "absent", Preview: "1 instance", Reason: "count or for_each follows var.environment, not a declared difference"},
				{Kind: "variable", Subject: "instance_count", Production: "3", Preview: "1", Declared: true, Reason: "scale"},
				{Kind: "resource", Subject: "module.cache.terraform_data.node", Production: "3 instances", Preview: "1 instance", Declared: true, Reason: "scale"},
				{Kind: "resource", Subject: "terraform_data.web", Production: "3 instances", Preview: "1 instance", Declared: true, Reason: "scale"},
			},
		},
		{
			name:       "provider version mismatch",
			configFile: parityConfig(t, lockedModule, "    parity:\n      production_lock_file: "+filepath.Join(locks, "production.lock.hcl")+"\n"),
			wantCode:   parity.ExitDrift,
			want: []preview.Finding{
				{Kind: "provider_version", Subject: "registry.terraform.io/hashicorp/aws", Production: "5.31.0", Preview: "not locked", Reason: "locked only by production"},
				{Kind: "provider_version", Subject: "registry.terraform.io/hashicorp/random", Production: "3.6.0", Preview: "not locked", Reason: "locked only by production"},
			},
		},
		{
			name: "toggles differ by tier, declared",
			configFile: parityConfig(t, example, "    production:\n      var_files: [production.tfvars]\n"+
				"    parity:\n      toggles_file: "+toggles+"\n"),
			want: []preview.Finding{
				inputsKey(0, "feature_flags.fast_cart", 23, true, "toggles"), inputsKey(0, "feature_flags.new_checkout", 23, true, "toggles"),
				inputsKey(1, "feature_flags.fast_cart", 23, true, "toggles"), inputsKey(1, "feature_flags.new_checkout", 23, true, "toggles"),
				inputsKey(2, "feature_flags.fast_cart", 23, true, "toggles"), inputsKey(2, "feature_flags.new_checkout", 23, true, "toggles"),
				{Kind: "toggle", Subject: "fast_cart", Production: "true", Preview: "false", Declared: true, Reason: "toggle: preview tier"},
				{Kind: "toggle", Subject: "new_checkout", Production: "false", Preview: "true", Declared: true, Reason: "toggle: staging tier"},
			},
		},
		{
			name:       "declaration naming an unknown variable",
			configFile: parityConfig(t, example, "    production:\n      var_files: [production.tfvars]\n    differences:\n      - {variable: replicas, value: 1, reason: scale}\n"),
			wantCode:   parity.ExitDrift,
			want: []preview.Finding{
				{Kind: "variable", Subject: "replicas", Production: "(not set)", Preview: "1", Reason: "declared for a variable the module does not declare"},
			},
		},
		{name: "no --repo", configFile: absFixture(t, "../../examples/previewd.yaml"), args: []string{"--repo="}, wantCode: parity.ExitError, wantErr: `--repo: "" is not owner/name`},
		{name: "unknown repo", configFile: absFixture(t, "../../examples/previewd.yaml"), args: []string{"--repo", "acme/other"}, wantCode: parity.ExitError, wantErr: "no module is configured for acme/other"},
		{name: "missing config", configFile: "/nonexistent/previewd.yaml", wantCode: parity.ExitError, wantErr: "no such file"},
		{name: "bad parity block", configFile: parityConfig(t, example, "    parity:\n      drift_check_interval: 5s\n"), wantCode: parity.ExitError, wantErr: "repos[0]: parity.drift_check_interval: 5s is shorter than 1m0s"},
		{name: "unknown parity setting", configFile: parityConfig(t, example, "    parity:\n      toggles: x\n"), wantCode: parity.ExitError, wantErr: "repos[0].parity.toggles: field toggles not found"},
		{name: "unknown setting elsewhere", configFile: parityConfig(t, example, "    modul_dir: x\n"), wantCode: parity.ExitError, wantErr: "field modul_dir not found"},
		{name: "bad preview var", configFile: absFixture(t, "../../examples/previewd.yaml"), args: []string{"--preview-var", "novalue"}, wantCode: parity.ExitError, wantErr: `--preview-var "novalue": not name=value`},
	}
	env := config.MapEnv(map[string]string{"PREVIEWD_TERRAFORM_BIN": terraformForTests(t)})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--config", tt.configFile, "--repo", "acme/shop", "--json"}, tt.args...)
			var stdout, stderr bytes.Buffer
			code := runParity(context.Background(), args, &stdout, &stderr, env)
			if code != tt.wantCode {
				t.Fatalf("got exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if tt.wantErr != "" {
				if !strings.Contains(stderr.String(), tt.wantErr) {
					t.Errorf("got stderr %q, want it to contain %q", stderr.String(), tt.wantErr)
				}
				return
			}
			var report preview.ParityReport
			if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
				t.Fatalf("%v: %s", err, stdout.String())
			}
			for i, f := range report.Findings {
				if f.Kind == preview.FindingAttribute {
					report.Findings[i].Production, report.Findings[i].Preview = "", ""
				}
			}
			if !slices.Equal(report.Findings, tt.want) {
				t.Errorf("got findings\n%+v\nwant\n%+v", report.Findings, tt.want)
			}
			if want := preview.Verdict(tt.want); report.Status != want || report.CheckedAt.IsZero() {
				t.Errorf("got status %q at %v, want %q", report.Status, report.CheckedAt, want)
			}
			for _, leak := range []string{"hunter2", "sk_live", "prod-db", "sk_test"} {
				if strings.Contains(stdout.String()+stderr.String(), leak) {
					t.Errorf("output leaks %q:\n%s\n%s", leak, stdout.String(), stderr.String())
				}
			}
		})
	}
}

func TestParityCommandText(t *testing.T) {
	t.Setenv("PREVIEWD_TERRAFORM_BIN", terraformForTests(t))
	tests := []struct {
		name     string
		args     []string
		columns  string // $COLUMNS; "" leaves the default, 100
		wantCode int
		want     []string
	}{
		{"parity", nil, "", parity.ExitParity, []string{
			"parity: ok, differs from production only where declared (9 declared; checked ",
			"4 values differ only by the environment's name (--all lists them); 3 values unknown until apply,",
			// The table would be wider than 100 columns: stacked.
			"ok    attribute terraform_data.web[0].triggers_replace.inputs.feature_flags.new_checkout\n" +
				"    production: false\n    preview:    true\n    why:        declared: toggles\n    where:      main.tf:23\n",
			"ok    variable instance_count\n    production: 3\n    preview:    1\n    why:        declared: scale\n",
		}},
		{"drift", []string{"--preview-var", "database_engine_version=13.2"}, "", parity.ExitDrift, []string{
			"parity: DRIFT, 2 undeclared differences (9 declared; checked ",
			"DRIFT variable database_engine_version\n    production: 15.4\n    preview:    13.2\n    why:        not declared\n",
			"DRIFT attribute terraform_data.web[0].triggers_replace.inputs.database_engine_version\n" +
				"    production: 15.4\n    preview:    13.2\n" +
				"    why:        follows var.database_engine_version, not a declared difference\n    where:      main.tf:21\n",
		}},
		{"a wide terminal gets a table", nil, "250", parity.ExitParity, []string{
			"row: ok attribute terraform_data.web[0].triggers_replace.inputs.feature_flags.new_checkout false true declared: toggles main.tf:23",
			"row: ok variable instance_count 3 1 declared: scale -",
		}},
		{"no plans", []string{"--plan=false"}, "", parity.ExitParity, []string{
			"parity: ok in the checks that ran, differs from production only where declared (4 declared; checked\n  20",
			"skipped: plan comparison (--plan=false), attribute values, provider versions, engine version\n",
		}},
		{"help", []string{"--help"}, "", parity.ExitParity, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.columns != "" {
				t.Setenv("COLUMNS", tt.columns)
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"--config", "../../examples/previewd.yaml", "--repo", "acme/shop"}, tt.args...)
			if code := parityCommand(args, &stdout, &stderr); code != tt.wantCode {
				t.Fatalf("got exit %d, want %d\n%s%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !containsLine(stdout.String(), w) {
					t.Errorf("output does not contain %q:\n%s", w, stdout.String())
				}
			}
			if tt.columns == "" {
				for _, line := range strings.Split(stdout.String(), "\n") {
					if n := columns(line); n > 100 {
						t.Errorf("a line of %d columns, wider than 100: %q", n, line)
					}
				}
			}
		})
	}
}

// TestParityCommandJSONDocuments checks a module whose attributes hold
// jsonencode's documents: each differing key is a finding of its own, at
// the line of its expression, in the JSON with its values whole, and the
// text fits 100 columns.
func TestParityCommandJSONDocuments(t *testing.T) {
	t.Parallel()
	module := absFixture(t, "../../parity/testdata/jsonencode")
	configFile := parityConfig(t, module, "    production:\n      vars: {max_items: 100}\n"+
		"    differences:\n      - {variable: max_items, value: 5, reason: scale}\n")
	env := config.MapEnv(map[string]string{"PREVIEWD_TERRAFORM_BIN": terraformForTests(t)})
	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := runParity(context.Background(), append([]string{"--config", configFile, "--repo", "acme/shop"}, args...), &stdout, &stderr, env)
		if code != parity.ExitDrift {
			t.Fatalf("%v: got exit %d, want %d\n%s%s", args, code, parity.ExitDrift, stdout.String(), stderr.String())
		}
		return code, stdout.String()
	}
	_, out := run("--json")
	var report preview.ParityReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := map[string]preview.Finding{}
	for _, f := range report.Findings {
		got[f.Subject] = f
	}
	for _, want := range []preview.Finding{
		{Kind: "attribute", Subject: "terraform_data.app.input.settings.feature_flags.new_checkout", Production: "false", Preview: "true",
			Reason: "follows var.environment other than by the environment's name", Location: "main.tf:32"},
		{Kind: "attribute", Subject: "terraform_data.app.input.settings.limits.max_items", Production: "100", Preview: "5",
			Declared: true, Reason: "scale", Location: "main.tf:22"},
	} {
		if got[want.Subject] != want {
			t.Errorf("%s:\ngot  %+v\nwant %+v", want.Subject, got[want.Subject], want)
		}
	}
	if _, ok := got["terraform_data.app.input.settings"]; ok {
		t.Errorf("the whole document is a finding too:\n%s", out)
	}
	_, text := run()
	for _, w := range []string{
		"DRIFT attribute terraform_data.app.input.settings.feature_flags.new_checkout\n    production: false\n    preview:    true\n",
		"    where:      main.tf:32\n",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("text lacks %q:\n%s", w, text)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if n := columns(line); n > 100 {
			t.Errorf("a line of %d columns, wider than 100: %q", n, line)
		}
	}
}

// TestParityCommandSaysWhatItSkipped: without plans, asked for or because
// the state backend refuses Terraform (no credentials), the command names
// the checks it skipped; and a backend refusing is never parity.
func TestParityCommandSaysWhatItSkipped(t *testing.T) {
	t.Parallel()
	module := absFixture(t, "../../parity/testdata/jsonencode")
	settings := "    production:\n      vars: {max_items: 100}\n" +
		"    differences:\n      - {variable: max_items, value: 5, reason: scale}\n"
	// An s3 backend with no credentials anywhere Terraform looks: none
	// is passed through, and the shared files do not exist.
	noCredentials := settings + "    state:\n      backend: s3\n      config: {bucket: acme-previews, key: shop.tfstate, region: eu-west-1, " +
		"workspace_key_prefix: previews, skip_metadata_api_check: \"true\"}\n"
	missing := filepath.Join(t.TempDir(), "missing")
	awsFiles := "terraform:\n  env: {AWS_SHARED_CREDENTIALS_FILE: " + missing + ", AWS_CONFIG_FILE: " + missing + "}\n"
	allPlanChecks := []string{"plan comparison", "attribute values", "provider versions", "engine version"}
	tests := []struct {
		name, configFile string
		args             []string
		wantCode         int
		wantStatus       preview.ParityStatus
		wantBecause      string
		wantText         []string
		wantStderr       string
	}{
		{
			name: "--plan=false", configFile: parityConfig(t, module, settings), args: []string{"--plan=false"},
			wantCode: parity.ExitParity, wantStatus: preview.ParityOK, wantBecause: "--plan=false",
			wantText: []string{
				"parity: ok in the checks that ran, ",
				"skipped: plan comparison (--plan=false), attribute values, provider versions, engine version\n",
			},
		},
		{
			name: "no credentials for the state backend", configFile: writeConfig(t, awsFiles+"repos:\n  - name: acme/shop\n    module_dir: "+module+"\n"+noCredentials),
			wantCode: parity.ExitError, wantStatus: preview.ParityError, wantBecause: `the state backend "s3" refused terraform: are its credentials missing?`,
			wantText: []string{
				"parity: ERROR, the check could not run in full (1 declared; checked ",
				"  Error: error configuring S3 Backend: no valid credential sources for S3 Backend found.\n",
				`skipped: plan comparison (the state backend "s3" refused terraform: are its credentials missing?),` + "\n" +
					"  attribute values, provider versions, engine version\n",
				"ok  variable  max_items  100         5        declared: scale\n",
			},
		},
		{
			name: "no credentials, drift in the other checks", configFile: writeConfig(t, awsFiles+"repos:\n  - name: acme/shop\n    module_dir: "+module+"\n"+noCredentials),
			args:     []string{"--preview-var", "max_items=7"},
			wantCode: parity.ExitDrift, wantStatus: preview.ParityDrift, wantBecause: `the state backend "s3" refused terraform: are its credentials missing?`,
			wantText: []string{
				"parity: DRIFT, 1 undeclared difference (0 declared; checked ",
				`skipped: plan comparison (the state backend "s3" refused terraform: are its credentials missing?),`,
			},
			wantStderr: "previewd parity: the plans could not run: plan parity-check: terraform init: ",
		},
	}
	env := config.MapEnv(map[string]string{"PREVIEWD_TERRAFORM_BIN": terraformForTests(t)})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := func(args ...string) string {
				var stdout, stderr bytes.Buffer
				code := runParity(context.Background(), append([]string{"--config", tt.configFile, "--repo", "acme/shop"}, append(tt.args, args...)...), &stdout, &stderr, env)
				if code != tt.wantCode {
					t.Fatalf("got exit %d, want %d\n%s%s", code, tt.wantCode, stdout.String(), stderr.String())
				}
				if !strings.Contains(stderr.String(), tt.wantStderr) {
					t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, stderr.String())
				}
				return stdout.String()
			}
			out := run("--json")
			var got struct {
				preview.ParityReport
				Skipped struct {
					Checks  []string `json:"checks"`
					Because string   `json:"because"`
				} `json:"skipped"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got.Status != tt.wantStatus || !slices.Equal(got.Skipped.Checks, allPlanChecks) || got.Skipped.Because != tt.wantBecause {
				t.Errorf("got status %q, skipped %+v; want %q, %v because %q\n%s", got.Status, got.Skipped, tt.wantStatus, allPlanChecks, tt.wantBecause, out)
			}
			text := run()
			for _, w := range tt.wantText {
				if !strings.Contains(text, w) {
					t.Errorf("text lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestLoadConfigForCLI(t *testing.T) {
	module := t.TempDir()
	tests := []struct {
		name, body string
		env        map[string]string
		wantErr    string
		check      func(t *testing.T, cfg config.Config)
	}{
		{
			name: "no webhook secret needed; parity block read and resolved",
			body: "repos:\n  - name: Acme/Shop\n    module_dir: " + module + "\n    parity:\n      toggles_file: toggles.json\n      drift_check_interval: 1h\n",
			check: func(t *testing.T, cfg config.Config) {
				s := cfg.Repos[0].Parity
				if !filepath.IsAbs(s.TogglesFile) || filepath.Base(s.TogglesFile) != "toggles.json" || s.DriftCheckInterval.Hours() != 1 {
					t.Errorf("got parity settings %+v", s)
				}
				if cfg.WebhookSecret != "" || len(cfg.Repos) != 1 || cfg.Repos[0].ModuleDir != module {
					t.Errorf("got config %+v", cfg)
				}
			},
		},
		{name: "other settings still validated", body: "module_dir: " + module + "\nttl: -1h\n", wantErr: "ttl (PREVIEWD_TTL): must be positive"},
		{name: "environment still wins", body: "module_dir: " + module + "\n", env: map[string]string{"PREVIEWD_MAX_CONCURRENT_RUNS": "0"}, wantErr: "max_concurrent_runs"},
		{name: "a parity block is not a list", body: "repos:\n  - name: acme/shop\n    module_dir: " + module + "\n    parity: [1]\n", wantErr: "repos[0].parity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Read(writeConfig(t, tt.body), config.MapEnv(tt.env), false)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg)
		})
	}
}

// columns is how many columns a line takes in a terminal, tabs stopping
// every 8.
func columns(line string) int {
	n := 0
	for _, r := range line {
		if r == '\t' {
			n += 8 - n%8
		} else {
			n++
		}
	}
	return n
}

// containsLine reports whether out contains want, or, for "row: a b c", a
// line of a table whose cells start with those words, however padded.
func containsLine(out, want string) bool {
	row, ok := strings.CutPrefix(want, "row: ")
	if !ok {
		return strings.Contains(out, want)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.Join(strings.Fields(line), " "), row) {
			return true
		}
	}
	return false
}
