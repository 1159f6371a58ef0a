package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/store"
)

// holdingLeases answers Holding from a map (an error for "broken"); it
// does nothing else.
type holdingLeases struct {
	Leases
	alive map[string]bool
}

func (h holdingLeases) Holding(_ context.Context, holder string) (bool, error) {
	if holder == "broken" {
		return false, errors.New("connection refused")
	}
	return h.alive[holder], nil
}

// TestParityIsLeftToTheReplicaThatApplied: a check is left to the replica
// whose run applied the environment while that replica holds leases (it
// kept the plan it applied); it is made here when this replica applied,
// when the run names no replica, when that replica stopped, or when the
// database cannot say.
func TestParityIsLeftToTheReplicaThatApplied(t *testing.T) {
	leases := holdingLeases{alive: map[string]bool{"b": true}}
	p := &parity{core: &core{leases: newLeaser(leases, time.Second, slog.New(slog.DiscardHandler)), log: slog.New(slog.DiscardHandler)}}
	ctx := preview.WithLease(context.Background(), preview.Lease{Name: "env", Holder: "a"})
	for replica, want := range map[string]bool{"b": true, "a": false, "": false, "c": false, "broken": false} {
		if got := p.appliedElsewhere(ctx, preview.Run{ID: "run", Replica: replica}); got != want {
			t.Errorf("applied by %q: left to it %v, want %v", replica, got, want)
		}
	}
	alone := &parity{core: &core{leases: newLeaser(nil, time.Second, slog.New(slog.DiscardHandler))}}
	if alone.appliedElsewhere(ctx, preview.Run{Replica: "b"}) {
		t.Error("a lone previewd left a check to another replica")
	}
}

// TestSweepQueuesUncheckedParity: every replica's sweep queues the parity
// check of a ready environment not checked as applied (the check its
// replica left when it stopped), and not of one checked already.
func TestSweepQueuesUncheckedParity(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	now := time.Now()
	for n, checked := range map[int]bool{1: false, 2: true} {
		res, err := db.RecordPullRequest(ctx, "", preview.PullRequest{Repo: "acme/shop", Number: n, Branch: fmt.Sprintf("checked-%v", checked), HeadSHA: "sha", Open: true, UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.UpdateEnvironment(ctx, res.Environment.Name, func(e *preview.Environment) error {
			e.Status, e.AppliedSHA, e.AppliedGeneration = preview.StatusReady, e.HeadSHA, e.Desired.Generation
			if checked {
				e.Parity.SHA, e.Parity.Generation = e.AppliedSHA, e.AppliedGeneration
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{}.withDefaults()
	c := newCore(db, cfg)
	p := &parity{core: c, checker: fakeChecker{}, queue: newWorkQueue()}
	r := &runLoop{core: c, parity: p, maxAttempts: 3}
	r.sweep(ctx)
	if got := p.queue.order; len(got) != 1 || got[0] != "checked-false" {
		t.Errorf("parity checks queued by the sweep: %v, want the unchecked environment's alone", got)
	}
}
