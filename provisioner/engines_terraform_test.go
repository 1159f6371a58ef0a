package provisioner

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/previewd/previewd/internal/enginetest"
	"github.com/previewd/previewd/internal/waittest"
)

// engines are the binaries the lifecycle runs on: Terraform and OpenTofu,
// by the name each prints in a run's log.
func engines(t *testing.T) map[string]string {
	return map[string]string{"terraform": enginetest.Terraform(t, ".."), "tofu": enginetest.Tofu(t, "..")}
}

// TestLifecycleOnEachEngine runs an environment's whole life on Terraform
// and on OpenTofu: apply, the parity check's plans (as applied, and
// production's), a drift check, the sensitive outputs a hook may get, a
// second environment copying the first one's init, and destroy.
func TestLifecycleOnEachEngine(t *testing.T) {
	t.Parallel()
	for engine, bin := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			p, dataDir := newTestProvisioner(t, fixture("basic"), func(c *Config) { c.TerraformBin = bin })
			ctx := context.Background()
			banner, err := p.EngineBanner(ctx)
			if want := map[string]string{"terraform": `^Terraform v1\.`, "tofu": `^OpenTofu v1\.`}[engine]; err != nil || !regexp.MustCompile(want).MatchString(banner) {
				t.Fatalf("banner %q, %v; want %s", banner, err, want)
			}
			env := testEnv("life-"+engine, "sha1")
			var log waittest.Buffer
			res, err := p.Apply(ctx, env, &log)
			if err != nil {
				t.Fatalf("apply: %v\n%s", err, log.String())
			}
			if !strings.Contains(log.String(), "$ "+engine+" init") || !strings.Contains(log.String(), "$ "+engine+" apply") {
				t.Errorf("the log does not show %s's commands:\n%s", engine, log.String())
			}
			if strings.Contains(log.String(), "hunter2") {
				t.Errorf("the sensitive output is in the log:\n%s", log.String())
			}
			if want := "http://life-" + engine + ".preview.test/sha1"; res.URL != want {
				t.Errorf("url %q, want %q", res.URL, want)
			}
			applied, err := p.PlanApplied(ctx, env, nil)
			if err != nil || applied.Plan == nil || applied.Plan.Variables["head_sha"] == nil || applied.Plan.Variables["head_sha"].Value != "sha1" {
				t.Errorf("plan as applied: %+v, %v", applied.Plan, err)
			}
			prod, err := p.PlanProduction(ctx, testEnv("production", ""), nil, nil)
			if err != nil || prod.Plan == nil || len(prod.Plan.ResourceChanges) == 0 {
				t.Errorf("production's plan: %+v, %v", prod.Plan, err)
			}
			if changed, _, err := p.DetectDrift(ctx, env, nil); err != nil || changed {
				t.Errorf("drift check: %v, %v; want none", changed, err)
			}
			if outputs, err := p.SensitiveOutputs(ctx, env); err != nil || outputs["password"] != "hunter2" {
				t.Errorf("sensitive outputs: %v, %v", outputs, err)
			}
			second := testEnv("second-"+engine, "sha2")
			log = waittest.Buffer{}
			if _, err := p.Apply(ctx, second, &log); err != nil || !strings.Contains(log.String(), "copied that init") {
				t.Errorf("second environment: %v; want it to copy the first one's init:\n%s", err, log.String())
			}
			for _, e := range []string{env.Name, second.Name} {
				if err := p.Destroy(ctx, testEnv(e, ""), nil); err != nil {
					t.Errorf("destroy %s: %v", e, err)
				}
			}
			if matches, _ := filepath.Glob(filepath.Join(dataDir, "envs", "*")); len(matches) > 0 {
				t.Errorf("left after the destroys: %v", matches)
			}
		})
	}
}
