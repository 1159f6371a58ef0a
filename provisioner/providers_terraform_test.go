package provisioner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/enginetest"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/parity"
)

// TestProviderFromMirror runs a module with a real provider (hashicorp/time
// from a filesystem mirror, through a CLI configuration file) on each
// engine, with production's dependency lock file: environments applied
// together (sharing a plugin cache), the lock file the preview planned
// with is production's (no provider finding), a drift check, and destroy.
// The same module without a lock file in production is a provider finding:
// the preview runs versions production does not pin.
func TestProviderFromMirror(t *testing.T) {
	t.Parallel()
	mirror := enginetest.ProviderMirror(t, "..")
	for engine, bin := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			locked, unlocked := t.TempDir(), t.TempDir()
			copyModuleTree(t, filepath.Join("testdata", "time"), locked)
			copyModuleTree(t, filepath.Join("testdata", "time"), unlocked)
			enginetest.LockProviders(t, bin, locked, mirror)
			productionLock, err := os.ReadFile(filepath.Join(locked, ".terraform.lock.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			modules := map[string]Module{"acme/locked": {Dir: locked}, "acme/unlocked": {Dir: unlocked}}
			p, _ := newTestProvisioner(t, Module{}, func(c *Config) {
				c.TerraformBin = bin
				c.CLIConfigFile = enginetest.MirrorConfig(t, mirror)
				c.PluginCacheDir = t.TempDir()
			})
			p.modules = func(_ context.Context, env preview.Environment) (Module, error) { return modules[env.Repo], nil }
			ctx := context.Background()

			envs := []string{"time-a", "time-b", "time-c", "time-d"}
			var wg sync.WaitGroup
			logs := make([]waittest.Buffer, len(envs))
			errs := make([]error, len(envs))
			for i, name := range envs {
				wg.Go(func() {
					env := testEnv(name, "sha1")
					env.Repo = "acme/locked"
					_, errs[i] = p.Apply(ctx, env, &logs[i])
				})
			}
			wg.Wait()
			for i := range envs {
				if errs[i] != nil {
					t.Fatalf("apply %s: %v\n%s", envs[i], errs[i], logs[i].String())
				}
			}
			env := testEnv("time-a", "sha1")
			env.Repo = "acme/locked"
			res, err := p.PlanApplied(ctx, env, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.LockFile) != string(productionLock) {
				t.Errorf("the preview planned with another lock file:\n%s\nproduction's:\n%s", res.LockFile, productionLock)
			}
			if findings, err := parity.CompareLockFiles(productionLock, res.LockFile); err != nil || len(findings) > 0 {
				t.Errorf("lock-file parity with production's own lock file: %+v, %v; want nothing", findings, err)
			}
			if changed, changes, err := p.DetectDrift(ctx, env, nil); err != nil || changed {
				t.Errorf("drift check: %v %v, %v; want none", changed, changes, err)
			}

			other := testEnv("time-unlocked", "sha1")
			other.Repo = "acme/unlocked"
			var log waittest.Buffer
			if _, err := p.Apply(ctx, other, &log); err != nil {
				t.Fatalf("apply without production's lock file: %v\n%s", err, log.String())
			}
			res, err = p.PlanApplied(ctx, other, nil)
			if err != nil {
				t.Fatal(err)
			}
			findings, err := parity.CompareLockFiles(nil, res.LockFile)
			if err != nil || len(findings) != 1 || !strings.HasSuffix(findings[0].Subject, "hashicorp/time") || findings[0].Preview != "0.14.2" || findings[0].Production != "not locked" {
				t.Errorf("lock-file parity without production's lock file: %+v, %v; want hashicorp/time locked only by the preview", findings, err)
			}

			for _, name := range append(envs, other.Name) {
				e := testEnv(name, "sha1")
				e.Repo = map[bool]string{true: "acme/unlocked", false: "acme/locked"}[name == other.Name]
				if err := p.Destroy(ctx, e, nil); err != nil {
					t.Errorf("destroy %s: %v", name, err)
				}
			}
		})
	}
}
