package parity

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// loadPlan reads a plan fixture from testdata/plans.
func loadPlan(t *testing.T, name string) *tfjson.Plan {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "plans", name))
	if err != nil {
		t.Fatal(err)
	}
	return decodePlan(t, string(b))
}

// decodePlan decodes a plan written as JSON; a missing format_version is
// filled in.
func decodePlan(t *testing.T, s string) *tfjson.Plan {
	t.Helper()
	raw := map[string]any{}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["format_version"] == nil {
		raw["format_version"] = "1.2"
	}
	b, _ := json.Marshal(raw)
	var plan tfjson.Plan
	if err := json.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	return &plan
}
