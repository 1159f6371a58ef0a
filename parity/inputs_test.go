package parity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

func TestResolveInputs(t *testing.T) {
	dir := t.TempDir()
	prodFile := filepath.Join(dir, "production.tfvars")
	os.WriteFile(prodFile, []byte("instance_count = 3\nregion = \"eu\"\ndb_password = \"from-file\"\n"), 0o600)
	toggles, _ := filepath.Abs(filepath.Join("testdata", "toggles", "toggles.json"))
	r := Repository{Name: "acme/shop", VarFiles: []string{prodFile},
		Vars:        map[string]any{"db_password": "prod-secret", "tier": "gold"},
		Differences: []preview.Difference{{Variable: "instance_count", Value: 1, Reason: "scale"}, {Variable: "db_password", Value: "preview-secret", Reason: "security"}, {Variable: "ghost", Value: 1, Reason: "cost"}},
		Settings:    Config{TogglesFile: toggles}}
	declared := map[string]bool{"instance_count": true, "region": true, "db_password": true, "tier": true, "feature_flags": true, "debug": true}
	in, err := ResolveInputs(r, declared, map[string]any{"debug": true})
	if err != nil {
		t.Fatal(err)
	}
	if !in.TogglesPassed || in.Toggles == nil {
		t.Fatalf("toggles: passed %v, loaded %v", in.TogglesPassed, in.Toggles != nil)
	}
	wantPreviewVars := []string{"db_password", "debug", "feature_flags", "instance_count", "tier"} // ghost is not declared
	if got := slices.Sorted(maps.Keys(in.PreviewVars)); !slices.Equal(got, wantPreviewVars) {
		t.Errorf("preview vars: got %v, want %v", got, wantPreviewVars)
	}
	if got := fmt.Sprint(in.Production["instance_count"]); got != "3" {
		t.Errorf("production's instance_count: got %v, want 3 from its var file", got)
	}
	if in.Preview["instance_count"] != 1 || in.Preview["region"] != "eu" || in.Preview["ghost"] != 1 || in.Preview["debug"] != true {
		t.Errorf("preview: got %v", in.Preview)
	}
	if in.Production["db_password"] != "prod-secret" || in.ProductionVars["tier"] != "gold" || in.ProductionVars["feature_flags"] == nil {
		t.Errorf("production: got %v, vars %v", in.Production, in.ProductionVars)
	}
	// Every declared variable is in the map, marked sensitive or not (as
	// the module's inspection gives them): only the sensitive one's values
	// are secrets.
	secrets := in.SensitiveValues(map[string]bool{"db_password": true, "region": false, "tier": false, "instance_count": false})
	slices.Sort(secrets)
	if !slices.Equal(secrets, []string{"preview-secret", "prod-secret"}) {
		t.Errorf("sensitive values: got %v", secrets)
	}
	if err := in.MissingInProduction(r, map[string]bool{"region": true, "environment": true}); err != nil {
		t.Errorf("nothing is missing: %v", err)
	}
	r.Where = "production_var_files"
	if err := in.MissingInProduction(r, map[string]bool{"zone": true, "api_key": true}); err == nil ||
		!strings.Contains(err.Error(), "do not set api_key, zone, which the module requires: give production's values in production_var_files") {
		t.Errorf("missing: got %v", err)
	}
}

// fakePlanner is a Planner of function fields: Check's orchestration is
// tested here without Terraform; cmd/previewd runs it with the real one.
type fakePlanner struct {
	vars ModuleVariables
	plan func(name string) (Plan, error)
}

func (f fakePlanner) ModuleVariables(context.Context, preview.Environment) (ModuleVariables, error) {
	return f.vars, nil
}
func (f fakePlanner) PlanPreview(context.Context, preview.Environment, io.Writer) (Plan, error) {
	return f.plan("preview")
}
func (f fakePlanner) PlanApplied(context.Context, preview.Environment, io.Writer) (Plan, error) {
	return f.plan("applied")
}
func (f fakePlanner) PlanProduction(context.Context, preview.Environment, map[string]any, io.Writer) (Plan, error) {
	return f.plan("production")
}
func (f fakePlanner) EngineBanner(context.Context) (string, error) { return "Terraform v1.5.7", nil }

func TestCheckerRefusesAMadeUpProduction(t *testing.T) {
	planned := 0
	c := NewChecker(fakePlanner{
		vars: ModuleVariables{Declared: map[string]bool{"environment": true, "api_url": true}, Required: map[string]bool{"environment": true, "api_url": true}},
		plan: func(string) (Plan, error) { planned++; return Plan{}, errors.New("must not plan") },
	})
	_, err := c.Check(context.Background(), Repository{Name: "acme/shop", ModuleDir: t.TempDir(), Where: "production_var_files"}, CheckOptions{}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "do not set api_url") || planned != 0 {
		t.Errorf("got %v after %d plans; want an error naming api_url before any plan", err, planned)
	}
}

// TestChecksStartingTogetherPlanProductionOnce starts four checks at once,
// as the checks after a fan-out start: production is planned once for all.
// The one plan of production is held until every check has its preview's
// plan, so the others ask while it is being made.
func TestChecksStartingTogetherPlanProductionOnce(t *testing.T) {
	const checks = 4
	var previews, productions atomic.Int32
	allPlanned := make(chan struct{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte("variable \"environment\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := Plan{Plan: &tfjson.Plan{FormatVersion: "1.2"}}
	c := NewChecker(fakePlanner{
		vars: ModuleVariables{Declared: map[string]bool{"environment": true}},
		plan: func(name string) (Plan, error) {
			if name == "production" {
				productions.Add(1)
				<-allPlanned
				return empty, nil
			}
			if previews.Add(1) == checks {
				close(allPlanned)
			}
			return empty, nil
		},
	})
	var wg sync.WaitGroup
	errs := make([]error, checks)
	for i := range checks {
		wg.Go(func() {
			_, errs[i] = c.Check(context.Background(), Repository{Name: "acme/shop", ModuleDir: dir}, CheckOptions{Applied: true}, io.Discard)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := productions.Load(); got != 1 {
		t.Errorf("production planned %d times for %d checks starting together; want once", got, checks)
	}
}
