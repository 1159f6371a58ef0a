package parity

import (
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

// TestCompareAttributesIsNotFooled plans testdata/tricky as Terraform would
// show it for production and for pull request 4, and wants drift at every
// conditional on the environment, however it is hidden.
func TestCompareAttributesIsNotFooled(t *testing.T) {
	src, err := LoadModuleSource(filepath.Join("testdata", "tricky"))
	if err != nil {
		t.Fatal(err)
	}
	plan := func(env string, pr int, class string, prod bool) *tfjson.Plan {
		pick := func(p, q any) any {
			if prod {
				return p
			}
			return q
		}
		rc := func(addr, module, name string, after, unknown any) *tfjson.ResourceChange {
			return &tfjson.ResourceChange{Address: addr, ModuleAddress: module, Mode: tfjson.ManagedResourceMode, Type: "terraform_data", Name: name,
				Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: after, AfterUnknown: unknown}}
		}
		disks := pick([]any{map[string]any{"size": float64(500)}, map[string]any{"size": float64(500)}}, []any{map[string]any{"size": float64(20)}})
		diskUnknown := pick([]any{map[string]any{"id": true}, map[string]any{"id": true}}, []any{map[string]any{"id": true}})
		return &tfjson.Plan{
			Variables: map[string]*tfjson.PlanVariable{"environment": {Value: env}, "pr_number": {Value: float64(pr)}, "db_class": {Value: class}, "app_port": {Value: float64(443)}},
			ResourceChanges: []*tfjson.ResourceChange{
				rc("terraform_data.cache", "", "cache", map[string]any{"input": pick("8.0", "8.4")}, map[string]any{}),
				rc("terraform_data.firewall", "", "firewall", map[string]any{"input": map[string]any{"port": float64(443)},
					"ingress": []any{map[string]any{"cidr": "port-443"}, map[string]any{"cidr": pick("10.0.0.0/8", "0.0.0.0/0")}}}, map[string]any{}),
				rc(`module.db["main"].terraform_data.instance`, `module.db["main"]`, "instance", map[string]any{"input": class + "/" + pick("15.4", "13.11").(string)}, map[string]any{}),
				rc(`terraform_data.sized["`+class+`"]`, "", "sized", map[string]any{"input": map[string]any{"size": class, "backup": pick("daily", "never")}}, map[string]any{}),
				rc("terraform_data.disks", "", "disks", map[string]any{"input": disks}, map[string]any{"input": diskUnknown}),
			},
		}
	}
	findings, _ := CompareAttributes(plan("production", 0, "large", true), plan("feature-x", 4, "small", false),
		AttributeInputs{Declared: map[string]string{"db_class": "scale", "app_port": "security"}, Source: src})
	got := map[string]preview.Finding{}
	for _, f := range findings {
		got[f.Subject] = f
	}
	for _, subject := range []string{
		"terraform_data.cache.input",                      // 8.0 → 8.4 while the pull request is number 4
		"terraform_data.firewall.ingress[1].cidr",         // from a dynamic block beside a written one
		`module.db["main"].terraform_data.instance.input`, // through a module call's each.value
		`terraform_data.sized["small"].input.backup`,      // an instance keyed by a declared variable
		"terraform_data.disks.input[0].size",              // a list of another length, values unknown until apply
	} {
		f, ok := got[subject]
		if !ok {
			t.Errorf("%s: no finding; got %v", subject, findings)
			continue
		}
		if f.Declared || f.Identity || !strings.Contains(f.Reason, "var.environment") {
			t.Errorf("%s: got %+v, want undeclared drift following var.environment", subject, f)
		}
	}
	if f := got[`terraform_data.sized["small"].input.size`]; !f.Declared || f.Reason != "scale" {
		t.Errorf("the declared size: got %+v, want declared, scale", f)
	}
	if v := preview.Verdict(findings); v != preview.ParityDrift {
		t.Errorf("verdict: got %s, want drift", v)
	}
}
