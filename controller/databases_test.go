package controller_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
)

// fakeDatabases watches the database an environment's outputs name
// ("database_url"), as the migrations setting does: none before its first
// apply made it.
type fakeDatabases struct {
	mu      sync.Mutex
	settle  time.Duration
	started []string // "sha" of each watch started
	stopped []string
	fail    error
}

type fakeWatch struct {
	d   *fakeDatabases
	sha string
}

func (w *fakeWatch) Stop() preview.DatabaseReport {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	w.d.stopped = append(w.d.stopped, w.sha)
	return preview.DatabaseReport{Watched: true, Samples: 3, Holds: []preview.LockHold{{Relation: "orders", Statement: "CREATE INDEX i ON orders (t)",
		BlockedWrites: 6 * time.Second, Rows: 200}}}
}

func (f *fakeDatabases) Watch(ctx context.Context, env preview.Environment) (controller.DatabaseWatch, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, true, f.fail
	}
	if env.Outputs["database_url"] == "" {
		return nil, true, nil // not made yet
	}
	f.started = append(f.started, env.HeadSHA)
	return &fakeWatch{d: f, sha: env.HeadSHA}, true, nil
}

func (f *fakeDatabases) Settle(string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settle
}

func (f *fakeDatabases) Judge(ctx context.Context, repo string, r preview.DatabaseReport) preview.DatabaseReport {
	r.Verdict = r.Judge(preview.MigrationLimits{MaxWriteBlock: 5 * time.Second, MinShare: 0.1})
	return r
}

func (f *fakeDatabases) seen() (started, stopped []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.started...), append([]string(nil), f.stopped...)
}

func startWatched(t *testing.T, dbs *fakeDatabases) *harness {
	t.Helper()
	prov := &fakeProvisioner{outputs: map[string]string{"database_url": "(sensitive)"},
		apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil }}
	return startWith(t, prov, nil, func(c *controller.Config) { c.Databases = dbs })
}

// TestDatabaseWatchedAsTheEnvironmentComesUp: the first apply makes the
// database, so its watch starts once the apply is done; a push's apply is
// watched from its start. A newer apply ends the older watch at once; each
// report is judged and stored with the commit it watched.
func TestDatabaseWatchedAsTheEnvironmentComesUp(t *testing.T) {
	dbs := &fakeDatabases{}
	h := startWatched(t, dbs)
	t0 := time.Now()
	name := h.open(1, "a", t0)
	env := h.waitFor(name, "the database report of a", func(e preview.Environment) bool { return e.Database.SHA == "a" })
	if !env.Database.Watched || env.Database.Verdict.Status != preview.DatabaseFailure || len(env.Database.Holds) != 1 {
		t.Errorf("report: %+v, want watched, failing on the index's 6 s", env.Database)
	}
	if started, stopped := dbs.seen(); len(started) != 1 || len(stopped) != 1 {
		t.Errorf("watches started %v stopped %v, want one each (after the first apply)", started, stopped)
	}

	dbs.mu.Lock()
	dbs.settle = time.Hour // the next watch goes on until something ends it
	dbs.mu.Unlock()
	h.open(1, "b", t0.Add(time.Second))
	h.waitFor(name, "ready at b", readyAt("b"))
	h.open(1, "c", t0.Add(2*time.Second))
	env = h.waitFor(name, "the report of b, ended by c's apply", func(e preview.Environment) bool { return e.Database.SHA == "b" })
	started, stopped := dbs.seen()
	if len(started) < 3 || started[1] != "b" || len(stopped) < 2 || stopped[1] != "b" {
		t.Errorf("watches started %v stopped %v, want b's started before its apply and ended by c's", started, stopped)
	}
	h.stop() // ends c's watch: what it saw is kept
	env, _ = h.db.FindEnvironmentByName(context.Background(), name)
	if env.Database.SHA != "c" {
		t.Errorf("after the controller stopped: report of %q, want c's, stored as it stopped", env.Database.SHA)
	}
}

// TestDatabaseThatCannotBeWatched: a database that does not answer is
// reported as not watched, and why; the environment is ready all the same.
func TestDatabaseThatCannotBeWatched(t *testing.T) {
	h := startWatched(t, &fakeDatabases{fail: errors.New("connect to the database: connection refused")})
	name := h.open(1, "a", time.Now())
	env := h.waitFor(name, "the report", func(e preview.Environment) bool { return e.Database.Verdict.Status != "" })
	if env.Status != preview.StatusReady || env.Database.Watched || env.Database.Verdict.Status != preview.DatabaseUnwatched ||
		env.Database.Why != "connect to the database: connection refused" {
		t.Errorf("env %s, report %+v; want ready, unwatched saying why", env.Status, env.Database)
	}
}
