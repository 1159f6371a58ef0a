package controller

import (
	"context"
	"sync"
	"testing"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/waittest"
)

// scanStore answers FindEnvironments with envs, recording each call; any
// other call fails the test through a nil interface's panic.
type scanStore struct {
	Store
	envs  []preview.Environment
	mu    sync.Mutex
	scans []scan
}

type scan struct {
	ctx    context.Context
	filter preview.EnvironmentFilter
}

func (s *scanStore) FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans = append(s.scans, scan{ctx, filter})
	return s.envs, nil
}

func (s *scanStore) scanned() []scan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]scan(nil), s.scans...)
}

// TestNudgeChecksReadsNothingOnTheCallersPath: a check event only signals
// the check waiter; the waiter reads the store on its own goroutine, with
// its own context, once for the commits that came meanwhile, and queues
// the environments at the commit.
func TestNudgeChecksReadsNothingOnTheCallersPath(t *testing.T) {
	store := &scanStore{envs: []preview.Environment{
		{Name: "a-1", Repo: "acme/a", HeadSHA: "sha1"},
		{Name: "a-2", Repo: "acme/a", HeadSHA: "sha2"},
	}}
	c := New(store, nil, nil, Config{Checks: ChecksConfig{Required: fakeRequired{}}})
	c.NudgeChecks(preview.Commit{Repo: "acme/a", SHA: "sha1"})
	c.NudgeChecks(preview.Commit{Repo: "acme/a", SHA: "sha1"})
	if got := store.scanned(); len(got) != 0 {
		t.Fatalf("NudgeChecks read the store on the caller's goroutine: %+v", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.checks.run(ctx); close(done) }()
	type progress struct {
		Queued int
		Scans  []scan
	}
	waittest.For(t, "an environment queued after the check event", func() progress {
		n, _ := c.core.runs.stats()
		return progress{n, store.scanned()}
	}, func(p progress) bool { return p.Queued > 0 })
	cancel()
	<-done

	if name, _ := c.core.runs.take(); name != "a-1" {
		t.Errorf("queued %q, want a-1 (the environment at the commit)", name)
	}
	if name, ok := c.core.runs.take(); ok {
		t.Errorf("queued %q too, want only a-1", name)
	}
	scans := store.scanned()
	if len(scans) != 1 {
		t.Fatalf("scans: got %d, want 1 for both events", len(scans))
	}
	if want := (preview.EnvironmentFilter{LiveOnly: true, Repo: "acme/a"}); scans[0].filter != want {
		t.Errorf("filter: got %+v, want %+v", scans[0].filter, want)
	}
	if scans[0].ctx.Err() == nil {
		t.Error("the scan's context outlived the service: it is not the service's")
	}
}

// TestNudgeChecksWithoutRequiredChecksSignalsNothing: with nothing to wait
// for, a check event is dropped.
func TestNudgeChecksWithoutRequiredChecksSignalsNothing(t *testing.T) {
	c := New(&scanStore{}, nil, nil, Config{})
	c.NudgeChecks(preview.Commit{Repo: "acme/a", SHA: "sha1"})
	select {
	case <-c.checks.wake:
		t.Error("a check event was signalled with no required checks")
	default:
	}
}
