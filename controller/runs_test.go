package controller_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/waittest"
)

func TestRunsCarryTheirPullRequest(t *testing.T) {
	h := start(t, &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		return "http://x/", nil
	}}, nil)
	name := h.open(7, "aaa", time.Now())
	env := h.waitFor(name, "ready", readyAt("aaa"))
	run, err := h.db.FindRunByID(context.Background(), env.LastRunID)
	if err != nil {
		t.Fatalf("the apply's run: %v", err)
	}
	if run.Environment != name || run.Repo != "acme/shop" || run.PR != 7 {
		t.Errorf("run: got environment %q repo %q pr %d, want %s of acme/shop#7", run.Environment, run.Repo, run.PR, name)
	}
	if !run.BelongsTo(env) {
		t.Errorf("run %s does not belong to %s of %s#%d", run.ID, name, env.Repo, env.PR)
	}
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
	waittest.For(t, "first apply started", applies.Load, func(n int32) bool { return n == 1 })
	for i := 1; i <= 10; i++ {
		h.open(1, fmt.Sprintf("sha%d", i), t0.Add(time.Duration(i)*time.Second))
	}
	close(release)
	h.waitFor(name, "ready at newest head", readyAt("sha10"))
	h.settle() // the pushes that came during the first apply are served
	if got := applies.Load(); got != 2 {
		t.Errorf("applies: got %d, want 2 (the first and one for the newest head)", got)
	}
}

func TestOneRunPerEnvironmentAtATime(t *testing.T) {
	var running, maxRunning atomic.Int32
	pushed := make(chan struct{}) // closed once every push is in
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		<-pushed // a second run of the environment would start meanwhile
		return "http://x/", nil
	}}
	h := start(t, prov, nil)
	t0 := time.Now()
	name := h.open(1, "s0", t0)
	waittest.For(t, "the first apply running", running.Load, func(n int32) bool { return n == 1 })
	for i := 1; i < 30; i++ {
		h.open(1, fmt.Sprintf("s%d", i), t0.Add(time.Duration(i)*time.Second))
		h.ctrl.Nudge(name)
	}
	close(pushed)
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
	h.settle() // several sweeps
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
	for n := 1; n <= 2; n++ {
		h.waitFor(name, fmt.Sprintf("destroy attempt %d failed", n), failedAttempts(n))
		h.tick(time.Second) // its retry comes due
	}
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
	for n := 1; n <= 2; n++ {
		h.waitFor(name, fmt.Sprintf("destroy attempt %d failed", n), failedAttempts(n))
		h.tick(time.Hour) // its retry comes due
	}
	env := h.waitFor(name, "three failed attempts", func(e preview.Environment) bool { return e.Attempts == 3 })
	h.tick(time.Hour) // a fourth attempt would be due
	h.settle()
	env = h.waitFor(name, "still failed", func(e preview.Environment) bool { return e.Status == preview.StatusFailed })
	if env.Attempts != 3 || env.LastError != "permission denied" {
		t.Errorf("got attempts %d error %q, want 3 and the error", env.Attempts, env.LastError)
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
	for n := 1; n <= 2; n++ {
		h.waitFor(name, fmt.Sprintf("apply %d failed", n), failedAttempts(n))
		h.tick(time.Second) // its retry comes due
	}
	env := h.waitFor(name, "ready after two transient failures", readyAt("a"))
	if env.Attempts != 0 || env.Transient || env.LastError != "" {
		t.Errorf("after success: attempts %d transient %v error %q, want all cleared", env.Attempts, env.Transient, env.LastError)
	}
}

// failedAttempts holds of an environment whose run failed for the nth
// time in a row.
func failedAttempts(n int) func(preview.Environment) bool {
	return func(e preview.Environment) bool { return e.Status == preview.StatusFailed && e.Attempts == n }
}
