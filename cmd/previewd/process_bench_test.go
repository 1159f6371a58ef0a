package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/store"
)

// benchProcess is previewd built and run as its own process, so its
// memory is its own, not the benchmark's.
type benchProcess struct {
	cmd     *exec.Cmd
	base    string
	logs    *waittest.Buffer
	started time.Time
}

// buildPreviewd builds the previewd binary for a benchmark (without the
// race detector, unlike the tests' previewdBinary).
func buildPreviewd(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "previewd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build previewd: %v\n%s", err, out)
	}
	return bin
}

// startBenchProcess runs `bin serve` on dataDir with the test secrets, the test
// module and env on top, and returns once it started (not once it is
// ready: see waitHTTP). It is interrupted and waited for at the end of the
// benchmark.
func startBenchProcess(b *testing.B, bin, dataDir string, env ...string) *benchProcess {
	b.Helper()
	module, _ := filepath.Abs("testdata/module")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(os.Environ(), "PREVIEWD_WEBHOOK_SECRET="+testSecret, "PREVIEWD_ADMIN_TOKEN="+testToken,
		"PREVIEWD_DATA_DIR="+dataDir, "PREVIEWD_MODULE_DIR="+module, "PREVIEWD_TERRAFORM_BIN="+terraformForTests(b),
		"PREVIEWD_LISTEN_ADDR="+addr, "PREVIEWD_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	p := &benchProcess{cmd: cmd, base: "http://" + addr, logs: &waittest.Buffer{}}
	cmd.Stderr = p.logs
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		cancel()
	})
	return p
}

func (p *benchProcess) pid() int { return p.cmd.Process.Pid }

// seedEnvironments records n pull requests in a new store under dataDir,
// all but live of them destroyed and the live ones ready at their head, as
// a long-running installation's store is: nothing for the controller to do.
func seedEnvironments(b *testing.B, dataDir string, n, live int) {
	b.Helper()
	db, err := store.Open(filepath.Join(dataDir, "previewd.db"), store.Options{TTL: 72 * time.Hour, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			pr := preview.PullRequest{Repo: "acme/shop", Number: i + 1, Open: true, HeadSHA: fmt.Sprintf("%040x", i),
				Branch: fmt.Sprintf("feature/change-%d", i), UpdatedAt: time.Now(), Author: "octocat"}
			res, err := db.RecordPullRequest(ctx, "", pr)
			if err != nil {
				b.Error(err)
				return
			}
			_, err = db.UpdateEnvironment(ctx, res.Environment.Name, func(e *preview.Environment) error {
				if i < live {
					e.Status, e.AppliedSHA, e.AppliedGeneration = preview.StatusReady, e.HeadSHA, e.Desired.Generation
					e.Parity.SHA, e.Parity.Generation = e.AppliedSHA, e.AppliedGeneration
					e.URL = "https://" + e.Name + ".preview.test/"
					return nil
				}
				e.Status, e.Desired.Present = preview.StatusDestroyed, false
				e.Comment.Body = "<!-- previewd:environment=x -->\n## 🗑️ Preview destroyed\n\nThis preview environment has been destroyed."
				return nil
			})
			if err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkTenThousandEnvironments starts previewd as its own process on a
// store of 10,000 environments (500 live, the rest destroyed) and reports
// its start-up time (process start to /readyz answering 200) beside the
// same start on an empty store, the floor; the admin list's latency, whole
// and a page of 100; and previewd's resident set (VmRSS after the lists,
// VmHWM its peak). Goals: start-up under 1 s, a page under 10 ms, the
// whole list under 50 ms, RSS under 100 MB.
func BenchmarkTenThousandEnvironments(b *testing.B) {
	bin := buildPreviewd(b)
	full := b.TempDir()
	seedEnvironments(b, full, 10000, 500)
	for b.Loop() {
		empty := startBenchProcess(b, bin, b.TempDir())
		waitHTTP(b, empty.base+"/readyz")
		floor := time.Since(empty.started)

		p := startBenchProcess(b, bin, full)
		waitHTTP(b, p.base+"/readyz")
		startup := time.Since(p.started)

		// A transport of its own: the tests' default one checks every
		// answer against the OpenAPI description, which is not what is
		// timed here.
		client := &http.Client{Transport: &http.Transport{}}
		list := func(query string, rounds int) time.Duration {
			start := time.Now()
			for range rounds {
				req, _ := http.NewRequest("GET", p.base+"/api/v1/environments"+query, nil)
				req.Header.Set("Authorization", "Bearer "+testToken)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				drain(resp)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("list%s: %s", query, resp.Status)
				}
			}
			return time.Since(start) / time.Duration(rounds)
		}
		// The first whole list encodes every environment for the API;
		// later ones encode only those that changed.
		first := list("", 1)
		whole, page := list("", 20), list("?limit=100&cursor=feature-change-5000", 20)
		b.ReportMetric(ms(first), "first-whole-list-ms")
		b.ReportMetric(startup.Seconds()*1000, "startup-ms")
		b.ReportMetric(floor.Seconds()*1000, "empty-startup-ms")
		b.ReportMetric(startup.Seconds()/floor.Seconds(), "startup-ratio")
		b.ReportMetric(ms(whole), "whole-list-ms")
		b.ReportMetric(ms(page), "page-ms")
		b.ReportMetric(rss(b, p.pid(), "VmRSS:")/1024, "rss-MB")
		b.ReportMetric(rss(b, p.pid(), "VmHWM:")/1024, "peak-rss-MB")
	}
}
