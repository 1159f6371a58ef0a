package provisioner

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

func TestProductionVariables(t *testing.T) {
	declared := map[string]bool{"environment": true, "pr_number": true, "instance_count": true}
	tests := []struct {
		name     string
		declared map[string]bool
		vars     map[string]any
		want     map[string]any
		wantErr  bool
	}{
		{"no vars", declared, nil, map[string]any{"environment": "production"}, false},
		{"production's vars, no per-pull-request values", declared, map[string]any{"instance_count": 3}, map[string]any{"environment": "production", "instance_count": 3}, false},
		{"environment always production", declared, map[string]any{"environment": "staging"}, map[string]any{"environment": "production"}, false},
		{"undeclared var", declared, map[string]any{"replicas": 3}, nil, true},
		{"no environment variable", map[string]bool{"instance_count": true}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := productionVariables(tt.declared, "mod", tt.vars)
			if tt.wantErr {
				if preview.ErrorCode(err) != preview.EINVALID {
					t.Fatalf("got %v, want EINVALID", err)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Errorf("got %v, %v, want %v", got, err, tt.want)
			}
		})
	}
}

func TestDriftChanges(t *testing.T) {
	tests := []struct {
		name string
		plan string
		want []string
	}{
		{"nothing", `{}`, nil},
		{"attributes changed", `{"resource_drift": [{"address": "aws_instance.web[0]", "change": {"actions": ["update"],
			"before": {"ami": "ami-1", "tags": {"a": "1"}, "id": "i-1"}, "after": {"ami": "ami-2", "tags": {"a": "2"}, "id": "i-1"}}}]}`,
			[]string{"aws_instance.web[0]: ami, tags"}},
		{"deleted", `{"resource_drift": [{"address": "aws_s3_bucket.logs", "change": {"actions": ["delete"], "before": {"id": "b"}, "after": null}}]}`,
			[]string{"aws_s3_bucket.logs: deleted"}},
		{"outputs", `{"output_changes": {"url": {"actions": ["update"], "before": "a", "after": "b"}, "same": {"actions": ["no-op"], "before": "x", "after": "x"}}}`,
			[]string{"output.url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var plan tfjson.Plan
			raw := map[string]any{}
			if err := json.Unmarshal([]byte(tt.plan), &raw); err != nil {
				t.Fatal(err)
			}
			raw["format_version"] = "1.2"
			b, _ := json.Marshal(raw)
			if err := json.Unmarshal(b, &plan); err != nil {
				t.Fatal(err)
			}
			if got := driftChanges(&plan); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestModuleVariablesSensitive(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "terraform")
	os.WriteFile(exe, []byte("#!/bin/sh\nexit 1\n"), 0o755)
	mod := fixture("parity-scale")
	prov, err := New(Config{TerraformBin: exe, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := testProvisioner{Provisioner: prov, modules: fixed(mod)}
	vars, err := p.ModuleVariables(context.Background(), preview.Environment{Repo: "acme/shop"})
	if err != nil {
		t.Fatal(err)
	}
	declared, sensitive := vars.Declared, vars.Sensitive
	wantDeclared := map[string]bool{"environment": true, "pr_number": true, "instance_count": true, "database_engine_version": true, "database_password": true}
	if !maps.Equal(declared, wantDeclared) {
		t.Errorf("declared: got %v, want %v", declared, wantDeclared)
	}
	if want := map[string]bool{"database_password": true}; !maps.Equal(sensitive, want) {
		t.Errorf("sensitive: got %v, want %v", sensitive, want)
	}
}

func TestDetectDriftWithoutStateRunsNothing(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "terraform")
	os.WriteFile(exe, []byte("#!/bin/sh\nexit 1\n"), 0o755) // fails if run
	prov, err := New(Config{TerraformBin: exe, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := testProvisioner{Provisioner: prov, modules: fixed(Module{Dir: dir})}
	changed, changes, err := p.DetectDrift(context.Background(), preview.Environment{Name: "never-applied"}, nil)
	if changed || changes != nil || err != nil {
		t.Errorf("got %v %v %v, want no drift and no error", changed, changes, err)
	}
	for _, name := range []string{"", "../escape"} {
		if _, _, err := p.DetectDrift(context.Background(), preview.Environment{Name: name}, nil); preview.ErrorCode(err) != preview.EINVALID {
			t.Errorf("DetectDrift(%q): got %v, want EINVALID", name, err)
		}
		if _, err := p.PlanPreview(context.Background(), preview.Environment{Name: name}, nil); preview.ErrorCode(err) != preview.EINVALID {
			t.Errorf("PlanPreview(%q): got %v, want EINVALID", name, err)
		}
	}
}
