package controller_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/store"
)

// fakePullRequests is GitHub's pull-request list as a table.
type fakePullRequests struct {
	mu      sync.Mutex
	prs     map[int]preview.PullRequest
	listErr error
	lists   int
}

func (f *fakePullRequests) ListOpenPullRequests(ctx context.Context, repo string) ([]preview.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []preview.PullRequest
	for _, pr := range f.prs {
		if pr.Open {
			out = append(out, pr)
		}
	}
	return out, nil
}

func (f *fakePullRequests) GetPullRequest(ctx context.Context, repo string, number int) (preview.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pr, ok := f.prs[number]
	if !ok {
		return pr, preview.Errorf(preview.ENOTFOUND, "no pull request %d", number)
	}
	return pr, nil
}

func (f *fakePullRequests) listCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func ghPR(number int, sha string, open bool, at time.Time) preview.PullRequest {
	return preview.PullRequest{Repo: "acme/shop", Number: number, Open: open, HeadSHA: sha, Branch: "b" + sha, UpdatedAt: at}
}

// resyncHarness is a controller whose resync reads a fake GitHub, on a
// store that already holds what previewd knew before it went down. The
// test steps resync: once a pass has finished, resync waits until the
// test asks for the next one (pass), or lets passes run free (runFree).
type resyncHarness struct {
	t        *testing.T
	db       *store.DB
	ctrl     *controller.Controller
	passes   chan chan struct{} // a finished pass, and what resumes resync
	held     chan struct{}      // resumes the pass the test holds; nil: none
	free     chan struct{}
	freeOnce sync.Once
}

func startResync(t *testing.T, gh *fakePullRequests, configure func(*controller.ResyncConfig), known ...preview.PullRequest) *resyncHarness {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, pr := range known {
		if _, err := db.RecordPullRequest(context.Background(), "", pr); err != nil {
			t.Fatal(err)
		}
	}
	h := &resyncHarness{t: t, db: db, passes: make(chan chan struct{}), free: make(chan struct{})}
	resync := controller.ResyncConfig{PullRequests: gh, Interval: 30 * time.Millisecond, MaxDestroys: 2,
		Repos: func(context.Context) ([]string, error) { return []string{"acme/shop"}, nil }}
	if configure != nil {
		configure(&resync)
	}
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil }}
	h.ctrl = controller.New(db, prov, &fakeGitHub{}, controller.Config{
		Runs:   controller.RunsConfig{LogDir: t.TempDir()},
		Resync: resync,
		Passed: func(service string) {
			if service != "resync" {
				return
			}
			resume := make(chan struct{})
			select {
			case h.passes <- resume:
				select {
				case <-resume:
				case <-h.free:
				}
			case <-h.free:
			}
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.ctrl.Run(ctx); close(done) }()
	t.Cleanup(func() { h.runFree(); cancel(); <-done })
	return h
}

// pass lets resync go on and waits until its next pass has finished;
// resync then waits for the test again: nothing it does changes the store
// until pass or runFree is called.
func (h *resyncHarness) pass() {
	h.t.Helper()
	if h.held != nil {
		close(h.held)
	}
	h.held = waittest.Recv(h.t, "a resync pass", h.passes)
}

// runFree lets resync passes run without waiting for the test.
func (h *resyncHarness) runFree() { h.freeOnce.Do(func() { close(h.free) }) }

func (h *resyncHarness) get(name string) preview.Environment {
	env, _ := h.db.FindEnvironmentByName(context.Background(), name)
	return env
}

// waitEnv reads the named environment until cond holds of it.
func (h *resyncHarness) waitEnv(name, what string, cond func(preview.Environment) bool) {
	h.t.Helper()
	waittest.For(h.t, name+": "+what, func() preview.Environment { return h.get(name) }, cond)
}

func TestResyncHealsMissedEvents(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	gh := &fakePullRequests{prs: map[int]preview.PullRequest{
		1: ghPR(1, "a", false, t0.Add(time.Minute)), // closed while previewd was down
		2: ghPR(2, "b", true, t0),                   // opened during the outage
	}}
	h := startResync(t, gh, nil, ghPR(1, "a", true, t0))
	h.runFree()
	h.waitEnv("ba", "torn down", isDestroyed)
	h.waitEnv("bb", "built", isReady)
	runs, _ := h.db.FindRuns(context.Background(), preview.RunsOf(h.get("ba")))
	if len(runs) == 0 || runs[len(runs)-1].Phase != preview.PhaseDestroy || runs[len(runs)-1].State != preview.RunSucceeded {
		t.Errorf("pull request 1: got runs %+v, want a successful destroy last", runs)
	}
}

func TestResyncNeverDestroysOnAnErrorOrWithoutConfirmation(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	gh := &fakePullRequests{prs: map[int]preview.PullRequest{}, listErr: errors.New("502 Bad Gateway")}
	h := startResync(t, gh, nil, ghPR(1, "a", true, t0), ghPR(2, "b", true, t0))
	h.waitEnv("ba", "ready", isReady)
	h.waitEnv("bb", "ready", isReady)
	for range 3 {
		h.pass()
	}
	// An empty list, but GitHub still says each pull request is open.
	// The three passes that follow see it.
	gh.mu.Lock()
	gh.listErr = nil
	gh.prs[1], gh.prs[2] = ghPR(1, "a", true, t0), ghPR(2, "b", true, t0)
	gh.mu.Unlock()
	for range 3 {
		h.pass()
	}
	waittest.Until(t, "the run loop idle", h.ctrl.RunsIdle) // a destroy the passes asked for has begun
	if h.get("ba").Status != preview.StatusReady || h.get("bb").Status != preview.StatusReady {
		t.Errorf("an environment was destroyed without GitHub confirming its pull request closed")
	}
}

func TestResyncCapsDestroysPerPass(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	gh := &fakePullRequests{prs: map[int]preview.PullRequest{}}
	var known []preview.PullRequest
	for i := 1; i <= 5; i++ {
		known = append(known, ghPR(i, string(rune('a'+i)), true, t0))
		gh.prs[i] = ghPR(i, string(rune('a'+i)), false, t0.Add(time.Minute))
	}
	h := startResync(t, gh, nil, known...)
	// After the first pass (the next waits for the test), at most two
	// are on their way down.
	h.pass()
	envs, _ := h.db.FindEnvironments(context.Background(), preview.EnvironmentFilter{})
	down := 0
	for _, e := range envs {
		if !e.Desired.Present {
			down++
		}
	}
	if down > 2 {
		t.Errorf("first pass: %d environments taken down, want at most 2", down)
	}
	h.runFree()
	waittest.For(t, "all torn down over several passes", func() []preview.Environment {
		envs, _ := h.db.FindEnvironments(context.Background(), preview.EnvironmentFilter{LiveOnly: true})
		return envs
	}, func(live []preview.Environment) bool { return len(live) == 0 })
}

func TestResyncSkipsRepositoriesOutsideTheAllowlist(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	gh := &fakePullRequests{prs: map[int]preview.PullRequest{7: ghPR(7, "x", true, t0)}}
	h := startResync(t, gh, func(c *controller.ResyncConfig) { c.Allowed = func(repo string) bool { return repo == "acme/other" } })
	h.pass()
	if envs, _ := h.db.FindEnvironments(context.Background(), preview.EnvironmentFilter{}); len(envs) != 0 || gh.listCalls() != 0 {
		t.Errorf("a repository outside allowed_repos was resynced: %d environments, %d list calls", len(envs), gh.listCalls())
	}
}
