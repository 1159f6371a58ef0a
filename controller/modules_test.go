package controller_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
)

// fakeModules is production's module in git: the commit main names now.
type fakeModules struct{ commit atomic.Value }

func (f *fakeModules) version() preview.ModuleVersion {
	return preview.ModuleVersion{Source: "git::file:///srv/infra.git", Ref: "main", Commit: f.commit.Load().(string)}
}

func (f *fakeModules) Current(context.Context, preview.Environment) (preview.ModuleVersion, error) {
	return f.version(), nil
}

// TestEnvironmentsFollowProductionsModule: when production's ref moves,
// every environment built from an older module commit is applied again at
// its head, newest activity first, on a push (NudgeModules) or at the
// next poll without one.
func TestEnvironmentsFollowProductionsModule(t *testing.T) {
	modules := &fakeModules{}
	modules.commit.Store("c1")
	var mu sync.Mutex
	var applied []string
	prov := &fakeProvisioner{
		apply: func(ctx context.Context, env preview.Environment) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			applied = append(applied, env.Name+"@"+modules.version().Commit)
			return "https://" + env.Name + ".test/", nil
		},
		module: modules.version,
	}
	poll := 24 * time.Hour
	h := startWith(t, prov, nil, func(c *controller.Config) {
		c.Runs.MaxConcurrent = 1 // the order is the queue's
		c.Modules = controller.ModulesConfig{Versions: modules, PollInterval: poll}
	})
	t0 := time.Now().Add(-time.Hour)
	var names []string
	for i := range 3 {
		name := h.open(i+1, "sha", t0.Add(time.Duration(i)*time.Minute))
		h.waitFor(name, "ready at c1", func(e preview.Environment) bool { return readyAt("sha")(e) && e.Module.Commit == "c1" })
		names = append(names, name)
	}
	mu.Lock()
	applied = nil
	mu.Unlock()

	modules.commit.Store("c2")
	h.ctrl.NudgeModules()
	for _, name := range names {
		h.waitFor(name, "ready at c2", func(e preview.Environment) bool { return readyAt("sha")(e) && e.Module.Commit == "c2" })
	}
	mu.Lock()
	got := slices.Clone(applied)
	mu.Unlock()
	if want := []string{"feature-3@c2", "feature-2@c2", "feature-1@c2"}; !slices.Equal(got, want) {
		t.Errorf("re-applied %v, want %v (newest activity first, once each)", got, want)
	}
}

// TestModulesArePolled re-applies without any push once the poll sees the
// ref moved.
func TestModulesArePolled(t *testing.T) {
	modules := &fakeModules{}
	modules.commit.Store("c1")
	prov := &fakeProvisioner{apply: func(context.Context, preview.Environment) (string, error) { return "https://x.test/", nil }, module: modules.version}
	h := startWith(t, prov, nil, func(c *controller.Config) {
		c.Modules = controller.ModulesConfig{Versions: modules, PollInterval: 20 * time.Millisecond}
	})
	name := h.open(1, "sha", time.Now().Add(-time.Hour))
	h.waitFor(name, "ready at c1", func(e preview.Environment) bool { return readyAt("sha")(e) && e.Module.Commit == "c1" })
	modules.commit.Store("c2")
	env := h.waitFor(name, "ready at c2", func(e preview.Environment) bool { return readyAt("sha")(e) && e.Module.Commit == "c2" })
	if env.Desired.Generation != 1 {
		t.Errorf("generation %d after one module move, want 1", env.Desired.Generation)
	}
}
