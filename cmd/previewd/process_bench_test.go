package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/benchtest"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/store"
	"github.com/previewd/previewd/store/postgres"
)

// benchProcess is previewd built and run as its own process, so its
// memory is its own, not the benchmark's.
type benchProcess struct {
	cmd     *exec.Cmd
	base    string
	logs    *waittest.Buffer
	started time.Time
	stop    func() // interrupts it and waits for it to end; once
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
// benchmark, unless stopped before.
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
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
			cancel()
		})
	}
	b.Cleanup(p.stop)
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

// waitSettled waits until p has written every pull request it queued
// (previewd_github_syncs_pending is 0): a start queues every environment's
// comment, and a store fresh from seedEnvironments holds none previewd
// rendered.
func waitSettled(b *testing.B, p *benchProcess) {
	b.Helper()
	waittest.ForWithin(b, 15*time.Minute, "previewd_github_syncs_pending 0", func() string {
		resp, err := http.Get(p.base + "/metrics")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for line := range strings.Lines(string(body)) {
			if strings.HasPrefix(line, "previewd_github_syncs_pending ") {
				return strings.TrimSpace(line)
			}
		}
		return "no previewd_github_syncs_pending"
	}, func(line string) bool { return line == "previewd_github_syncs_pending 0" })
}

// settledStore seeds a bbolt store under a new directory as
// seedEnvironments does, and lets previewd write every pull request once,
// as a long-running installation has: its starts then have nothing to
// write. It returns the directory.
func settledStore(b *testing.B, bin string, n, live int) string {
	b.Helper()
	dir := b.TempDir()
	seedEnvironments(b, dir, n, live)
	p := startBenchProcess(b, bin, dir)
	waitHTTP(b, p.base+"/readyz")
	waitSettled(b, p)
	p.stop()
	return dir
}

// tenThousandGoals are a store's limits with 10,000 environments.
type tenThousandGoals struct {
	startup, page, whole, dashboard, scrape, rss float64 // ms, and MB for rss
}

// BenchmarkTenThousandEnvironments starts previewd as its own process on a
// settled store of 10,000 environments (500 live, the rest destroyed), on
// bbolt and on PostgreSQL (the same store, copied as `previewd store
// migrate` copies it), and reports, each beside its floor:
//
//   - start-up, process start to /readyz answering 200, beside the same
//     start on an empty store of the same kind;
//   - the admin list, a page of 100 and whole, the dashboard's list and a
//     metrics scrape, each beside /healthz of the same process (a request
//     that does no work), timed once the start's own work is done (every
//     pull request written; start-up to settled is reported beside);
//   - previewd's resident set (VmRSS) after those requests, beside the
//     empty store's after the same (the full one's at rest, before them, is
//     reported beside).
//
// Goals: start-up under 1 s; a page under 10 ms; the whole list under
// 50 ms on bbolt and 100 ms on PostgreSQL; the dashboard under 100 ms; a
// scrape under 50 ms; RSS under 100 MB on bbolt and 150 MB on PostgreSQL.
func BenchmarkTenThousandEnvironments(b *testing.B) {
	bin := buildPreviewd(b)
	full := settledStore(b, bin, 10000, 500)
	b.Run("store=bbolt", func(b *testing.B) {
		start := func(empty bool) *benchProcess {
			if empty {
				return startBenchProcess(b, bin, b.TempDir())
			}
			return startBenchProcess(b, bin, full)
		}
		benchmarkTenThousand(b, "bbolt", start, tenThousandGoals{startup: 1000, page: 10, whole: 50, dashboard: 100, scrape: 50, rss: 100})
	})
	b.Run("store=postgres", func(b *testing.B) {
		ctx := context.Background()
		url, _ := pgtest.Database(b)
		if _, err := postgres.ImportFile(ctx, filepath.Join(full, "previewd.db"), url); err != nil {
			b.Fatal(err)
		}
		empty, _ := pgtest.Database(b)
		db, err := postgres.Open(ctx, empty, postgres.Options{}) // migrated, as the full one is
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
		config, _ := pgStateConfig(b)
		start := func(isEmpty bool) *benchProcess {
			database := url
			if isEmpty {
				database = empty
			}
			return startBenchProcess(b, bin, b.TempDir(), "PREVIEWD_DATABASE_URL="+database, "PREVIEWD_CONFIG="+config)
		}
		benchmarkTenThousand(b, "postgres", start, tenThousandGoals{startup: 1000, page: 10, whole: 100, dashboard: 100, scrape: 50, rss: 150})
	})
}

// benchmarkTenThousand measures the process start(false) starts on the
// full store against the one start(true) starts on an empty store of the
// same kind, stopped before the full one starts.
func benchmarkTenThousand(b *testing.B, kind string, start func(empty bool) *benchProcess, goals tenThousandGoals) {
	for b.Loop() {
		empty := start(true)
		waitHTTP(b, empty.base+"/readyz")
		emptyStartup := time.Since(empty.started)
		waitSettled(b, empty)
		timeRequests(b, empty)
		emptyRSS := rss(b, empty.pid(), "VmRSS:") / 1024
		empty.stop()

		p := start(false)
		waitHTTP(b, p.base+"/readyz")
		startup := time.Since(p.started)
		waitSettled(b, p)
		settled := time.Since(p.started)
		atRest := rss(b, p.pid(), "VmRSS:") / 1024
		t := timeRequests(b, p)
		for _, f := range []benchtest.Figure{
			{Name: "10k envs: start-up to /readyz, " + kind, Unit: "ms", Value: ms(startup),
				Floor: ms(emptyStartup), FloorName: "start-up on an empty store", Limit: goals.startup},
			{Name: "10k envs: admin list, page of 100, " + kind, Unit: "ms", Value: ms(t.page),
				Floor: ms(t.healthz), FloorName: "/healthz", Limit: goals.page},
			{Name: "10k envs: admin list, whole, " + kind, Unit: "ms", Value: ms(t.whole),
				Floor: ms(t.healthz), FloorName: "/healthz", Limit: goals.whole},
			{Name: "10k envs: dashboard list, " + kind, Unit: "ms", Value: ms(t.dashboard),
				Floor: ms(t.healthz), FloorName: "/healthz", Limit: goals.dashboard},
			{Name: "10k envs: metrics scrape, " + kind, Unit: "ms", Value: ms(t.scrape),
				Floor: ms(t.healthz), FloorName: "/healthz", Limit: goals.scrape},
			{Name: "10k envs: resident set, " + kind, Unit: "MB", Value: rss(b, p.pid(), "VmRSS:") / 1024,
				Floor: emptyRSS, FloorName: "on an empty store", Limit: goals.rss},
		} {
			benchtest.Report(b, f)
		}
		b.ReportMetric(settled.Seconds(), "startup-to-settled-s")
		b.ReportMetric(atRest, "rss-at-rest-MB")
		b.ReportMetric(ms(t.firstWhole), "first-whole-list-ms")
		b.ReportMetric(ms(t.healthz), "healthz-ms")
		b.ReportMetric(rss(b, p.pid(), "VmHWM:")/1024, "peak-rss-MB")
		p.stop()
	}
}

// requestTimes are a process's mean answer times.
type requestTimes struct {
	firstWhole, whole, page, dashboard, scrape, healthz time.Duration
}

// timeRequests times the requests BenchmarkTenThousandEnvironments
// reports, each answer read to its end, on a client of its own: the tests'
// default transport checks every answer against the OpenAPI description,
// which is not what is timed here.
func timeRequests(b *testing.B, p *benchProcess) requestTimes {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(path string, rounds int) time.Duration {
		start := time.Now()
		for range rounds {
			req, _ := http.NewRequest("GET", p.base+path, nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			drain(resp)
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: %s", path, resp.Status)
			}
		}
		return time.Since(start) / time.Duration(rounds)
	}
	// The first whole list encodes every environment for the API; later
	// ones encode only those that changed.
	var t requestTimes
	t.firstWhole = get("/api/v1/environments", 1)
	t.whole = get("/api/v1/environments", 20)
	t.page = get("/api/v1/environments?limit=100&cursor=feature-change-5000", 20)
	t.dashboard = get("/dashboard", 20)
	t.scrape = get("/metrics", 20)
	t.healthz = get("/healthz", 20)
	return t
}
