package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// readCountingStore counts the reads of every environment.
type readCountingStore struct {
	serviceStore
	reads atomic.Int64
}

func (s *readCountingStore) FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error) {
	s.reads.Add(1)
	return s.serviceStore.FindEnvironments(ctx, filter)
}

func (s *readCountingStore) ScanEnvironments(ctx context.Context, filter preview.EnvironmentFilter, fn func(string, []byte) error) (string, error) {
	s.reads.Add(1)
	return s.serviceStore.ScanEnvironments(ctx, filter, fn)
}

// testClock is a clock tests move.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestEnvironmentGaugesFollowWrites reads the environments once, then
// changes them through the store as the service does: every scrape shows
// the change, including the hours live environments spend meanwhile and a
// new month starting, without reading the store again.
func TestEnvironmentGaugesFollowWrites(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{t: time.Date(2026, 3, 31, 20, 0, 0, 0, time.UTC)}
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: 72 * time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	counted := &readCountingStore{serviceStore: db}
	priced := preview.Pricing{Repos: map[string]preview.Price{"acme/shop": {Hourly: 2, Currency: "€"}}}
	record := func(s serviceStore, repo string, number int) string {
		t.Helper()
		res, err := s.RecordPullRequest(ctx, "", preview.PullRequest{Repo: repo, Number: number, Open: true,
			HeadSHA: "abc", Branch: "feature/" + repo[5:] + string(rune('a'+number)), UpdatedAt: clock.Now(), Author: "octocat"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Environment.Name
	}
	update := func(s serviceStore, name string, fn func(e *preview.Environment)) {
		t.Helper()
		if _, err := s.UpdateEnvironment(ctx, name, func(e *preview.Environment) error { fn(e); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// Before start-up: a live shop environment (applied an hour ago), one
	// destroyed after 3 hours this month, and a failed one of a repository
	// without a price.
	live := record(db, "acme/shop", 1)
	update(db, live, func(e *preview.Environment) {
		e.Status, e.LiveSince = preview.StatusReady, clock.Now().Add(-time.Hour)
	})
	gone := record(db, "acme/shop", 2)
	update(db, gone, func(e *preview.Environment) {
		e.LiveSince = clock.Now().Add(-5 * time.Hour)
		e.Destroyed(clock.Now().Add(-2 * time.Hour))
		e.Status = preview.StatusDestroyed
	})
	failed := record(db, "acme/blog", 3)
	update(db, failed, func(e *preview.Environment) { e.Status, e.LastPhase = preview.StatusFailed, preview.PhaseApply })

	gauges := server.NewEnvironmentGauges(priced, clock.Now)
	if err := gauges.Load(ctx, counted); err != nil {
		t.Fatal(err)
	}
	observed := observedStore{serviceStore: counted, gauges: gauges}
	reg := prometheus.NewRegistry()
	reg.MustRegister(gauges)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	type want struct {
		status            map[preview.Status]float64
		parityOK, failing float64
		hours, cost       float64
	}
	check := func(when string, w want) {
		t.Helper()
		families := scrapeURL(t, srv.URL+"/metrics")
		for _, s := range preview.Statuses {
			if got := sample(families, "previewd_environments", map[string]string{"status": string(s)}); got != w.status[s] {
				t.Errorf("%s: previewd_environments{status=%q}: got %v, want %v", when, s, got, w.status[s])
			}
		}
		if got := sample(families, "previewd_environments_parity", map[string]string{"verdict": "unchecked"}); got != w.parityOK {
			t.Errorf("%s: ready environments unchecked: got %v, want %v", when, got, w.parityOK)
		}
		if got := sample(families, "previewd_environments_failing", map[string]string{"phase": "apply"}); got != w.failing {
			t.Errorf("%s: failing applies: got %v, want %v", when, got, w.failing)
		}
		if got := sample(families, "previewd_environment_hours", map[string]string{"repo": "acme/shop"}); got != w.hours {
			t.Errorf("%s: acme/shop's hours: got %v, want %v", when, got, w.hours)
		}
		if got := sample(families, "previewd_estimated_cost", map[string]string{"repo": "acme/shop", "currency": "€"}); got != w.cost {
			t.Errorf("%s: acme/shop's cost: got %v, want %v", when, got, w.cost)
		}
		if families["previewd_environment_hours"] != nil && len(families["previewd_environment_hours"].GetMetric()) != 1 {
			t.Errorf("%s: hours of repositories without a price: %v", when, families["previewd_environment_hours"])
		}
	}
	st := func(kv ...any) map[preview.Status]float64 {
		out := map[preview.Status]float64{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(preview.Status)] = float64(kv[i+1].(int))
		}
		return out
	}

	check("at start-up", want{st(preview.StatusReady, 1, preview.StatusDestroyed, 1, preview.StatusFailed, 1), 1, 1, 4, 8})
	clock.Add(30 * time.Minute)
	check("half an hour later", want{st(preview.StatusReady, 1, preview.StatusDestroyed, 1, preview.StatusFailed, 1), 1, 1, 4.5, 9})

	added := record(observed, "acme/shop", 4)
	check("a new pull request", want{st(preview.StatusQueued, 1, preview.StatusReady, 1, preview.StatusDestroyed, 1, preview.StatusFailed, 1), 1, 1, 4.5, 9})
	update(observed, live, func(e *preview.Environment) { e.Destroyed(clock.Now()); e.Status = preview.StatusDestroyed })
	update(observed, failed, func(e *preview.Environment) { e.Status = preview.StatusQueued })
	clock.Add(time.Hour)
	check("the live one destroyed, the failed one queued, an hour later", want{st(preview.StatusQueued, 2, preview.StatusDestroyed, 2), 0, 0, 4.5, 9})

	update(observed, added, func(e *preview.Environment) { e.Applied(clock.Now()); e.Status = preview.StatusReady })
	clock.Add(2 * time.Hour)
	check("a new one live for two hours", want{st(preview.StatusQueued, 1, preview.StatusReady, 1, preview.StatusDestroyed, 2), 1, 0, 6.5, 13})

	clock.Add(24 * time.Hour) // 2026-04-01T23:30Z: April holds the live one's hours since midnight
	check("in a new month", want{st(preview.StatusQueued, 1, preview.StatusReady, 1, preview.StatusDestroyed, 2), 1, 0, 23.5, 47})

	if n := counted.reads.Load(); n != 1 {
		t.Errorf("the environments were read %d times, want once (at start-up): a scrape must not read them", n)
	}
}

// TestMetricsListenAddrAndToken runs previewd with metrics_listen_addr and
// metrics_token: /metrics is served on that address alone, to a scrape
// with the token.
func TestMetricsListenAddrAndToken(t *testing.T) {
	const metricsToken = "metrics-token-5d1c7e9a3b2f4d6e8a0c1b3d5f7e9a2c"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	module, _ := filepath.Abs("testdata/module")
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": module,
		"PREVIEWD_METRICS_LISTEN_ADDR": addr, "PREVIEWD_METRICS_TOKEN": metricsToken})
	waitHTTP(t, p.base+"/readyz")
	get := func(url, bearer string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := get(p.base+"/metrics", metricsToken); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on listen_addr: got %d, want 404", resp.StatusCode)
	}
	for _, bearer := range []string{"", testToken} {
		if resp := get("http://"+addr+"/metrics", bearer); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a scrape with %q: got %d, want 401", bearer, resp.StatusCode)
		}
	}
	resp := get("http://"+addr+"/metrics", metricsToken)
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if resp.StatusCode != http.StatusOK || err != nil || families["previewd_environments"] == nil {
		t.Errorf("a scrape with the token: got %d, %v, %d families", resp.StatusCode, err, len(families))
	}
}

// scrapeURL reads the metrics at url.
func scrapeURL(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return families
}
