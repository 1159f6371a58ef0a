package controller_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/store"
)

// fakeProvisioner is a Provisioner of function fields; tests that need real
// Terraform live in cmd/previewd.
type fakeProvisioner struct {
	apply   func(ctx context.Context, env preview.Environment) (string, error)
	destroy func(ctx context.Context, env preview.Environment) error
	module  func() preview.ModuleVersion // the module version an apply reports; nil: none
}

func (f *fakeProvisioner) Apply(ctx context.Context, env preview.Environment, log io.Writer) (preview.Applied, error) {
	fmt.Fprintf(log, "apply %s at %s\n", env.Name, env.HeadSHA)
	url, err := f.apply(ctx, env)
	applied := preview.Applied{URL: url, Outputs: map[string]string{"url": url}}
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

func (f *fakeGitHub) last(name string) preview.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.synced[name]
}

// testDataDir is the data directory the harness's controller is told of;
// errors naming paths under it show them relative to it.
const testDataDir = "/srv/previewd"

type harness struct {
	t    *testing.T
	db   *store.DB
	ctrl *controller.Controller
	gh   *fakeGitHub
	stop func()
	now  atomic.Pointer[time.Time]
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
		var err error
		db, err = store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
	}
	h.db = db
	now := time.Now()
	h.now.Store(&now)
	cfg := controller.Config{
		MaxConcurrentRuns: 4,
		LogDir:            filepath.Join(t.TempDir(), "logs"),
		DataDir:           testDataDir,
		RetryBase:         50 * time.Millisecond,
		SweepInterval:     20 * time.Millisecond,
		MaxAttempts:       3,
		TTL:               time.Hour,
		MaxKeep:           3 * time.Hour,
		Now:               func() time.Time { return *h.now.Load() },
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

// waitFor polls the environment until cond holds, or fails after 10s.
func (h *harness) waitFor(name string, what string, cond func(preview.Environment) bool) preview.Environment {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		env, err := h.db.FindEnvironmentByName(context.Background(), name)
		if err == nil && cond(env) {
			return env
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: timed out waiting for %s; last state %+v (err %v)", name, what, env, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readyAt(sha string) func(preview.Environment) bool {
	return func(e preview.Environment) bool { return e.Status == preview.StatusReady && e.AppliedSHA == sha }
}

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
	waitUntil(t, "comment shows destroyed", func() bool { return h.gh.last(name) == preview.StatusDestroyed })
}

func TestBurstOfPushesCostsAtMostOneExtraApply(t *testing.T) {
	var applies atomic.Int32
	release := make(chan struct{})
	var first sync.Once
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		applies.Add(1)
		first.Do(func() { <-release }) // hold the first apply while pushes arrive
		return "http://x/", nil
	}}
	h := start(t, prov, nil)
	t0 := time.Now()
	name := h.open(1, "sha0", t0)
	waitUntil(t, "first apply started", func() bool { return applies.Load() == 1 })
	for i := 1; i <= 10; i++ {
		h.open(1, fmt.Sprintf("sha%d", i), t0.Add(time.Duration(i)*time.Second))
	}
	close(release)
	h.waitFor(name, "ready at newest head", readyAt("sha10"))
	time.Sleep(100 * time.Millisecond)
	if got := applies.Load(); got != 2 {
		t.Errorf("applies: got %d, want 2 (the first and one for the newest head)", got)
	}
}

func TestOneRunPerEnvironmentAtATime(t *testing.T) {
	var running, maxRunning atomic.Int32
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		return "http://x/", nil
	}}
	h := start(t, prov, nil)
	t0 := time.Now()
	name := h.open(1, "s0", t0)
	for i := 1; i < 30; i++ {
		h.open(1, fmt.Sprintf("s%d", i), t0.Add(time.Duration(i)*time.Second))
		h.ctrl.Nudge(name)
	}
	h.waitFor(name, "ready at s29", readyAt("s29"))
	if got := maxRunning.Load(); got != 1 {
		t.Errorf("concurrent runs of one environment: got %d, want 1", got)
	}
}

func TestFailedApplyWaitsForANewPush(t *testing.T) {
	var applies atomic.Int32
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		applies.Add(1)
		if env.HeadSHA == "bad" {
			return "", errors.New("Error: exit status 3\n\nsomething broke")
		}
		return "http://x/", nil
	}}
	h := start(t, prov, nil)
	t0 := time.Now()
	name := h.open(1, "bad", t0)
	env := h.waitFor(name, "failed", func(e preview.Environment) bool { return e.Status == preview.StatusFailed })
	if env.LastError == "" {
		t.Error("failed environment has no last_error")
	}
	time.Sleep(100 * time.Millisecond) // several sweeps
	if got := applies.Load(); got != 1 {
		t.Errorf("applies after a failure: got %d, want 1 (no retry loop)", got)
	}
	h.open(1, "good", t0.Add(time.Second))
	env = h.waitFor(name, "ready after fix", readyAt("good"))
	if env.LastError != "" {
		t.Errorf("last_error after success: got %q, want empty", env.LastError)
	}
}

func TestErrorsShowNoServerPaths(t *testing.T) {
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		return "", fmt.Errorf("apply %s: fork/exec %s/envs/%s/module/bin/preview-web: argument list too long (module %s)", env.Name, testDataDir, env.Name, filepath.Join(os.TempDir(), "shop"))
	}}
	h := start(t, prov, nil)
	name := h.open(1, "sha", time.Now())
	env := h.waitFor(name, "failed", func(e preview.Environment) bool { return e.Status == preview.StatusFailed })
	want := "apply feature-1: fork/exec envs/feature-1/module/bin/preview-web: argument list too long (module …/shop)"
	if env.LastError != want {
		t.Errorf("last_error:\ngot  %q\nwant %q", env.LastError, want)
	}
	runs, err := h.db.FindRuns(context.Background(), preview.RunsOf(env))
	if err != nil || len(runs) != 1 || runs[0].Error != want {
		t.Errorf("the run's error: got %+v (err %v), want %q", runs, err, want)
	}
}

func TestFailedDestroyIsRetriedWithBackoffAndKept(t *testing.T) {
	var destroys atomic.Int32
	prov := &fakeProvisioner{
		apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil },
		destroy: func(ctx context.Context, env preview.Environment) error {
			if destroys.Add(1) <= 2 {
				return errors.New("lock timeout")
			}
			return nil
		},
	}
	h := start(t, prov, nil)
	t0 := time.Now()
	name := h.open(1, "a", t0)
	h.waitFor(name, "ready", readyAt("a"))
	h.close(1, t0.Add(time.Second))
	// Move the clock so retries come due.
	go func() {
		for i := 0; i < 200 && destroys.Load() < 3; i++ {
			next := h.now.Load().Add(time.Second)
			h.now.Store(&next)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	h.waitFor(name, "destroyed after two failures", func(e preview.Environment) bool { return e.Status == preview.StatusDestroyed })
	if got := destroys.Load(); got != 3 {
		t.Errorf("destroy attempts: got %d want 3", got)
	}
}

func TestDestroyGivesUpAfterMaxAttemptsButKeepsTheEnvironment(t *testing.T) {
	prov := &fakeProvisioner{
		apply:   func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil },
		destroy: func(ctx context.Context, env preview.Environment) error { return errors.New("permission denied") },
	}
	h := start(t, prov, nil)
	t0 := time.Now()
	name := h.open(1, "a", t0)
	h.waitFor(name, "ready", readyAt("a"))
	h.close(1, t0.Add(time.Second))
	go func() {
		for range 100 {
			next := h.now.Load().Add(time.Hour)
			h.now.Store(&next)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	env := h.waitFor(name, "three failed attempts", func(e preview.Environment) bool { return e.Attempts == 3 })
	time.Sleep(150 * time.Millisecond)
	env = h.waitFor(name, "still failed", func(e preview.Environment) bool { return e.Status == preview.StatusFailed })
	if env.Attempts != 3 || env.LastError != "permission denied" {
		t.Errorf("got attempts %d error %q, want 3 and the error", env.Attempts, env.LastError)
	}
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
	<-started
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

func TestIdleEnvironmentExpires(t *testing.T) {
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil }}
	h := start(t, prov, nil)
	t0 := time.Now()
	name := h.open(1, "a", t0)
	h.waitFor(name, "ready", readyAt("a"))
	later := t0.Add(2 * time.Hour) // TTL is 1h
	h.now.Store(&later)
	env := h.waitFor(name, "destroyed on expiry", func(e preview.Environment) bool { return e.Status == preview.StatusDestroyed })
	if env.Desired.Reason != "expired" {
		t.Errorf("reason: got %q want expired", env.Desired.Reason)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTransientApplyFailureIsRetried(t *testing.T) {
	var applies atomic.Int32
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		if applies.Add(1) <= 2 {
			return "", errors.New("Error: Error acquiring the state lock: ConditionalCheckFailedException")
		}
		return "http://x/", nil
	}}
	h := start(t, prov, nil)
	name := h.open(1, "a", time.Now())
	go func() {
		for i := 0; i < 200 && applies.Load() < 3; i++ {
			next := h.now.Load().Add(time.Second)
			h.now.Store(&next)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	env := h.waitFor(name, "ready after two transient failures", readyAt("a"))
	if env.Attempts != 0 || env.Transient || env.LastError != "" {
		t.Errorf("after success: attempts %d transient %v error %q, want all cleared", env.Attempts, env.Transient, env.LastError)
	}
}

func TestPinnedEnvironmentLastsUntilMaxKeep(t *testing.T) {
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil }}
	h := start(t, prov, nil)
	t0 := time.Now()
	res, err := h.db.RecordPullRequest(context.Background(), "", preview.PullRequest{
		Repo: "acme/shop", Number: 1, Open: true, HeadSHA: "a", Branch: "keep", UpdatedAt: t0, Labels: []string{"preview:keep"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.ctrl.Nudge(res.Environment.Name)
	h.waitFor("keep", "ready", readyAt("a"))
	later := t0.Add(2 * time.Hour) // past the 1h TTL, within the 3h max keep
	h.now.Store(&later)
	time.Sleep(100 * time.Millisecond) // several sweeps
	if env, _ := h.db.FindEnvironmentByName(context.Background(), "keep"); !env.Desired.Present {
		t.Fatalf("pinned environment expired after 2h; want it kept until 3h")
	}
	muchLater := t0.Add(4 * time.Hour)
	h.now.Store(&muchLater)
	h.waitFor("keep", "destroyed after max keep", func(e preview.Environment) bool { return e.Status == preview.StatusDestroyed })
}
