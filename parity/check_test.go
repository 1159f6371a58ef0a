package parity

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPlanKeyFollowsTheModuleAndTheInputs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`variable "environment" {}`), 0o644)
	k1, err := planKey("acme/shop", dir, nil, map[string]any{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := planKey("acme/shop", dir, nil, map[string]any{"a": 1}); k2 != k1 {
		t.Errorf("same module and inputs: keys differ")
	}
	if k3, _ := planKey("acme/shop", dir, nil, map[string]any{"a": 2}); k3 == k1 {
		t.Errorf("other inputs: same key")
	}
	os.WriteFile(filepath.Join(dir, "production.tfvars"), []byte(`replicas = 3`), 0o644)
	if k4, _ := planKey("acme/shop", dir, nil, map[string]any{"a": 1}); k4 == k1 {
		t.Errorf("a changed module: same key")
	}
}

func TestPlanKeyFollowsVarFilesOutsideTheModule(t *testing.T) {
	dir, outside := t.TempDir(), filepath.Join(t.TempDir(), "prod.tfvars")
	os.WriteFile(outside, []byte(`replicas = 3`), 0o644)
	k1, _ := planKey("acme/shop", dir, []string{outside}, nil)
	os.WriteFile(outside, []byte(`replicas = 5`), 0o644)
	if k2, _ := planKey("acme/shop", dir, []string{outside}, nil); k2 == k1 {
		t.Errorf("a changed production var file outside the module: same key")
	}
}
