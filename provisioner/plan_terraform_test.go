package provisioner

// These tests run the real Terraform binary on the parity-* modules in
// testdata/.

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/previewd/previewd/internal/enginetest"
	"github.com/previewd/previewd/internal/waittest"
)

var instanceKey = regexp.MustCompile(`\[[^\]]*\]`)

// instanceCounts returns how many instances of each resource (by address
// without instance keys) a plan would leave.
func instanceCounts(plan *tfjson.Plan) map[string]int {
	counts := map[string]int{}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		for _, r := range m.Resources {
			counts[instanceKey.ReplaceAllString(r.Address, "")]++
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	if plan.PlannedValues != nil && plan.PlannedValues.RootModule != nil {
		walk(plan.PlannedValues.RootModule)
	}
	return counts
}

// scaleModule is parity-scale as previewd configures it for previews:
// production's var file, then the declared difference instance_count = 1.
func scaleModule() Module {
	mod := fixture("parity-scale")
	mod.VarFiles = []string{"production.tfvars"}
	mod.Vars = map[string]any{"instance_count": 1, "database_password": "hunter2-preview"}
	return mod
}

func TestParityPlans(t *testing.T) {
	t.Parallel()
	p, dataDir := newTestProvisioner(t, scaleModule())
	ctx := context.Background()
	tests := []struct {
		name     string
		plan     func(log *bytes.Buffer) (PlanResult, error)
		want     map[string]int
		wantVars map[string]any
	}{
		{
			name: "preview",
			plan: func(log *bytes.Buffer) (PlanResult, error) {
				return p.PlanPreview(ctx, testEnv("feat-parity", "sha1"), log)
			},
			want:     map[string]int{"terraform_data.web": 1, "terraform_data.debug": 1, "module.cache.terraform_data.node": 1},
			wantVars: map[string]any{"environment": "feat-parity", "instance_count": 1.0, "database_engine_version": "15.4", "pr_number": 42.0},
		},
		{
			name: "production",
			plan: func(log *bytes.Buffer) (PlanResult, error) {
				return p.PlanProduction(ctx, testEnv("production", ""), map[string]any{"database_password": "hunter2-production"}, log)
			},
			want:     map[string]int{"terraform_data.web": 3, "module.cache.terraform_data.node": 3},
			wantVars: map[string]any{"environment": "production", "instance_count": 3.0, "database_engine_version": "15.4", "pr_number": 0.0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			res, err := tt.plan(&log)
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if got := instanceCounts(res.Plan); !maps.Equal(got, tt.want) {
				t.Errorf("got instances %v, want %v", got, tt.want)
			}
			for name, want := range tt.wantVars {
				if v := res.Plan.Variables[name]; v == nil || v.Value != want {
					t.Errorf("variable %s: got %#v, want %#v", name, v, want)
				}
			}
			if res.LockFile != nil {
				t.Errorf("got lock file %q for a module using only built-ins, want none", res.LockFile)
			}
			if strings.Contains(log.String(), "hunter2") {
				t.Errorf("log shows a sensitive value:\n%s", log.String())
			}
			if !strings.Contains(log.String(), "$ terraform show -json") {
				t.Errorf("log does not show the show command:\n%s", log.String())
			}
		})
	}
	scratch, err := os.ReadDir(filepath.Join(dataDir, "scratch"))
	if err != nil || len(scratch) != 0 {
		t.Errorf("scratch directory: got %v, %v, want empty", scratch, err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "envs", "feat-parity", planFile)); !os.IsNotExist(err) {
		t.Errorf("saved plan left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "envs", "feat-parity", "terraform.tfstate")); !os.IsNotExist(err) {
		t.Errorf("planning wrote state: %v", err)
	}
}

// TestPlanProductionNeverReadsProductionState gives the module a backend
// whose state holds production's resource: production's plan must still
// start from an empty state, and plan to create it.
func TestPlanProductionNeverReadsProductionState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"main.tf": `
terraform {
  backend "local" {
    path = "state/production.tfstate"
  }
}

variable "environment" {
  type = string
}

resource "terraform_data" "app" {
  input = var.environment
}
`})
	bin := enginetest.Terraform(t, "..")
	for _, args := range [][]string{{"init", "-input=false"}, {"apply", "-auto-approve", "-input=false", "-var", "environment=production"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
	p, _ := newTestProvisioner(t, Module{Dir: dir})
	var log bytes.Buffer
	res, err := p.PlanProduction(context.Background(), testEnv("production", ""), nil, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var got []string
	for _, rc := range res.Plan.ResourceChanges {
		got = append(got, rc.Address+" "+strings.Join(actions(rc.Change.Actions), "+"))
	}
	if want := []string{"terraform_data.app create"}; !slices.Equal(got, want) {
		t.Errorf("got changes %v, want %v (production's state must not be read)", got, want)
	}
}

func actions(a tfjson.Actions) []string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = string(x)
	}
	return s
}

func TestPlanLockFile(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile(filepath.Join("testdata", "locked", ".terraform.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		plan func(p testProvisioner, log *bytes.Buffer) (PlanResult, error)
	}{
		{"preview", func(p testProvisioner, log *bytes.Buffer) (PlanResult, error) {
			return p.PlanPreview(ctx, testEnv("feat-lock", "sha1"), log)
		}},
		{"production", func(p testProvisioner, log *bytes.Buffer) (PlanResult, error) {
			return p.PlanProduction(ctx, testEnv("production", ""), nil, log)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestProvisioner(t, fixture("locked")) // each inits
			var log bytes.Buffer
			res, err := tt.plan(p, &log)
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if !bytes.Equal(res.LockFile, want) {
				t.Errorf("got lock file %q, want production's %q", res.LockFile, want)
			}
			if !strings.Contains(log.String(), "-lockfile=readonly") {
				t.Errorf("init did not get -lockfile=readonly:\n%s", log.String())
			}
		})
	}
}

// TestDetectDrift edits, behind Terraform's back, the file a local-exec
// created and an output reads: the refresh-only plan reports it.
func TestDetectDrift(t *testing.T) {
	t.Parallel()
	p, dataDir := newTestProvisioner(t, fixture("parity-drift"))
	ctx := context.Background()
	env := testEnv("feat-drift", "sha1")
	config := filepath.Join(dataDir, "envs", env.Name, "module", "run", "config")
	steps := []struct {
		name        string
		before      func(t *testing.T)
		wantChanged bool
		wantChanges []string
		wantRan     bool
	}{
		{name: "never applied", before: func(*testing.T) {}},
		{name: "just applied", before: func(t *testing.T) {
			var log bytes.Buffer
			if _, err := p.Apply(ctx, env, &log); err != nil {
				t.Fatalf("apply: %v\n%s", err, log.String())
			}
		}, wantRan: true},
		{name: "file edited", before: func(t *testing.T) {
			if err := os.WriteFile(config, []byte("edited by hand\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantChanged: true, wantChanges: []string{"output.config"}, wantRan: true},
		{name: "file restored", before: func(t *testing.T) {
			if err := os.WriteFile(config, []byte("v1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantRan: true},
	}
	for _, s := range steps {
		s.before(t)
		var log bytes.Buffer
		changed, changes, err := p.DetectDrift(ctx, env, &log)
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.name, err, log.String())
		}
		if changed != s.wantChanged || !slices.Equal(changes, s.wantChanges) {
			t.Errorf("%s: got %v %q, want %v %q\n%s", s.name, changed, changes, s.wantChanged, s.wantChanges, log.String())
		}
		if ran := strings.Contains(log.String(), "-refresh-only"); ran != s.wantRan {
			t.Errorf("%s: ran a refresh-only plan: got %v, want %v\n%s", s.name, ran, s.wantRan, log.String())
		}
		if strings.Contains(log.String(), "edited by hand") && !strings.Contains(log.String(), `"v1" -> "edited by hand"`) {
			t.Errorf("%s: unexpected log:\n%s", s.name, log.String())
		}
	}
}

// TestApplyAppliesTheSavedPlanAndKeepsIt checks that an apply plans and
// applies that saved plan, and that the parity check's PlanApplied shows
// that plan without planning again, once.
func TestApplyAppliesTheSavedPlanAndKeepsIt(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvisioner(t, fixture("basic"))
	ctx := context.Background()
	env := testEnv("saved", "sha1")
	var log waittest.Buffer
	if _, err := p.Apply(ctx, env, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	applyLog := log.String()
	for _, want := range []string{"$ terraform plan ", "-out=envs/saved/applied.tfplan", "$ terraform apply ", "applied.tfplan"} {
		if !strings.Contains(applyLog, want) {
			t.Errorf("apply's log lacks %q:\n%s", want, applyLog)
		}
	}
	if strings.Contains(applyLog[strings.Index(applyLog, "$ terraform apply "):], "-var-file") {
		t.Errorf("the saved plan was applied with var files:\n%s", applyLog)
	}
	var checkLog waittest.Buffer
	res, err := p.PlanApplied(ctx, env, &checkLog)
	if err != nil || res.Plan == nil || !strings.Contains(checkLog.String(), "comparing the plan this environment's apply applied") || strings.Contains(checkLog.String(), "$ terraform plan") {
		t.Errorf("first PlanApplied: got %v, log %q; want the kept plan shown, no new plan", err, checkLog.String())
	}
	if got := res.Plan.Variables["head_sha"]; got == nil || got.Value != "sha1" {
		t.Errorf("the kept plan's head_sha: got %+v, want sha1", got)
	}
	// One process: show, without terraform-exec's version check.
	if commands := strings.Count(checkLog.String(), "$ terraform "); commands != 1 || !strings.Contains(checkLog.String(), "$ terraform show -json -no-color envs/saved/applied.tfplan   # output read by previewd, not logged") {
		t.Errorf("first PlanApplied ran %d commands; want show alone:\n%s", commands, checkLog.String())
	}
	var again waittest.Buffer
	if _, err := p.PlanApplied(ctx, env, &again); err != nil || !strings.Contains(again.String(), "$ terraform plan ") {
		t.Errorf("second PlanApplied: got %v, log %q; want a plan of its own", err, again.String())
	}
}
