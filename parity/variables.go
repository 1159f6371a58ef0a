package parity

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// PerPullRequest names the variables previewd passes each preview for its
// pull request. They are expected to differ from production's and are never
// findings.
var PerPullRequest = preview.PullRequestVariableNames()

// ModuleVariables is what CompareVariables needs to know of the module.
type ModuleVariables struct {
	// Declared holds the variables the module declares; nil when unknown,
	// which accepts every name.
	Declared map[string]bool
	// Sensitive holds the variables declared with sensitive = true: their
	// values are compared but shown as "(sensitive)".
	Sensitive map[string]bool
	// Required holds the variables without a default: production's inputs
	// must set them.
	Required map[string]bool
}

// Why an undeclared variable finding is drift.
const (
	whyNotDeclared      = "not declared"
	whyMissingInPreview = "production sets it, the preview does not"
	whyOnlyInPreview    = "set only by the preview"
	whyStale            = "stale declaration: the declared value is production's"
	whyUnknownVariable  = "declared for a variable the module does not declare"
	whyNotInProduction  = "declared, but production does not set it"
	whyNotDeclaredValue = "differs from its declared value"
)

// CompareVariables compares the preview's resolved variables with
// production's, given the declared differences, and returns one finding per
// variable that differs or whose declaration is wrong:
//
//   - a value that differs without a declaration, a variable production sets
//     that the preview does not, or one only the preview sets: undeclared;
//   - a declared difference the preview follows: declared, with its reason;
//   - a declaration whose value equals production's (stale), names a
//     variable the module does not declare or production does not set, or
//     that the preview does not follow: undeclared.
//
// The PerPullRequest variables and those named in expected (the toggles
// variable, compared toggle by toggle) are skipped. Values compare as
// Terraform would see them (1 equals 1.0, map order is irrelevant); the
// values of sensitive variables are compared, then shown as "(sensitive)".
// When a variable is declared more than once, the last declaration counts,
// as it does when previewd builds the preview's variables.
func CompareVariables(production, pv map[string]any, declared []preview.Difference, module ModuleVariables, expected ...string) []preview.Finding {
	skip := map[string]bool{}
	for _, v := range slices.Concat(PerPullRequest, expected) {
		skip[v] = true
	}
	decl := map[string]preview.Difference{}
	for _, d := range declared {
		decl[d.Variable] = d
	}
	names := slices.Sorted(maps.Keys(setOf(slices.Collect(maps.Keys(production)), slices.Collect(maps.Keys(pv)), slices.Collect(maps.Keys(decl)))))
	var findings []preview.Finding
	for _, name := range names {
		if skip[name] {
			continue
		}
		if f, ok := compareVariable(name, production, pv, decl, module); ok {
			findings = append(findings, f)
		}
	}
	return findings
}

// compareVariable returns the finding for variable name, if any.
func compareVariable(name string, production, pv map[string]any, decl map[string]preview.Difference, module ModuleVariables) (preview.Finding, bool) {
	prod, inProd := production[name]
	prev, inPrev := pv[name]
	sensitive := module.Sensitive[name]
	f := preview.Finding{
		Kind:       preview.FindingVariable,
		Subject:    name,
		Production: showVar(prod, inProd, sensitive),
		Preview:    showVar(prev, inPrev, sensitive),
	}
	d, isDeclared := decl[name]
	if !isDeclared {
		switch {
		case inProd && !inPrev:
			f.Reason = whyMissingInPreview
		case !inProd && inPrev:
			f.Reason = whyOnlyInPreview
		case equalValues(prod, prev):
			return f, false
		default:
			f.Reason = whyNotDeclared
		}
		return f, true
	}
	switch {
	case module.Declared != nil && !module.Declared[name]:
		f.Reason = whyUnknownVariable
		f.Preview = showVar(d.Value, true, sensitive)
	case !inProd:
		f.Reason = whyNotInProduction
	case equalValues(prod, d.Value):
		f.Reason = whyStale
	case !inPrev || !equalValues(prev, d.Value):
		f.Reason = whyNotDeclaredValue
	default:
		f.Declared, f.Reason = true, d.Reason
	}
	return f, true
}

// setOf returns the union of lists as a set.
func setOf(lists ...[]string) map[string]bool {
	set := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			set[s] = true
		}
	}
	return set
}

// PlanVariables returns the values of the variables a plan was made with, as
// Terraform resolved them (var files, -var, defaults). Sensitive values are
// included: they are for comparison, never for showing.
func PlanVariables(plan *tfjson.Plan) map[string]any {
	vars := map[string]any{}
	if plan == nil {
		return vars
	}
	for name, v := range plan.Variables {
		if v != nil {
			vars[name] = v.Value
		}
	}
	return vars
}

// LoadVarFiles reads Terraform var files (HCL, or JSON when the name ends
// in .json) and returns their variables merged, a later file winning, as
// Terraform merges -var-file flags. Errors name the file and position but
// never quote it.
func LoadVarFiles(paths ...string) (map[string]any, error) {
	vars := map[string]any{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("var file: %w", err)
		}
		v, err := parseTFVars(data, p)
		if err != nil {
			return nil, fmt.Errorf("var file %s: %w", p, err)
		}
		maps.Copy(vars, v)
	}
	return vars, nil
}

// parseTFVars decodes a var file's variables into JSON-like values.
func parseTFVars(data []byte, filename string) (map[string]any, error) {
	if strings.EqualFold(filepath.Ext(filename), ".json") {
		v, err := decodeJSON(data)
		if err != nil {
			return nil, jsonError(data, err)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("not a JSON object")
		}
		return obj, nil
	}
	file, diags := hclsyntax.ParseConfig(data, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, hclError(diags)
	}
	attrs, diags := file.Body.JustAttributes()
	if diags.HasErrors() {
		return nil, hclError(diags)
	}
	vars := make(map[string]any, len(attrs))
	for name, attr := range attrs {
		val, diags := attr.Expr.Value(nil)
		if diags.HasErrors() {
			return nil, hclError(diags)
		}
		if !val.IsWhollyKnown() {
			return nil, fmt.Errorf("%s: value of %s is not a constant", attr.Range, name)
		}
		b, err := ctyjson.SimpleJSONValue{Value: val}.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", attr.Range, name, err)
		}
		if vars[name], err = decodeJSON(b); err != nil {
			return nil, err
		}
	}
	return vars, nil
}

// hclError describes HCL diagnostics by position and summary only: details
// can quote the file.
func hclError(diags hcl.Diagnostics) error {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			if d.Subject != nil {
				return fmt.Errorf("%s: %s", d.Subject, d.Summary)
			}
			return errors.New(d.Summary)
		}
	}
	return errors.New("invalid HCL")
}
