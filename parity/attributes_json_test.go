package parity

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

// stringPlan is a plan of one terraform_data whose input is s, sensitive
// when sensitive is.
func stringPlan(env, s string, sensitive bool) *tfjson.Plan {
	marks := map[string]any{}
	if sensitive {
		marks["input"] = true
	}
	return &tfjson.Plan{
		Variables: map[string]*tfjson.PlanVariable{"environment": {Value: env}},
		ResourceChanges: []*tfjson.ResourceChange{{Address: "terraform_data.doc", Mode: tfjson.ManagedResourceMode, Type: "terraform_data", Name: "doc",
			Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: map[string]any{"input": s}, AfterSensitive: marks}}},
	}
}

// TestCompareAttributesInJSON compares attributes holding JSON documents:
// key by key when both are objects or both arrays, as the strings they are
// otherwise, and never a sensitive one's keys.
func TestCompareAttributesInJSON(t *testing.T) {
	type finding struct{ subject, production, preview string }
	whole := func(p, q string) []finding { return []finding{{"terraform_data.doc.input", p, q}} }
	tests := []struct {
		name                string
		production, preview string
		sensitive           bool
		want                []finding
	}{
		{"keys of objects", `{"a":{"b":1,"c":"x"},"d":[1,2]}`, `{"a":{"b":2,"c":"x"},"d":[1,3]}`, false, []finding{
			{"terraform_data.doc.input.a.b", "1", "2"}, {"terraform_data.doc.input.d[1]", "2", "3"},
		}},
		{"elements of arrays", `[{"name":"a","on":false}]`, `[{"name":"a","on":true}]`, false, []finding{
			{"terraform_data.doc.input[0].on", "false", "true"},
		}},
		{"a key only one side has", `{"a":1}`, `{"a":1,"b":{"c":2}}`, false, []finding{
			{"terraform_data.doc.input.b", "null", `{"c":2}`},
		}},
		{"a key that is not a name", `{"app.kubernetes.io/name":"a"}`, `{"app.kubernetes.io/name":"b"}`, false, []finding{
			{`terraform_data.doc.input["app.kubernetes.io/name"]`, "a", "b"},
		}},
		{"JSON in JSON", `{"doc":"{\"x\":1}"}`, `{"doc":"{\"x\":2}"}`, false, []finding{
			{"terraform_data.doc.input.doc.x", "1", "2"},
		}},
		{"arrays of other lengths", `{"a":[1,2]}`, `{"a":[1]}`, false, []finding{
			{"terraform_data.doc.input.a", "[1,2]", "[1]"},
		}},
		// Documents that differ only by the environment's name, keys
		// named after it included, are one identity difference.
		{"only the name", `{"production":{"host":"shop-production"}}`, `{"feature-x":{"host":"shop-feature-x"}}`, false,
			whole(`{"production":{"host":"shop-production"}}`, `{"feature-x":{"host":"shop-feature-x"}}`)},
		// A sensitive marker covers the whole string: not even its keys.
		{"sensitive", `{"password":"hunter2","user":"a"}`, `{"password":"s3cret","user":"a"}`, true, whole(Sensitive, Sensitive)},
		// Documents that decode alike still differ as text: reported whole.
		{"same document, other text", `{"a":1,"b":2}`, `{"b":2, "a":1}`, false, whole(`{"a":1,"b":2}`, `{"b":2, "a":1}`)},
		{"duplicate keys", `{"a":1,"a":2}`, `{"a":2}`, false, whole(`{"a":1,"a":2}`, `{"a":2}`)},
		{"an object and an array", `{"a":1}`, `[1]`, false, whole(`{"a":1}`, `[1]`)},
		{"not JSON", `{"a":1`, `{"a":2`, false, whole(`{"a":1`, `{"a":2`)},
		{"JSON scalars", `"a"`, `"b"`, false, whole(`"a"`, `"b"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings, _ := CompareAttributes(stringPlan("production", tt.production, tt.sensitive), stringPlan("feature-x", tt.preview, tt.sensitive), AttributeInputs{})
			var got []finding
			for _, f := range findings {
				got = append(got, finding{f.Subject, f.Production, f.Preview})
				if f.Declared != f.Identity {
					t.Errorf("%s: declared without a source to trace: %+v", f.Subject, f)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestFindingsKeepValuesWhole: the API and --json show a finding's values
// whole, however long; only renderers cut them.
func TestFindingsKeepValuesWhole(t *testing.T) {
	long := func(c string) string { return strings.Repeat(c, 400) }
	findings, _ := CompareAttributes(stringPlan("production", long("a"), false), stringPlan("feature-x", long("b"), false), AttributeInputs{})
	if len(findings) != 1 || findings[0].Production != long("a") || findings[0].Preview != long("b") {
		t.Errorf("attribute: got %+v, want the values whole", findings)
	}
	findings = CompareVariables(map[string]any{"banner": long("a")}, map[string]any{"banner": long("b")}, nil, ModuleVariables{})
	if len(findings) != 1 || findings[0].Production != long("a") || findings[0].Preview != long("b") {
		t.Errorf("variable: got %+v, want the values whole", findings)
	}
}

// TestLocateInsideObjects locates values inside object constructors,
// jsonencode and locals, and falls back to the enclosing expression (and
// every variable it follows) wherever a part cannot be told to make the
// value alone.
func TestLocateInsideObjects(t *testing.T) {
	dir := t.TempDir()
	src := `variable "environment" {}
variable "key" {}
variable "max_items" {}

locals {
  cfg = {
    flags = {
      new_checkout = var.environment == "production" ? false : true
    }
  }
  merged = merge(local.cfg, { extra = var.max_items })
}

resource "terraform_data" "x" {
  input = {
    computed = jsonencode({
      (var.key) = var.environment
      fixed     = var.max_items
    })
    parenthesized = {
      (other) = var.environment
      fixed   = var.max_items
    }
    repeated = {
      a = var.max_items
      a = var.environment
    }
    via_index = jsonencode(local.cfg["flags"])
    whole_local = jsonencode(local.merged)
    grouped = (jsonencode({ n = var.max_items }))
  }
}

output "doc" {
  value = jsonencode({
    n = var.max_items
    e = var.environment
  })
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := LoadModuleSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	line := func(text string) string {
		for i, l := range strings.Split(src, "\n") {
			if strings.Contains(l, text) {
				return "main.tf:" + strconv.Itoa(i+1)
			}
		}
		t.Fatalf("no line with %q", text)
		return ""
	}
	tests := []struct {
		name     string
		origin   origin
		location string
		vars     []string
		untraced []string
	}{
		{"a computed key could make any key", m.attributeOrigin("terraform_data.x", []string{"input", "computed", "fixed"}),
			line("computed = jsonencode"), []string{"environment", "key", "max_items"}, nil},
		{"a key in parentheses is computed", m.attributeOrigin("terraform_data.x", []string{"input", "parenthesized", "fixed"}),
			line("parenthesized = {"), []string{"environment", "max_items"}, []string{"other"}},
		{"a repeated key", m.attributeOrigin("terraform_data.x", []string{"input", "repeated", "a"}),
			line("repeated = {"), []string{"environment", "max_items"}, nil},
		{"through a local and an index", m.attributeOrigin("terraform_data.x", []string{"input", "via_index", "new_checkout"}),
			line("new_checkout ="), []string{"environment"}, nil},
		{"a local that cannot be entered", m.attributeOrigin("terraform_data.x", []string{"input", "whole_local", "extra"}),
			line("whole_local ="), []string{"environment", "max_items"}, nil},
		{"in parentheses", m.attributeOrigin("terraform_data.x", []string{"input", "grouped", "n"}),
			line("grouped ="), []string{"max_items"}, nil},
		{"a key of an output", m.outputOrigin("doc", []string{"n"}), line("    n = var.max_items"), []string{"max_items"}, nil},
		{"the other key of an output", m.outputOrigin("doc", []string{"e"}), line("e = var.environment"), []string{"environment"}, nil},
		{"a whole output", m.outputOrigin("doc", nil), line("value = jsonencode"), []string{"environment", "max_items"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var vars []string
			for v := range tt.origin.vars {
				vars = append(vars, v)
			}
			slices.Sort(vars)
			if tt.origin.location != tt.location || !slices.Equal(vars, tt.vars) || !slices.Equal(tt.origin.untraced, tt.untraced) {
				t.Errorf("got %s following %v (untraced %v), want %s following %v (untraced %v)", tt.origin.location, vars, tt.origin.untraced, tt.location, tt.vars, tt.untraced)
			}
		})
	}
}

// TestCompareAttributesInJSONWithoutTrace: a key whose expression cannot be
// told apart stays drift, even where it follows a declared variable.
func TestCompareAttributesInJSONWithoutTrace(t *testing.T) {
	dir := t.TempDir()
	src := "variable \"environment\" {}\nvariable \"max_items\" {}\nresource \"terraform_data\" \"doc\" {\n" +
		"  input = jsonencode(merge({ max_items = var.max_items }, { tier = var.environment == \"production\" ? \"gold\" : \"bronze\" }))\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := LoadModuleSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	production, pv := stringPlan("production", `{"max_items":100,"tier":"gold"}`, false), stringPlan("feature-x", `{"max_items":5,"tier":"gold"}`, false)
	production.Variables["max_items"], pv.Variables["max_items"] = &tfjson.PlanVariable{Value: 100.0}, &tfjson.PlanVariable{Value: 5.0}
	findings, _ := CompareAttributes(production, pv, AttributeInputs{Declared: map[string]string{"max_items": "scale"}, Source: m})
	want := []preview.Finding{{Kind: preview.FindingAttribute, Subject: "terraform_data.doc.input.max_items", Production: "100", Preview: "5",
		Reason: "follows var.environment other than by the environment's name", Location: "main.tf:4"}}
	if !slices.Equal(findings, want) {
		t.Errorf("got  %+v\nwant %+v", findings, want)
	}
}
