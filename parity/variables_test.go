package parity

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

var exampleModule = ModuleVariables{
	Declared: map[string]bool{
		"environment": true, "pr_number": true, "branch": true, "head_sha": true, "repo": true,
		"instance_count": true, "database_engine_version": true, "external_api_url": true,
		"feature_flags": true, "database_password": true, "tags": true,
	},
	Sensitive: map[string]bool{"database_password": true},
}

// production is what the example's production passes.
func production() map[string]any {
	return map[string]any{
		"environment":             "production",
		"instance_count":          3,
		"database_engine_version": "15.4",
		"external_api_url":        "https://api.payments.example.com",
		"database_password":       "hunter2-production",
		"tags":                    map[string]any{"team": "shop", "tier": "web"},
	}
}

// previewOf returns production's variables with the per-pull-request ones
// and changes applied (a nil value deletes).
func previewOf(changes map[string]any) map[string]any {
	v := production()
	maps.Copy(v, map[string]any{"environment": "feat-x", "pr_number": 7, "branch": "feat/x", "head_sha": "abc", "repo": "acme/shop"})
	for k, c := range changes {
		if c == nil {
			delete(v, k)
		} else {
			v[k] = c
		}
	}
	return v
}

var (
	scale   = preview.Difference{Variable: "instance_count", Value: 1, Reason: "scale"}
	sandbox = preview.Difference{Variable: "external_api_url", Value: "https://sandbox.payments.example.com", Reason: "external-integration"}
)

func TestCompareVariables(t *testing.T) {
	declaredOK := []preview.Finding{
		{Kind: preview.FindingVariable, Subject: "external_api_url", Production: "https://api.payments.example.com", Preview: "https://sandbox.payments.example.com", Declared: true, Reason: "external-integration"},
		{Kind: preview.FindingVariable, Subject: "instance_count", Production: "3", Preview: "1", Declared: true, Reason: "scale"},
	}
	tests := []struct {
		name     string
		preview  map[string]any
		declared []preview.Difference
		expected []string
		module   ModuleVariables
		want     []preview.Finding
	}{
		{
			name:    "identical but for per-pull-request variables",
			preview: previewOf(nil),
			module:  exampleModule,
		},
		{
			name:     "declared differences followed",
			preview:  previewOf(map[string]any{"instance_count": 1, "external_api_url": "https://sandbox.payments.example.com"}),
			declared: []preview.Difference{scale, sandbox},
			module:   exampleModule,
			want:     declaredOK,
		},
		{
			name:     "undeclared version difference",
			preview:  previewOf(map[string]any{"instance_count": 1, "external_api_url": "https://sandbox.payments.example.com", "database_engine_version": "13.2"}),
			declared: []preview.Difference{scale, sandbox},
			module:   exampleModule,
			want: slices.Insert(slices.Clone(declaredOK), 0, preview.Finding{
				Kind: preview.FindingVariable, Subject: "database_engine_version", Production: "15.4", Preview: "13.2", Reason: "not declared",
			}),
		},
		{
			name:    "production sets, preview does not",
			preview: previewOf(map[string]any{"database_engine_version": nil}),
			module:  exampleModule,
			want:    []preview.Finding{{Kind: preview.FindingVariable, Subject: "database_engine_version", Production: "15.4", Preview: NotSet, Reason: "production sets it, the preview does not"}},
		},
		{
			name:    "set only by the preview",
			preview: previewOf(map[string]any{"feature_flags": map[string]any{"debug_toolbar": true}}),
			module:  exampleModule,
			want:    []preview.Finding{{Kind: preview.FindingVariable, Subject: "feature_flags", Production: NotSet, Preview: `{"debug_toolbar":true}`, Reason: "set only by the preview"}},
		},
		{
			name:     "stale declaration",
			preview:  previewOf(nil),
			declared: []preview.Difference{{Variable: "database_engine_version", Value: "15.4", Reason: "cost"}},
			module:   exampleModule,
			want:     []preview.Finding{{Kind: preview.FindingVariable, Subject: "database_engine_version", Production: "15.4", Preview: "15.4", Reason: "stale declaration: the declared value is production's"}},
		},
		{
			name:     "stale declaration, numbers compared as numbers",
			preview:  previewOf(nil),
			declared: []preview.Difference{{Variable: "instance_count", Value: 3.0, Reason: "scale"}},
			module:   exampleModule,
			want:     []preview.Finding{{Kind: preview.FindingVariable, Subject: "instance_count", Production: "3", Preview: "3", Reason: "stale declaration: the declared value is production's"}},
		},
		{
			name:     "declaration names a variable the module does not declare",
			preview:  previewOf(nil),
			declared: []preview.Difference{{Variable: "replicas", Value: 1, Reason: "scale"}},
			module:   exampleModule,
			want:     []preview.Finding{{Kind: preview.FindingVariable, Subject: "replicas", Production: NotSet, Preview: "1", Reason: "declared for a variable the module does not declare"}},
		},
		{
			name:     "declaration for a variable production does not set",
			preview:  previewOf(map[string]any{"feature_flags": map[string]any{"new_checkout": true}}),
			declared: []preview.Difference{{Variable: "feature_flags", Value: map[string]any{"new_checkout": true}, Reason: "data"}},
			module:   exampleModule,
			want:     []preview.Finding{{Kind: preview.FindingVariable, Subject: "feature_flags", Production: NotSet, Preview: `{"new_checkout":true}`, Reason: "declared, but production does not set it"}},
		},
		{
			name:     "preview does not follow its declaration",
			preview:  previewOf(map[string]any{"instance_count": 2}),
			declared: []preview.Difference{scale},
			module:   exampleModule,
			want:     []preview.Finding{{Kind: preview.FindingVariable, Subject: "instance_count", Production: "3", Preview: "2", Reason: "differs from its declared value"}},
		},
		{
			name:    "sensitive value compared, never shown",
			preview: previewOf(map[string]any{"database_password": "hunter2-preview"}),
			module:  exampleModule,
			want:    []preview.Finding{{Kind: preview.FindingVariable, Subject: "database_password", Production: Sensitive, Preview: Sensitive, Reason: "not declared"}},
		},
		{
			name:     "sensitive declared difference",
			preview:  previewOf(map[string]any{"database_password": "hunter2-preview"}),
			declared: []preview.Difference{{Variable: "database_password", Value: "hunter2-preview", Reason: "security"}},
			module:   exampleModule,
			want:     []preview.Finding{{Kind: preview.FindingVariable, Subject: "database_password", Production: Sensitive, Preview: Sensitive, Declared: true, Reason: "security"}},
		},
		{
			name:    "semantic equality: 1 == 1.0, map order, a number spelled as a string",
			preview: previewOf(map[string]any{"instance_count": "3", "tags": map[string]any{"tier": "web", "team": "shop"}}),
			module:  exampleModule,
		},
		{
			name:    "a version is a string: 15.4 is not 15.40",
			preview: previewOf(map[string]any{"database_engine_version": "15.40"}),
			module:  exampleModule,
			want:    []preview.Finding{{Kind: preview.FindingVariable, Subject: "database_engine_version", Production: "15.4", Preview: "15.40", Reason: "not declared"}},
		},
		{
			name:     "expected variables skipped",
			preview:  previewOf(map[string]any{"feature_flags": map[string]any{"new_checkout": true}}),
			expected: []string{"feature_flags"},
			module:   exampleModule,
		},
		{
			name:     "module unknown: every name accepted",
			preview:  previewOf(map[string]any{"replicas": 1}),
			declared: []preview.Difference{{Variable: "replicas", Value: 1, Reason: "scale"}},
			want:     []preview.Finding{{Kind: preview.FindingVariable, Subject: "replicas", Production: NotSet, Preview: "1", Reason: "declared, but production does not set it"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CompareVariables(production(), tt.preview, tt.declared, tt.module, tt.expected...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			b, _ := json.Marshal(got)
			if strings.Contains(string(b), "hunter2") {
				t.Errorf("a sensitive value reached a finding: %s", b)
			}
		})
	}
}

func TestEqualValues(t *testing.T) {
	tests := []struct {
		a, b any
		want bool
	}{
		{1, 1.0, true},
		{json.Number("1e3"), 1000, true},
		{"3", 3, true},
		{"true", true, true},
		{"15.4", "15.40", false},
		{"abc", 1, false},
		{nil, nil, true},
		{nil, "", false},
		{[]any{1, 2}, []int{1, 2}, true},
		{[]any{1, 2}, []int{2, 1}, false},
		{map[string]any{"a": 1, "b": []any{true}}, map[string]any{"b": []any{true}, "a": 1.0}, true},
		{map[string]any{"a": 1}, map[string]any{"a": 1, "b": 2}, false},
		{map[string]any{"a": 1}, []any{1}, false},
		{json.Number("12345678901234567890"), json.Number("12345678901234567891"), false},
		{uint64(12345678901234567890), json.Number("12345678901234567890"), true},
	}
	for _, tt := range tests {
		if got := equalValues(tt.a, tt.b); got != tt.want {
			t.Errorf("equalValues(%#v, %#v): got %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestValueText wants a finding's values whole, however long: the JSON
// of the API and of --json shows them all; renderers cut them.
func TestValueText(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{"15.4", "15.4"},
		{3, "3"},
		{2.50, "2.5"},
		{true, "true"},
		{map[string]any{"b": 1, "a": []any{"x"}}, `{"a":["x"],"b":1}`},
		{strings.Repeat("x", 200), strings.Repeat("x", 200)},
		{map[string]any{"k": strings.Repeat("y", 300)}, `{"k":"` + strings.Repeat("y", 300) + `"}`},
	}
	for _, tt := range tests {
		if got := valueText(tt.v); got != tt.want {
			t.Errorf("valueText(%#v): got %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestLoadVarFiles(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		want    map[string]any
		wantErr string
	}{
		{
			name:  "hcl",
			files: []string{"production.tfvars"},
			want:  map[string]any{"instance_count": json.Number("3"), "database_engine_version": "15.4", "feature_flags": map[string]any{"new_checkout": false}},
		},
		{
			name:  "later file wins",
			files: []string{"production.tfvars", "override.tfvars.json"},
			want:  map[string]any{"instance_count": json.Number("3"), "database_engine_version": "15.6", "feature_flags": map[string]any{"new_checkout": false}, "replicas": json.Number("2.0")},
		},
		{name: "missing", files: []string{"missing.tfvars"}, wantErr: "no such file"},
		{name: "not constant", files: []string{"../keys/bad.tfvars"}, wantErr: "bad.tfvars:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths := make([]string, len(tt.files))
			for i, f := range tt.files {
				paths[i] = filepath.Join("testdata", "vars", f)
			}
			got, err := LoadVarFiles(paths...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "sk_live") {
					t.Fatalf("got %v, want an error containing %q and no value", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalValues(got, tt.want) || len(got) != len(tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestPlanVariables(t *testing.T) {
	plan := loadPlan(t, "preview.json")
	got := PlanVariables(plan)
	want := map[string]any{"environment": "feat-x", "instance_count": "1", "pr_number": "7", "database_engine_version": "15.4", "database_password": ""}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := PlanVariables(nil); len(got) != 0 {
		t.Errorf("nil plan: got %v", got)
	}
}
