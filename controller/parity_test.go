package controller_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/store"
)

// fakeChecker is a Checker of counters and canned answers.
type fakeChecker struct {
	seeds, preDestroys, checks, driftChecks atomic.Int32
	mu                                      sync.Mutex
	drift                                   []string
	reapply                                 bool
	seedErr                                 error
}

func (f *fakeChecker) Check(ctx context.Context, env preview.Environment, log io.Writer) (preview.ParityReport, error) {
	f.checks.Add(1)
	findings := []preview.Finding{{Kind: preview.FindingVariable, Subject: "instance_count", Declared: true, Reason: "scale"}}
	if env.HeadSHA == "drifty" {
		findings = append(findings, preview.Finding{Kind: preview.FindingVariable, Subject: "database_engine_version", Production: "15.4", Preview: "13.9"})
	}
	return preview.ParityReport{Status: preview.Verdict(findings), CheckedAt: time.Now(), Findings: findings}, nil
}

func (f *fakeChecker) DetectDrift(ctx context.Context, env preview.Environment, log io.Writer) ([]string, error) {
	f.driftChecks.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.drift, nil
}

func (f *fakeChecker) DriftPolicy(string) (time.Duration, bool) { return time.Millisecond, f.reapply }

func (f *fakeChecker) Seed(ctx context.Context, env preview.Environment, log io.Writer) error {
	f.seeds.Add(1)
	return f.seedErr
}

func (f *fakeChecker) PreDestroy(ctx context.Context, env preview.Environment, log io.Writer) error {
	f.preDestroys.Add(1)
	return errors.New("pre-destroy hook exited 1")
}

func startChecked(t *testing.T, chk *fakeChecker) (*harness, *atomic.Int32) {
	t.Helper()
	var applies atomic.Int32
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		applies.Add(1)
		return "http://x/", nil
	}}
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, gh: &fakeGitHub{}, db: db}
	now := time.Now()
	h.now.Store(&now)
	h.ctrl = controller.New(db, prov, h.gh, controller.Config{
		Runs:          controller.RunsConfig{LogDir: t.TempDir(), RetryBase: 20 * time.Millisecond},
		Parity:        controller.ParityConfig{Checker: chk},
		SweepInterval: 10 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.ctrl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h, &applies
}

func TestParityCheckedAfterEveryApplyAndSeededOnce(t *testing.T) {
	chk := &fakeChecker{}
	h, _ := startChecked(t, chk)
	t0 := time.Now()
	name := h.open(1, "drifty", t0)
	env := h.waitFor(name, "a parity report", func(e preview.Environment) bool { return e.Parity.SHA == "drifty" })
	if env.Parity.Status != preview.ParityDrift || len(env.Parity.Findings) != 2 || !env.Seeded {
		t.Fatalf("report: got %+v seeded %v, want drift with two findings, seeded", env.Parity, env.Seeded)
	}
	h.open(1, "fixed", t0.Add(time.Second))
	env = h.waitFor(name, "parity at the new head", func(e preview.Environment) bool { return e.Parity.SHA == "fixed" })
	if env.Parity.Status != preview.ParityOK {
		t.Errorf("after the fix: got %s, want ok", env.Parity.Status)
	}
	if got := chk.seeds.Load(); got != 1 {
		t.Errorf("seeds: got %d, want 1 (first successful apply only)", got)
	}
	h.close(1, t0.Add(time.Minute))
	h.waitFor(name, "destroyed despite a failing pre-destroy hook", func(e preview.Environment) bool { return e.Status == preview.StatusDestroyed })
	if chk.preDestroys.Load() != 1 {
		t.Errorf("pre-destroy hook runs: got %d, want 1", chk.preDestroys.Load())
	}
}

func TestARebuildAfterDestroyIsSeededAndCheckedAgain(t *testing.T) {
	chk := &fakeChecker{}
	h, _ := startChecked(t, chk)
	t0 := time.Now()
	name := h.open(1, "a", t0)
	h.waitFor(name, "checked", func(e preview.Environment) bool { return e.Parity.SHA == "a" })
	h.close(1, t0.Add(time.Second))
	h.waitFor(name, "destroyed", func(e preview.Environment) bool { return e.Status == preview.StatusDestroyed })
	h.open(1, "a", t0.Add(2*time.Second)) // reopened at the same head
	h.waitFor(name, "checked again", func(e preview.Environment) bool { return e.Status == preview.StatusReady && e.Parity.SHA == "a" })
	if got := chk.seeds.Load(); got != 2 {
		t.Errorf("seeds: got %d, want 2 (the rebuild starts empty)", got)
	}
	if got := chk.checks.Load(); got != 2 {
		t.Errorf("parity checks: got %d, want 2", got)
	}
}
