package parity

// These tests run the real Terraform binary on the modules in testdata/.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/enginetest"
)

// terraformPlan plans a copy of testdata/module with vars from empty state
// and returns `terraform show -json` of the plan.
func terraformPlan(t *testing.T, module string, vars map[string]string) *tfjson.Plan {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join("testdata", module, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no module in testdata/%s: %v", module, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := enginetest.Terraform(t, "..")
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("terraform %s: %v\n%s%s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
		}
		return stdout.Bytes()
	}
	run("init", "-input=false", "-no-color")
	args := []string{"plan", "-input=false", "-no-color", "-out=parity.tfplan"}
	for k, v := range vars {
		args = append(args, "-var", k+"="+v)
	}
	run(args...)
	var plan tfjson.Plan
	if err := json.Unmarshal(run("show", "-json", "parity.tfplan"), &plan); err != nil {
		t.Fatal(err)
	}
	return &plan
}

// TestCompareAttributesInJSONTerraform plans testdata/jsonencode for
// production and for a preview with fewer items (a declared difference,
// scale): each key of the JSON documents that differs is a finding at the
// line of its expression, drift where it follows the environment, declared
// where it follows max_items, identity where it carries the name.
func TestCompareAttributesInJSONTerraform(t *testing.T) {
	t.Parallel()
	production := terraformPlan(t, "jsonencode", map[string]string{"environment": "production"})
	pv := terraformPlan(t, "jsonencode", map[string]string{"environment": "feature-x", "pr_number": "7", "max_items": "5"})
	src, err := LoadModuleSource(filepath.Join("testdata", "jsonencode"))
	if err != nil {
		t.Fatal(err)
	}
	findings, stats := CompareAttributes(production, pv, AttributeInputs{Declared: map[string]string{"max_items": "scale"}, Source: src})
	at := func(text string) string { return lineIn(t, "jsonencode", "main.tf", text) }
	environment := "follows var.environment other than by the environment's name"
	want := []preview.Finding{
		{Subject: "output.settings.debug", Production: "false", Preview: "true", Reason: environment, Location: at("debug     =")},
		{Subject: "output.settings.max_items", Production: "100", Preview: "5", Declared: true, Reason: "scale", Location: at("max_items = var.max_items\n    debug")},
		{Subject: "terraform_data.app.input.settings.feature_flags.new_checkout", Production: "false", Preview: "true",
			Reason: environment, Location: at(`new_checkout = var.environment == "production" ? false : true`)},
		{Subject: "terraform_data.app.input.settings.limits.max_items", Production: "100", Preview: "5", Declared: true, Reason: "scale",
			Location: at("max_items = var.max_items\n    timeout")},
		{Subject: "terraform_data.app.input.settings.pages[0]", Production: "100", Preview: "5", Declared: true, Reason: "scale", Location: at("pages  = [")},
		{Subject: "terraform_data.app.input.settings.pages[1]", Production: "50", Preview: "10", Reason: environment, Location: at("pages  = [")},
		{Subject: "terraform_data.app.input.settings.service", Production: "shop-production", Preview: "shop-feature-x", Declared: true, Identity: true,
			Reason: "identity: differs only by the environment's name", Location: at("service = ")},
		// merge: where each key comes from cannot be told, so even the
		// one following max_items alone follows the environment too.
		{Subject: "terraform_data.merged.input.max_items", Production: "100", Preview: "5", Reason: environment, Location: at("input = jsonencode(merge(")},
		{Subject: "terraform_data.merged.input.tier", Production: "gold", Preview: "bronze", Reason: environment, Location: at("input = jsonencode(merge(")},
	}
	if len(findings) != len(want) {
		t.Errorf("got %d findings, want %d:\n%+v", len(findings), len(want), findings)
	}
	for i, w := range want {
		w.Kind = preview.FindingAttribute
		if i >= len(findings) || findings[i] != w {
			var got preview.Finding
			if i < len(findings) {
				got = findings[i]
			}
			t.Errorf("finding %d:\ngot  %+v\nwant %+v", i, got, w)
		}
	}
	if stats.Identity != 1 {
		t.Errorf("stats: got %+v, want 1 identity", stats)
	}
	if v := preview.Verdict(findings); v != preview.ParityDrift {
		t.Errorf("verdict: got %s, want drift", v)
	}
}

// lineIn returns "file:line" of where text (which may span lines) starts
// in testdata/module/file.
func lineIn(t *testing.T, module, file, text string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", module, file))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), text)
	if i < 0 || strings.Count(string(b), text) > 1 {
		t.Fatalf("%s holds %q %d times, want once", file, text, strings.Count(string(b), text))
	}
	return file + ":" + strconv.Itoa(1+strings.Count(string(b[:i]), "\n"))
}
