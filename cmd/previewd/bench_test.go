package main

// Benchmarks of the running service, each against a baseline measured in
// the same process: run with `make bench` (-benchtime=1x; each iteration is
// a whole scenario).

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/benchtest"
	"github.com/previewd/previewd/internal/pgtest"
)

// load sends n requests at the given concurrency and returns their
// latencies and the wall time.
func load(b *testing.B, n, concurrency int, do func(i int) (int, error)) ([]time.Duration, time.Duration) {
	b.Helper()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				code, err := do(i)
				lat[i] = time.Since(t0)
				if err != nil || code/100 != 2 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, n)
	}
	return lat, time.Since(start)
}

func percentile(lat []time.Duration, p float64) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// drain reads resp's body to its end and closes it, so the connection is
// reused as a client that reads its answers would reuse it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkWebhookAck sends 2,000 signed deliveries at concurrency 100 while
// Terraform is busy, then the same deliveries to the floor (ackFloor): a
// small program doing only the essential work of an acknowledgement, on a
// store of its own of the same kind. Every delivery is answered 2xx only
// after it is on disk: with the bbolt store, and with the PostgreSQL store.
// /healthz of the same server, loaded alike, is reported for reference.
//
// The deliveries are GitHub's full-size synchronize payload (~25 KB,
// webhooks/testdata), signed before the clock starts. Each request comes on
// a connection of its own, as GitHub's deliveries do. When a goal is
// missed, the load runs again, with fresh deliveries, against previewd and
// against the floor under a CPU profile each (.cache/bench/ack-<store>.pprof
// and ack-<store>-floor.pprof).
func BenchmarkWebhookAck(b *testing.B) {
	b.Run("store=bbolt", func(b *testing.B) { benchmarkWebhookAck(b, "bbolt", nil, boltAckFloor(b)) })
	b.Run("store=postgres", func(b *testing.B) {
		url, _ := pgtest.Database(b)
		config, _ := pgStateConfig(b)
		env := map[string]string{"PREVIEWD_DATABASE_URL": url, "PREVIEWD_CONFIG": config}
		benchmarkWebhookAck(b, "postgres", env, postgresAckFloor(b))
	})
}

func benchmarkWebhookAck(b *testing.B, store string, env map[string]string, floor *ackFloor) {
	module, _ := filepath.Abs("testdata/slow")
	vars := map[string]string{"PREVIEWD_MODULE_DIR": module, "PREVIEWD_LOG_LEVEL": "warn"}
	for k, v := range env {
		vars[k] = v
	}
	p := startPreviewd(b, vars)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	const n, conc, prs = 2000, 100, 50
	t0 := time.Now().Add(-time.Hour)
	var seq atomic.Int64
	type delivery struct {
		id, sig string
		body    []byte
	}
	// sign makes n deliveries never sent before, each newer than the last.
	sign := func() []delivery {
		deliveries := make([]delivery, n)
		for i := range deliveries {
			k := seq.Add(1)
			body := fullPayload(b, prEvent{"synchronize", fmt.Sprintf("load/%d", i%prs), fmt.Sprintf("%040d", k), i%prs + 1, t0.Add(time.Duration(k) * time.Millisecond)})
			mac := hmac.New(sha256.New, []byte(testSecret))
			mac.Write(body)
			deliveries[i] = delivery{fmt.Sprintf("bench-%d", k), "sha256=" + hex.EncodeToString(mac.Sum(nil)), body}
		}
		return deliveries
	}
	post := func(url string, deliveries []delivery) func(i int) (int, error) {
		return func(i int) (int, error) {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(deliveries[i].body))
			req.Header.Set("X-GitHub-Event", "pull_request")
			req.Header.Set("X-GitHub-Delivery", deliveries[i].id)
			req.Header.Set("X-Hub-Signature-256", deliveries[i].sig)
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			drain(resp)
			return resp.StatusCode, nil
		}
	}
	healthz := func(int) (int, error) {
		resp, err := client.Get(p.base + "/healthz")
		if err != nil {
			return 0, err
		}
		drain(resp)
		return resp.StatusCode, nil
	}
	var acks, floors, health ackRun
	for b.Loop() {
		deliveries := sign()
		acks.add(load(b, n, conc, post(p.base+"/webhooks/github", deliveries)))
		floors.add(load(b, n, conc, post(floor.url, deliveries)))
		health.add(load(b, n, conc, healthz))
	}
	floor.checkRecorded(b, len(floors.lat))
	figures := ackFigures(store, acks, floors, floor.name)
	reportAck(b, figures)
	b.ReportMetric(ms(percentile(health.lat, 0.5)), "healthz-p50-ms")
	b.ReportMetric(ms(percentile(health.lat, 0.99)), "healthz-p99-ms")
	b.ReportMetric(health.perSecond(), "healthz-req/s")
	if !slices.ContainsFunc(figures, func(f benchtest.Figure) bool { return !f.Met() }) {
		return
	}
	deliveries := sign()
	for _, run := range []struct{ name, url string }{{"ack-" + store + ".pprof", p.base + "/webhooks/github"}, {"ack-" + store + "-floor.pprof", floor.url}} {
		if path := profileAck(b, run.name, func() { load(b, n, conc, post(run.url, deliveries)) }); path != "" {
			b.Logf("a goal is missed: CPU profile under the same load in %s", path)
		}
	}
}

// fullPayload is e as GitHub's full-size pull_request payload
// (webhooks/testdata/pull_request_synchronize_full.json) for acme/shop.
func fullPayload(tb testing.TB, e prEvent) []byte {
	tb.Helper()
	raw, err := os.ReadFile("../../webhooks/testdata/pull_request_synchronize_full.json")
	if err != nil {
		tb.Fatal(err)
	}
	var payload map[string]any
	if err := json.Unmarshal(raw, &payload); err != nil {
		tb.Fatal(err)
	}
	pr := payload["pull_request"].(map[string]any)
	head := pr["head"].(map[string]any)
	payload["action"], payload["number"], payload["after"] = e.action, e.number, e.sha
	pr["number"], pr["updated_at"] = e.number, e.updated.UTC().Format(time.RFC3339)
	head["ref"], head["sha"] = e.branch, e.sha
	for _, repo := range []map[string]any{payload["repository"].(map[string]any), head["repo"].(map[string]any), pr["base"].(map[string]any)["repo"].(map[string]any)} {
		repo["full_name"] = "acme/shop"
	}
	body, err := json.Marshal(payload)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// BenchmarkWebhookToReady times a webhook until the environment is ready,
// against `terraform init && terraform apply` of the same module by hand.
func BenchmarkWebhookToReady(b *testing.B) {
	slow, _ := filepath.Abs("testdata/slow")
	cases := []struct {
		name   string
		env    map[string]string
		module string
		vars   []string
	}{
		{"module=slow-3s", map[string]string{"PREVIEWD_MODULE_DIR": slow}, slow, []string{"-var", "sleep=3"}},
		{"module=example", map[string]string{"PREVIEWD_CONFIG": "../../examples/previewd.yaml"}, "../../examples/preview-web-module",
			[]string{"-var-file=production.tfvars", "-var", "instance_count=1", "-var", "external_api_url=https://sandbox.payments.example.com", "-var", "database_instance_class=db.t3.medium"}},
	}
	binDir := b.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "preview-web"), "../preview-web").CombinedOutput(); err != nil {
		b.Fatalf("build preview-web: %v\n%s", err, out)
	}
	b.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			p := startPreviewd(b, tc.env)
			tf := terraformForTests(b)
			pr := 0
			for b.Loop() {
				pr++
				sha := fmt.Sprintf("%040d", pr)
				name := fmt.Sprintf("bench-%d", pr)
				start := time.Now()
				p.send(prEvent{"opened", name, sha, pr, time.Now()})
				p.waitFor(name, "ready", readyAt(sha))
				viaPreviewd := time.Since(start)
				p.waitFor(name, "checked", func(e apiEnvironment) bool { return e.Parity.SHA == sha })
				checked := time.Since(start)

				dir := b.TempDir()
				copyTree(b, tc.module, dir)
				start = time.Now()
				for _, args := range [][]string{{"init", "-input=false"}, append([]string{"apply", "-auto-approve", "-input=false", "-var", "environment=hand-" + name, "-var", "head_sha=" + sha}, tc.vars...)} {
					cmd := exec.Command(tf, args...)
					cmd.Dir = dir
					if out, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("terraform %s: %v\n%s", args[0], err, out)
					}
				}
				byHand := time.Since(start)
				cmd := exec.Command(tf, append([]string{"destroy", "-auto-approve", "-input=false", "-var", "environment=hand-" + name, "-var", "head_sha=" + sha}, tc.vars...)...)
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("terraform destroy: %v\n%s", err, out)
				}
				// Tear previewd's environment down too: its servers must not
				// outlive the benchmark.
				p.send(prEvent{"closed", name, sha, pr, time.Now().Add(time.Minute)})
				p.waitFor(name, "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })

				b.ReportMetric(ms(viaPreviewd), "webhook-to-ready-ms")
				b.ReportMetric(ms(checked), "webhook-to-parity-checked-ms")
				b.ReportMetric(ms(byHand), "by-hand-ms")
				b.ReportMetric(ms(viaPreviewd-byHand), "overhead-ms")
				b.ReportMetric(100*float64(viaPreviewd-byHand)/float64(byHand), "overhead-%")
			}
		})
	}
}

// BenchmarkFanOut opens 100 pull requests at once, waits until every one is
// ready and then parity-checked, then closes them at once. Its floors are
// the same Terraform work by hand at the same parallelism (fanOutByHand):
// `init`, `plan` and `apply` of that plan for ready; those and one `show
// -json` of each plan for ready and checked, the essential work of a check
// that reads the plan its apply kept (production's plan, made once, is
// previewd's own cost); `init` and `destroy` for destroyed.
func BenchmarkFanOut(b *testing.B) {
	module, _ := filepath.Abs("testdata/module")
	p := startPreviewd(b, map[string]string{"PREVIEWD_MODULE_DIR": module, "PREVIEWD_LOG_LEVEL": "warn"})
	const n = 100
	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	for b.Loop() {
		t0 := time.Now().Add(-time.Hour)
		start := time.Now()
		load(b, n, n, func(i int) (int, error) {
			code, _ := p.send(prEvent{"opened", fmt.Sprintf("fan/%d", i), "sha", i + 1, t0})
			return code, nil
		})
		for i := range n {
			p.waitFor(fmt.Sprintf("fan-%d", i), "ready", readyAt("sha"))
		}
		ready := time.Since(start)
		for i := range n {
			p.waitFor(fmt.Sprintf("fan-%d", i), "checked", func(e apiEnvironment) bool { return e.Parity.SHA == "sha" })
		}
		checked := time.Since(start)
		start = time.Now()
		load(b, n, n, func(i int) (int, error) {
			code, _ := p.send(prEvent{"closed", fmt.Sprintf("fan/%d", i), "sha", i + 1, t0.Add(time.Minute)})
			return code, nil
		})
		for i := range n {
			p.waitFor(fmt.Sprintf("fan-%d", i), "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })
		}
		destroyed := time.Since(start)
		hand := fanOutByHand(b, module, n, 4)
		for _, f := range []benchtest.Figure{
			{Name: "fan-out 100: ready", Unit: "s", Value: ready.Seconds(),
				Floor: hand.ready.Seconds(), FloorName: "init, plan, apply by hand, 4 at a time", Goal: 1.15},
			{Name: "fan-out 100: ready and parity-checked", Unit: "s", Value: checked.Seconds(),
				Floor: (hand.ready + hand.show).Seconds(), FloorName: "the same and show -json of each plan", Goal: 1.1},
			{Name: "fan-out 100: destroyed", Unit: "s", Value: destroyed.Seconds(),
				Floor: hand.destroyed.Seconds(), FloorName: "init, destroy by hand, 4 at a time", Goal: 1.15},
		} {
			benchtest.Report(b, f)
		}
		b.ReportMetric(hand.show.Seconds(), "by-hand-show-s")
	}
	close(stop)
	sampler.Wait()
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(vmHWM())/1024, "peak-rss-MB")
}

// handFanOut is what fanOutByHand took: all ready, then one show of each
// plan, then all destroyed, each pass at the same parallelism.
type handFanOut struct {
	ready, show, destroyed time.Duration
}

// fanOutByHand is BenchmarkFanOut's floor: n copies of module applied by
// hand, par at a time, each as previewd applies it (`terraform init`, `plan
// -out=p`, `apply p`); then `show -json p` of each, par at a time, as a
// check reads the plan its apply applied; then each destroyed (`init`,
// `destroy`), as an operator's script would.
func fanOutByHand(b *testing.B, module string, n, par int) handFanOut {
	b.Helper()
	tf := terraformForTests(b)
	root := b.TempDir()
	run := func(dir string, args ...string) error {
		cmd := exec.Command(tf, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("terraform %s: %v\n%s", args[0], err, out)
		}
		return nil
	}
	pass := func(steps func(i int) [][]string) time.Duration {
		_, wall := load(b, n, par, func(i int) (int, error) {
			for _, args := range steps(i) {
				if err := run(filepath.Join(root, fmt.Sprint(i)), args...); err != nil {
					return 0, err
				}
			}
			return 200, nil
		})
		return wall
	}
	for i := range n {
		copyTree(b, module, filepath.Join(root, fmt.Sprint(i)))
	}
	vars := func(i int) []string {
		return []string{"-var", fmt.Sprintf("environment=hand-%d", i), "-var", "head_sha=sha", "-var", fmt.Sprintf("pr_number=%d", i+1)}
	}
	var hand handFanOut
	hand.ready = pass(func(i int) [][]string {
		return [][]string{{"init", "-input=false"}, append([]string{"plan", "-input=false", "-out=p"}, vars(i)...), {"apply", "-input=false", "p"}}
	})
	hand.show = pass(func(int) [][]string { return [][]string{{"show", "-json", "p"}} })
	hand.destroyed = pass(func(i int) [][]string {
		return [][]string{{"init", "-input=false"}, append([]string{"destroy", "-auto-approve", "-input=false"}, vars(i)...)}
	})
	return hand
}

// vmHWM returns this process's peak resident set in KiB (Linux).
func vmHWM() int {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			var kb int
			fmt.Sscan(f[1], &kb)
			return kb
		}
	}
	return 0
}

func copyTree(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if fi.IsDir() {
			if fi.Name() == ".terraform" || fi.Name() == ".preview-web" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.Contains(fi.Name(), ".tfstate") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, fi.Mode())
	})
	if err != nil {
		tb.Fatal(err)
	}
}
