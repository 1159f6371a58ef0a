package controller_test

import (
	"context"
	"fmt"
	"io"
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

// fakeProvisioner is a Provisioner of function fields; tests that need real
// Terraform live in cmd/previewd.
type fakeProvisioner struct {
	apply   func(ctx context.Context, env preview.Environment) (string, error)
	destroy func(ctx context.Context, env preview.Environment) error
	module  func() preview.ModuleVersion // the module version an apply reports; nil: none
	outputs map[string]string            // more outputs an apply reports
}

func (f *fakeProvisioner) Apply(ctx context.Context, env preview.Environment, log io.Writer) (preview.Applied, error) {
	fmt.Fprintf(log, "apply %s at %s\n", env.Name, env.HeadSHA)
	url, err := f.apply(ctx, env)
	applied := preview.Applied{URL: url, Outputs: map[string]string{"url": url}}
	for k, v := range f.outputs {
		applied.Outputs[k] = v
	}
	if f.module != nil {
		applied.Module = f.module()
	}
	return applied, err
}

func (f *fakeProvisioner) Destroy(ctx context.Context, env preview.Environment, log io.Writer) error {
	if f.destroy == nil {
		return nil
	}
	return f.destroy(ctx, env)
}

type fakeGitHub struct {
	mu     sync.Mutex
	synced map[string]preview.Status
}

func (f *fakeGitHub) SyncComment(ctx context.Context, env preview.Environment) (preview.Comment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.synced == nil {
		f.synced = map[string]preview.Status{}
	}
	f.synced[env.Name] = env.Status
	return preview.Comment{ID: 1, Body: string(env.Status)}, nil
}

func (f *fakeGitHub) SyncDeployment(ctx context.Context, env preview.Environment) (preview.Deployment, error) {
	return preview.Deployment{ID: 1, SHA: env.HeadSHA, State: string(env.Status)}, nil
}

func (f *fakeGitHub) SyncCommitStatus(ctx context.Context, env preview.Environment) (preview.CommitStatus, error) {
	return preview.CommitStatus{SHA: env.HeadSHA, State: string(env.Status)}, nil
}

func (f *fakeGitHub) SyncParityStatus(ctx context.Context, env preview.Environment) (preview.CommitStatus, error) {
	return preview.CommitStatus{SHA: env.Parity.SHA, State: string(env.Parity.Status)}, nil
}

func (f *fakeGitHub) SyncDatabaseStatus(ctx context.Context, env preview.Environment) (preview.CommitStatus, error) {
	return preview.CommitStatus{SHA: env.Database.SHA, State: env.Database.Verdict.Status}, nil
}

func (f *fakeGitHub) last(name string) preview.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.synced[name]
}

// testDataDir is the data directory the harness's controller is told of;
// errors naming paths under it show them relative to it.
const testDataDir = "/srv/previewd"

type harness struct {
	t      *testing.T
	db     *store.DB
	ctrl   *controller.Controller
	gh     *fakeGitHub
	stop   func()
	now    atomic.Pointer[time.Time]
	passes passCounter
}

// passCounter counts the scheduled passes each service finished
// (controller.Config.Passed).
type passCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (p *passCounter) passed(service string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == nil {
		p.n = map[string]int{}
	}
	p.n[service]++
}

func (p *passCounter) count(service string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[service]
}

func start(t *testing.T, prov *fakeProvisioner, db *store.DB) *harness {
	t.Helper()
	return startWith(t, prov, db, nil)
}

// startWith is start with configure applied to the controller's Config.
func startWith(t *testing.T, prov *fakeProvisioner, db *store.DB, configure func(*controller.Config)) *harness {
	t.Helper()
	h := &harness{t: t, gh: &fakeGitHub{}}
	if db == nil {
		db = openStore(t)
	}
	h.db = db
	now := time.Now()
	h.now.Store(&now)
	cfg := controller.Config{
		Runs: controller.RunsConfig{
			MaxConcurrent: 4,
			LogDir:        filepath.Join(t.TempDir(), "logs"),
			DataDir:       testDataDir,
			RetryBase:     50 * time.Millisecond,
			MaxAttempts:   3,
		},
		Expiry:        controller.ExpiryConfig{TTL: time.Hour, MaxKeep: 3 * time.Hour},
		SweepInterval: 20 * time.Millisecond,
		Now:           func() time.Time { return *h.now.Load() },
		Passed:        h.passes.passed,
	}
	if configure != nil {
		configure(&cfg)
	}
	h.ctrl = controller.New(db, prov, h.gh, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.ctrl.Run(ctx) }()
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller run: %v", err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			h.stop()
		}
	})
	return h
}

func (h *harness) open(number int, sha string, at time.Time) string {
	h.t.Helper()
	res, err := h.db.RecordPullRequest(context.Background(), "", preview.PullRequest{
		Repo: "acme/shop", Number: number, Open: true, HeadSHA: sha, Branch: fmt.Sprintf("feature/%d", number), UpdatedAt: at,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.ctrl.Nudge(res.Environment.Name)
	return res.Environment.Name
}

func (h *harness) close(number int, at time.Time) {
	h.t.Helper()
	res, err := h.db.RecordPullRequest(context.Background(), "", preview.PullRequest{
		Repo: "acme/shop", Number: number, Open: false, Branch: fmt.Sprintf("feature/%d", number), UpdatedAt: at,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.ctrl.Nudge(res.Environment.Name)
}

// found is an environment as read from the store, or why it could not be.
type found struct {
	Env preview.Environment
	Err error
}

// waitFor reads the environment until cond holds of it, and returns it.
func (h *harness) waitFor(name string, what string, cond func(preview.Environment) bool) preview.Environment {
	h.t.Helper()
	read := func() found {
		env, err := h.db.FindEnvironmentByName(context.Background(), name)
		return found{env, err}
	}
	return waittest.For(h.t, name+": "+what, read, func(f found) bool { return f.Err == nil && cond(f.Env) }).Env
}

// waitPasses waits until service has finished n more scheduled passes:
// with n of 2 or more, one of them started after the call.
func (h *harness) waitPasses(service string, n int) {
	h.t.Helper()
	from := h.passes.count(service)
	waittest.For(h.t, fmt.Sprintf("%d more %s passes", n, service), func() int { return h.passes.count(service) - from },
		func(done int) bool { return done >= n })
}

// settle waits for proof that the run loop moved past what the store held
// at the call: a sweep that started after it finished, and every
// environment it (or anything else) queued was served. A run the
// controller would have started by then has started.
func (h *harness) settle() {
	h.t.Helper()
	h.waitPasses("runs", 2)
	waittest.Until(h.t, "the run loop idle", h.ctrl.RunsIdle)
}

func readyAt(sha string) func(preview.Environment) bool {
	return func(e preview.Environment) bool { return e.Status == preview.StatusReady && e.AppliedSHA == sha }
}

func isReady(e preview.Environment) bool { return e.Status == preview.StatusReady }

func isDestroyed(e preview.Environment) bool { return e.Status == preview.StatusDestroyed }

func isPinned(e preview.Environment) bool { return e.Desired.Pinned }

func TestLifecycle(t *testing.T) {
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		return "http://" + env.Name + ".preview.test/", nil
	}}
	h := start(t, prov, nil)
	t0 := time.Now()
	name := h.open(1, "aaa", t0)
	env := h.waitFor(name, "ready", readyAt("aaa"))
	if env.URL != "http://feature-1.preview.test/" {
		t.Errorf("url: got %q", env.URL)
	}
	h.open(1, "bbb", t0.Add(time.Second))
	h.waitFor(name, "ready at bbb", readyAt("bbb"))
	h.close(1, t0.Add(2*time.Second))
	env = h.waitFor(name, "destroyed", func(e preview.Environment) bool { return e.Status == preview.StatusDestroyed })
	if env.URL != "" {
		t.Errorf("destroyed environment keeps url %q", env.URL)
	}
	runs, _ := h.db.FindRuns(context.Background(), preview.RunsOf(env))
	if len(runs) != 3 || runs[2].Phase != preview.PhaseDestroy || runs[2].State != preview.RunSucceeded {
		t.Errorf("journal: got %+v, want apply, apply, destroy all succeeded", runs)
	}
	waittest.For(t, "comment shows destroyed", func() preview.Status { return h.gh.last(name) }, func(s preview.Status) bool { return s == preview.StatusDestroyed })
}

func TestShutdownInterruptsAndRestartResumes(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	slow := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		once.Do(func() { close(started) })
		<-ctx.Done() // Terraform would receive SIGINT here
		return "", ctx.Err()
	}}
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := start(t, slow, db)
	name := h.open(1, "a", time.Now())
	waittest.Recv(t, "the apply started", started)
	h.stop()
	env, _ := db.FindEnvironmentByName(context.Background(), name)
	runs, _ := db.FindRuns(context.Background(), preview.RunsOf(env))
	if env.Status != preview.StatusQueued || len(runs) != 1 || runs[0].State != preview.RunInterrupted {
		t.Fatalf("after shutdown: status %s runs %+v; want queued and one interrupted run", env.Status, runs)
	}
	fast := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil }}
	h2 := start(t, fast, db)
	h2.waitFor(name, "ready after restart", readyAt("a"))
}

func TestRecoverMarksRunsLeftRunningInterrupted(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	res, _ := db.RecordPullRequest(ctx, "", preview.PullRequest{Repo: "acme/shop", Number: 1, Open: true, HeadSHA: "a", Branch: "b", UpdatedAt: time.Now()})
	// What a kill -9 mid-apply leaves behind.
	db.UpdateEnvironment(ctx, res.Environment.Name, func(e *preview.Environment) error {
		e.Status, e.AttemptedSHA = preview.StatusProvisioning, "a"
		return nil
	})
	crashed, _ := db.CreateRun(ctx, preview.Run{Environment: res.Environment.Name, Phase: preview.PhaseApply, State: preview.RunRunning})
	h := start(t, &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil }}, db)
	h.waitFor(res.Environment.Name, "ready", readyAt("a"))
	got, _ := db.FindRunByID(ctx, crashed.ID)
	if got.State != preview.RunInterrupted {
		t.Errorf("crashed run: got %s want interrupted", got.State)
	}
}

// unfilteredReads is a store that counts the reads of every environment.
type unfilteredReads struct {
	*store.DB
	n atomic.Int64
}

func (s *unfilteredReads) FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error) {
	if filter == (preview.EnvironmentFilter{}) {
		s.n.Add(1)
	}
	return s.DB.FindEnvironments(ctx, filter)
}

// TestRecoverFromTheCallersRead: given every environment as the caller
// read them at start-up (RecoverFrom), Run's recovery takes them up (a
// destroyed one's pull request is written, which only the recovery
// queues) without reading every environment again.
func TestRecoverFromTheCallersRead(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	res, err := db.RecordPullRequest(ctx, "", preview.PullRequest{Repo: "acme/shop", Number: 1, Open: true, HeadSHA: "a", Branch: "b", UpdatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	name := res.Environment.Name
	if _, err := db.UpdateEnvironment(ctx, name, func(e *preview.Environment) error {
		e.Status, e.Desired.Present = preview.StatusDestroyed, false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	envs, err := db.FindEnvironments(ctx, preview.EnvironmentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	reads, gh := &unfilteredReads{DB: db}, &fakeGitHub{}
	ctrl := controller.New(reads, &fakeProvisioner{}, gh, controller.Config{
		Runs:   controller.RunsConfig{LogDir: t.TempDir(), DataDir: testDataDir},
		Expiry: controller.ExpiryConfig{TTL: time.Hour, MaxKeep: 3 * time.Hour},
	})
	ctrl.RecoverFrom(envs)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	waittest.For(t, name+"'s pull request written", func() preview.Status {
		gh.mu.Lock()
		defer gh.mu.Unlock()
		return gh.synced[name]
	}, func(s preview.Status) bool { return s == preview.StatusDestroyed })
	if n := reads.n.Load(); n != 0 {
		t.Errorf("every environment was read %d times after the caller's read, want none", n)
	}
}
