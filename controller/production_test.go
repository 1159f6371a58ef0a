package controller_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/store"
)

// fakeProduction stands in for Terraform's read-only look at production
// (the provisioner's own tests run the real one): it returns the findings
// set, or fails, and counts its looks and how many ran at once.
type fakeProduction struct {
	mu       sync.Mutex
	findings []preview.ProductionFinding
	fail     string
	looks    map[string]int
	running  atomic.Int32
	most     atomic.Int32
	hold     chan struct{} // when set, each look waits on it
}

func (f *fakeProduction) Watched() map[string]time.Duration {
	return map[string]time.Duration{"acme/shop": time.Hour, "acme/blog": time.Hour, "acme/off": 0}
}

func (f *fakeProduction) Watch(ctx context.Context, repo string) preview.ProductionWatch {
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for m := f.most.Load(); n > m && !f.most.CompareAndSwap(m, n); m = f.most.Load() {
	}
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.looks == nil {
		f.looks = map[string]int{}
	}
	f.looks[repo]++
	return preview.ProductionWatch{At: time.Now().UTC(), Error: f.fail, Findings: append([]preview.ProductionFinding(nil), f.findings...)}
}

func (f *fakeProduction) count(repo string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.looks[repo]
}

// fakeIssues records the watches synced to issues, and numbers the issue.
type fakeIssues struct {
	mu     sync.Mutex
	synced []preview.ProductionWatch
}

func (f *fakeIssues) SyncProductionIssue(_ context.Context, w preview.ProductionWatch) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.synced = append(f.synced, w)
	if w.Issue == 0 && w.Drifted() {
		return 7, nil
	}
	return w.Issue, nil
}

// TestProductionIsWatched: each watched repository is looked at once its
// interval has passed since its last stored watch (at start, then not
// again within the hour), one at a time; a repository with no interval
// only when asked; each look is stored with the issue number carried from
// the last; a failed look is stored with why and never synced to its
// issue.
func TestProductionIsWatched(t *testing.T) {
	prod := &fakeProduction{findings: []preview.ProductionFinding{{Kind: preview.ProductionChangedOutside, Address: "pg_role.app", Path: "connection_limit", Live: "400", Module: "200"}}}
	issues := &fakeIssues{}
	db := openStore(t)
	h := startWith(t, &fakeProvisioner{}, db, func(c *controller.Config) {
		c.Production = controller.ProductionConfig{Watcher: prod, Store: db, Issues: issues}
	})
	ctx := context.Background()
	watches := func(repo string) []preview.ProductionWatch {
		ws, err := db.FindProductionWatches(ctx, preview.ProductionWatchFilter{Repo: repo})
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
	waittest.Until(t, "both watched repositories looked at", func() bool { return len(watches("acme/shop")) == 1 && len(watches("acme/blog")) == 1 })
	h.waitPasses("production", 3)
	if n := prod.count("acme/shop"); n != 1 || prod.count("acme/off") != 0 || prod.most.Load() != 1 {
		t.Errorf("looks at acme/shop %d (want 1 within the hour), at acme/off %d (want 0), at most %d at once (want 1)", n, prod.count("acme/off"), prod.most.Load())
	}
	if w := watches("acme/shop")[0]; w.Repo != "acme/shop" || w.Issue != 7 || !w.Drifted() {
		t.Errorf("stored watch %+v, want acme/shop's, drifted, with issue 7", w)
	}

	// An hour later, a failing look: stored with why, its issue untouched.
	later := time.Now().Add(61 * time.Minute)
	h.now.Store(&later)
	prod.mu.Lock()
	prod.fail = "terraform init: the backend did not answer"
	prod.mu.Unlock()
	issues.mu.Lock()
	synced := len(issues.synced)
	issues.mu.Unlock()
	waittest.Until(t, "a second look at acme/shop", func() bool { return len(watches("acme/shop")) == 2 })
	if w := watches("acme/shop")[0]; !w.Failed() || w.Issue != 7 || w.Drifted() {
		t.Errorf("failed watch stored as %+v, want the error and issue 7 kept", w)
	}
	h.waitPasses("production", 2)
	issues.mu.Lock()
	if len(issues.synced) != synced {
		t.Errorf("a failed look was synced to the issue: %+v", issues.synced[synced:])
	}
	issues.mu.Unlock()

	// A repository without an interval is looked at when asked.
	h.ctrl.WatchProduction("acme/off")
	waittest.Until(t, "acme/off looked at when asked", func() bool { return len(watches("acme/off")) == 1 })
}

// TestProductionWatchTakesARunSlot: a watch holds one of the run slots,
// so with one slot an apply waits for it.
func TestProductionWatchTakesARunSlot(t *testing.T) {
	prod := &fakeProduction{hold: make(chan struct{})}
	db := openStore(t)
	prov := &fakeProvisioner{apply: func(context.Context, preview.Environment) (string, error) { return "https://x.test/", nil }}
	h := startWith(t, prov, db, func(c *controller.Config) {
		c.Runs.MaxConcurrent = 1
		c.Production = controller.ProductionConfig{Watcher: prod, Store: db}
	})
	waittest.Until(t, "a watch running", func() bool { return prod.running.Load() == 1 })
	name := h.open(1, "sha", time.Now())
	h.waitPasses("runs", 2)
	if env, _ := db.FindEnvironmentByName(context.Background(), name); env.Status == preview.StatusReady {
		t.Fatal("an apply ran while the only run slot was the watch's")
	}
	close(prod.hold)
	h.waitFor(name, "ready once the watch is done", isReady)
}

// openStore opens a bbolt store for a test, closed when it ends.
func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour, MaxKeep: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
