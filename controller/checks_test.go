package controller_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/internal/waittest"
)

// fakeChecks is GitHub's checks of each commit, by name; the GitHub client
// reading them for real is tested in github/ and cmd/previewd.
type fakeChecks struct {
	mu      sync.Mutex
	states  map[string]map[string]preview.CheckState // sha → name → state
	down    bool
	reads   atomic.Int64
	timeout time.Duration
}

func (f *fakeChecks) Required(repo string) ([]string, time.Duration) {
	return []string{"build-image", "test"}, f.timeout
}

func (f *fakeChecks) Read(ctx context.Context, env preview.Environment) (map[string]preview.CheckState, error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("GitHub is down")
	}
	out := map[string]preview.CheckState{}
	for k, v := range f.states[env.HeadSHA] {
		out[k] = v
	}
	return out, nil
}

func (f *fakeChecks) set(sha, name string, state preview.CheckState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.states[sha] == nil {
		f.states[sha] = map[string]preview.CheckState{}
	}
	f.states[sha][name] = state
}

// TestHeadWaitsForRequiredChecks: a head is applied only once its required
// checks succeeded on it. Pending, it waits (queued, or ready at its older
// head after a push); a failed check fails it without an apply, and the
// same check re-run to success gets it applied. Checks are read on every
// sweep, so no event is needed.
func TestHeadWaitsForRequiredChecks(t *testing.T) {
	checks := &fakeChecks{states: map[string]map[string]preview.CheckState{}, timeout: time.Hour}
	var applies atomic.Int64
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		applies.Add(1)
		return "https://" + env.Name + ".test/" + env.HeadSHA, nil
	}}
	h := startWith(t, prov, nil, func(c *controller.Config) { c.Checks.Required = checks })
	t0 := time.Now().Add(-time.Hour)
	name := h.open(1, "sha1", t0)
	env := h.waitFor(name, "waiting for both checks", func(e preview.Environment) bool {
		return e.Status == preview.StatusQueued && strings.Join(e.Checks.Waiting, ",") == "build-image,test"
	})
	checks.set("sha1", "build-image", preview.CheckSuccess)
	h.waitFor(name, "waiting for test alone", func(e preview.Environment) bool { return strings.Join(e.Checks.Waiting, ",") == "test" })
	if applies.Load() != 0 {
		t.Fatalf("applied before its checks passed: %+v", env)
	}
	checks.set("sha1", "test", preview.CheckSuccess)
	h.waitFor(name, "ready at sha1", readyAt("sha1"))

	// A push: the older head keeps serving while the new one waits.
	h.open(1, "sha2", t0.Add(time.Minute))
	h.waitFor(name, "queued at sha2, applied at sha1", func(e preview.Environment) bool {
		return e.Status == preview.StatusQueued && e.AppliedSHA == "sha1" && e.URL != "" && e.Checks.SHA == "sha2" && len(e.Checks.Waiting) == 2
	})
	checks.set("sha2", "build-image", preview.CheckFailure)
	env = h.waitFor(name, "failed on its check", func(e preview.Environment) bool { return e.Status == preview.StatusFailed })
	if env.Checks.Failed != "build-image" || !strings.Contains(env.LastError, "required check build-image failed on sha2") || env.AppliedSHA != "sha1" {
		t.Errorf("after a failed check: %+v", env)
	}
	// Re-run to success (and test passes): the head is applied.
	checks.set("sha2", "build-image", preview.CheckSuccess)
	checks.set("sha2", "test", preview.CheckSuccess)
	env = h.waitFor(name, "ready at sha2", readyAt("sha2"))
	if env.LastError != "" || applies.Load() != 2 {
		t.Errorf("after the re-run: %d applies, %+v", applies.Load(), env)
	}

	// GitHub down: nothing changes, and nothing is applied.
	checks.mu.Lock()
	checks.down = true
	checks.mu.Unlock()
	h.open(1, "sha3", t0.Add(2*time.Minute))
	before := checks.reads.Load()
	waittest.For(t, "two more reads", checks.reads.Load, func(n int64) bool { return n >= before+2 })
	if env := h.waitFor(name, "sha2 still applied", func(e preview.Environment) bool { return e.AppliedSHA == "sha2" }); applies.Load() != 2 || env.HeadSHA != "sha3" {
		t.Errorf("applied while the checks could not be read: %+v", env)
	}
}

// TestWaitForChecksTimesOut fails a head whose checks stay pending past the
// timeout.
func TestWaitForChecksTimesOut(t *testing.T) {
	checks := &fakeChecks{states: map[string]map[string]preview.CheckState{}, timeout: 10 * time.Minute}
	h := startWith(t, &fakeProvisioner{apply: func(context.Context, preview.Environment) (string, error) {
		t.Error("applied without its checks")
		return "", nil
	}}, nil, func(c *controller.Config) { c.Checks.Required = checks })
	name := h.open(1, "sha1", time.Now().Add(-time.Hour))
	h.waitFor(name, "waiting", func(e preview.Environment) bool { return len(e.Checks.Waiting) == 2 })
	later := time.Now().Add(30 * time.Minute) // past the timeout, within the TTL
	h.now.Store(&later)
	env := h.waitFor(name, "timed out", func(e preview.Environment) bool { return e.Status == preview.StatusFailed })
	if !env.Checks.TimedOut || !strings.Contains(env.LastError, "did not pass on sha1 within 10m0s") {
		t.Errorf("got %+v", env)
	}
}

// TestACheckEventAppliesAWaitingHead: with no poll and no sweep due, the
// head is applied once an event says its checks changed (NudgeChecks).
func TestACheckEventAppliesAWaitingHead(t *testing.T) {
	checks := &fakeChecks{states: map[string]map[string]preview.CheckState{}, timeout: time.Hour}
	h := startWith(t, applyAtOnce(), nil, func(c *controller.Config) {
		c.Checks = controller.ChecksConfig{Required: checks, PollInterval: time.Hour}
		c.SweepInterval = time.Hour
	})
	name := h.open(1, "sha1", time.Now().Add(-time.Hour))
	h.waitFor(name, "waiting for both checks", func(e preview.Environment) bool { return len(e.Checks.Waiting) == 2 })
	checks.set("sha1", "build-image", preview.CheckSuccess)
	checks.set("sha1", "test", preview.CheckSuccess)
	h.ctrl.NudgeChecks(preview.Commit{Repo: "acme/shop", SHA: "sha1"})
	h.waitFor(name, "ready at sha1", readyAt("sha1"))
}
