package provisioner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	preview "github.com/previewd/previewd"
)

func TestModuleVariables(t *testing.T) {
	env := preview.Environment{Name: "feat-x", Repo: "acme/shop", PR: 42, Branch: "feat/x", HeadSHA: "abc123"}
	all := []string{"environment", "pr_number", "branch", "head_sha", "repo", "instance_count"}
	tests := []struct {
		name       string
		declared   []string
		configured map[string]any
		want       map[string]any
		wantErr    string
	}{{
		name:     "every per-PR variable declared",
		declared: all,
		want: map[string]any{
			"environment": "feat-x", "pr_number": 42, "branch": "feat/x", "head_sha": "abc123", "repo": "acme/shop",
		},
	}, {
		name:     "only those declared are passed",
		declared: []string{"environment", "head_sha"},
		want:     map[string]any{"environment": "feat-x", "head_sha": "abc123"},
	}, {
		name:       "configured vars, per-PR values win",
		declared:   all,
		configured: map[string]any{"instance_count": 1, "environment": "production", "branch": "main"},
		want: map[string]any{
			"environment": "feat-x", "pr_number": 42, "branch": "feat/x", "head_sha": "abc123", "repo": "acme/shop",
			"instance_count": 1,
		},
	}, {
		name:     "environment not declared",
		declared: []string{"pr_number", "branch"},
		wantErr:  `module /mod does not declare variable "environment"`,
	}, {
		name:       "configured var not declared",
		declared:   []string{"environment"},
		configured: map[string]any{"zeta": 1, "instance_count": 2},
		wantErr:    `module /mod does not declare variable "instance_count" set in its configured vars`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			declared := map[string]bool{}
			for _, d := range tt.declared {
				declared[d] = true
			}
			got, err := moduleVariables(declared, "/mod", tt.configured, env)
			if tt.wantErr != "" {
				if preview.ErrorCode(err) != preview.EINVALID || preview.ErrorMessage(err) != tt.wantErr {
					t.Fatalf("got error %v, want EINVALID %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestWriteVarFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.tfvars.json")
	vars := map[string]any{"environment": "feat-x", "pr_number": 7, "flags": map[string]bool{"a": true}}
	if err := writeVarFile(path, vars); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("got mode %v, want 0600", info.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"environment": "feat-x", "pr_number": 7.0, "flags": map[string]any{"a": true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestVarFilePaths(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "envs", "prod")
	outside := filepath.Join(t.TempDir(), "shared.tfvars")
	for _, f := range []string{filepath.Join(dir, "production.tfvars"), filepath.Join(root, "common.tfvars"), outside} {
		os.MkdirAll(filepath.Dir(f), 0o755)
		os.WriteFile(f, nil, 0o644)
	}
	got, err := varFilePaths([]string{"production.tfvars", "../../common.tfvars", outside}, dir, root, "/copy")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/copy/envs/prod/production.tfvars", "/copy/common.tfvars", outside}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := varFilePaths([]string{"missing.tfvars"}, dir, root, "/copy"); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("missing var file: got %v, want EINVALID", err)
	}
}

func TestCheckLocalModuleCalls(t *testing.T) {
	mod := func(sources ...string) *tfconfig.Module {
		m := tfconfig.NewModule("/repo/envs/prod")
		for i, s := range sources {
			m.ModuleCalls[string(rune('a'+i))] = &tfconfig.ModuleCall{Source: s}
		}
		return m
	}
	tests := []struct {
		mod     *tfconfig.Module
		root    string
		wantErr bool
	}{
		{mod("./web", "hashicorp/consul/aws", "git::https://example.com/m.git"), "/repo/envs/prod", false},
		{mod("../../modules/web"), "/repo", false},
		{mod("../../modules/web"), "/repo/envs/prod", true},
		{mod("../../../elsewhere"), "/repo", true},
	}
	for _, tt := range tests {
		err := checkLocalModuleCalls(tt.mod, "/repo/envs/prod", tt.root)
		if (err != nil) != tt.wantErr || err != nil && preview.ErrorCode(err) != preview.EINVALID {
			t.Errorf("calls %v, root %s: got %v, want error %v", tt.mod.ModuleCalls, tt.root, err, tt.wantErr)
		}
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		root, path, rel string
		ok              bool
	}{
		{"/a", "/a", ".", true},
		{"/a", "/a/b/c", "b/c", true},
		{"/a", "/ab", "", false},
		{"/a", "/", "", false},
		{"/a/b", "/a/..b", "", false},
		{"/a", "/a/..b", "..b", true},
	}
	for _, tt := range tests {
		rel, ok := within(tt.root, tt.path)
		if rel != tt.rel || ok != tt.ok {
			t.Errorf("within(%q, %q): got %q, %v, want %q, %v", tt.root, tt.path, rel, ok, tt.rel, tt.ok)
		}
	}
}
