package provisioner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/enginetest"
)

// BenchmarkParallelInit initialises 20 environments of a module with a real
// provider (hashicorp/time from the mirror, a shared plugin cache), 4 at a
// time, as previewd does for 20 new pull requests, against its floor: one
// `terraform init` by hand, times 20/4. It also reports the serialised
// figure previewd had before (20 inits by hand, one at a time, as a shared
// plugin cache required). Goal: previewd within 1.5 × the floor.
func BenchmarkParallelInit(b *testing.B) {
	mirror := enginetest.ProviderMirror(b, "..")
	bin := enginetest.Terraform(b, "..")
	module := b.TempDir()
	copyModuleTree(b, filepath.Join("testdata", "time"), module)
	enginetest.LockProviders(b, bin, module, mirror)
	cliConfig := enginetest.MirrorConfig(b, mirror)
	const n, slots = 20, 4
	for b.Loop() {
		cache := b.TempDir()
		byHand := func() time.Duration {
			dir := b.TempDir()
			copyModuleTree(b, module, dir)
			cmd := exec.Command(bin, "init", "-input=false", "-lockfile=readonly")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "TF_PLUGIN_CACHE_DIR="+cache, "CHECKPOINT_DISABLE=1")
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("init: %v\n%s", err, out)
			}
			return time.Since(start)
		}
		byHand() // the plugin cache holds the provider from now on, as in service
		one := byHand()
		start := time.Now()
		for range n {
			byHand()
		}
		serialised := time.Since(start)

		p, _ := newTestProvisioner(b, Module{Dir: module}, func(c *Config) {
			c.TerraformBin, c.CLIConfigFile, c.PluginCacheDir = bin, cliConfig, cache
		})
		sem := make(chan struct{}, slots)
		var wg sync.WaitGroup
		start = time.Now()
		for i := range n {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if _, err := p.ready(context.Background(), testEnv(fmt.Sprintf("init-%d", i), "sha1"), Module{Dir: module}, nil); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		parallel := time.Since(start)
		floor := one * n / slots
		b.ReportMetric(ms(one), "one-init-ms")
		b.ReportMetric(ms(floor), "floor-ms")
		b.ReportMetric(ms(parallel), "previewd-ms")
		b.ReportMetric(parallel.Seconds()/floor.Seconds(), "ratio")
		b.ReportMetric(ms(serialised), "serialised-ms")
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
