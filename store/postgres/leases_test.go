package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/store/postgres"
	"github.com/previewd/previewd/store/storetest"
)

// replicas opens n stores on one database, as n replicas would.
func replicas(t *testing.T, n int) []*postgres.DB {
	t.Helper()
	url, _ := pgtest.Database(t)
	var dbs []*postgres.DB
	for i := range n {
		db, err := postgres.Open(context.Background(), url, postgres.Options{
			TTL: time.Hour, Holder: string(rune('a' + i)), Now: func() time.Time { return storetest.T0 },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	return dbs
}

func record(t *testing.T, db *postgres.DB, number int, sha string) preview.Environment {
	t.Helper()
	ctx := context.Background()
	pr := preview.PullRequest{Repo: "acme/shop", Number: number, Branch: "feature", HeadSHA: sha, Open: true, UpdatedAt: storetest.T0}
	if _, err := db.RecordPullRequest(ctx, "", pr); err != nil {
		t.Fatal(err)
	}
	env, err := db.FindEnvironmentByPullRequest(ctx, "acme/shop", number)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestLeaseFencesTheReplicaThatLostIt: a lease belongs to one replica; a
// second is refused (and the holder told, on release); once the holder
// stops renewing, the second takes it with a greater token, the first
// holder's run is marked interrupted, and every write the first makes
// under its old lease is refused.
func TestLeaseFencesTheReplicaThatLostIt(t *testing.T) {
	dbs := replicas(t, 2)
	a, b := dbs[0], dbs[1]
	ctx := context.Background()
	env := record(t, a, 1, "sha1")

	la, ok, err := a.AcquireLease(ctx, env.Name, time.Second)
	if err != nil || !ok || la.Holder != "a" {
		t.Fatalf("first acquire: %+v %v %v", la, ok, err)
	}
	if _, ok, err := b.AcquireLease(ctx, env.Name, time.Second); ok || err != nil {
		t.Fatalf("second replica took a held lease: %v %v", ok, err)
	}
	if _, ok, _ := a.AcquireLease(ctx, env.Name, time.Second); ok {
		t.Fatal("a lease is not re-entrant: a second worker of one replica must wait too")
	}
	actx := preview.WithLease(ctx, la)
	run, err := a.CreateRun(actx, preview.Run{Environment: env.Name, Repo: env.Repo, PR: env.PR, Phase: preview.PhaseApply, State: preview.RunRunning, StartedAt: storetest.T0})
	if err != nil {
		t.Fatalf("a run under a held lease: %v", err)
	}
	if err := a.RenewLease(ctx, la, time.Second); err != nil {
		t.Fatalf("renew: %v", err)
	}
	if asked, err := a.ReleaseLease(ctx, la); err != nil || !asked {
		t.Fatalf("release after b asked: asked=%v %v, want asked", asked, err)
	}

	la, ok, err = a.AcquireLease(ctx, env.Name, 200*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("acquire again: %v %v", ok, err)
	}
	if len(la.Interrupted) != 1 || la.Interrupted[0].ID != run.ID {
		t.Errorf("taking the lease again found the run left running: %+v", la.Interrupted)
	}
	actx = preview.WithLease(ctx, la)
	run2, err := a.CreateRun(actx, preview.Run{Environment: env.Name, Repo: env.Repo, PR: env.PR, Phase: preview.PhaseApply, State: preview.RunRunning, StartedAt: storetest.T0})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a stops renewing: dead, or cut off
	lb, ok, err := b.AcquireLease(ctx, env.Name, time.Minute)
	if err != nil || !ok {
		t.Fatalf("b after a's lease expired: %v %v", ok, err)
	}
	if lb.Token <= la.Token {
		t.Errorf("tokens: b's %d not after a's %d", lb.Token, la.Token)
	}
	if len(lb.Interrupted) != 1 || lb.Interrupted[0].ID != run2.ID {
		t.Errorf("b's takeover interrupted %+v, want a's run %s", lb.Interrupted, run2.ID)
	}
	if got, _ := b.FindRunByID(ctx, run2.ID); got.State != preview.RunInterrupted {
		t.Errorf("a's run after the takeover: %s", got.State)
	}

	// Every write a makes under its old lease is refused.
	_, err = a.UpdateEnvironment(actx, env.Name, func(e *preview.Environment) error { e.Status = preview.StatusReady; return nil })
	if !errors.Is(err, preview.ErrLeaseLost) {
		t.Errorf("a's environment write after losing the lease: %v, want ErrLeaseLost", err)
	}
	run2.State = preview.RunSucceeded
	if err := a.UpdateRun(actx, run2); !errors.Is(err, preview.ErrLeaseLost) {
		t.Errorf("a's run write after losing the lease: %v, want ErrLeaseLost", err)
	}
	if _, err := a.CreateRun(actx, preview.Run{Environment: env.Name, State: preview.RunRunning}); !errors.Is(err, preview.ErrLeaseLost) {
		t.Errorf("a's new run after losing the lease: %v, want ErrLeaseLost", err)
	}
	if err := a.RenewLease(ctx, la, time.Minute); !errors.Is(err, preview.ErrLeaseLost) {
		t.Errorf("a renewing a lost lease: %v, want ErrLeaseLost", err)
	}
	if asked, err := a.ReleaseLease(ctx, la); err != nil || !asked {
		t.Errorf("a releasing a lost lease: %v %v (must not drop b's, and must look again)", asked, err)
	}
	// Writes without a lease (webhooks, the admin API) and b's go through.
	if _, err := b.UpdateEnvironment(preview.WithLease(ctx, lb), env.Name, func(e *preview.Environment) error { return nil }); err != nil {
		t.Errorf("b's write: %v", err)
	}
	if _, err := a.UpdateEnvironment(ctx, env.Name, func(e *preview.Environment) error { e.Desired.Generation++; return nil }); err != nil {
		t.Errorf("a desired-state write: %v", err)
	}
	if asked, err := b.ReleaseLease(ctx, lb); err != nil || asked {
		t.Errorf("b's release: asked=%v %v", asked, err)
	}
}

// TestStartUpLeavesOtherReplicasRunsAlone: a replica starting marks as
// interrupted only runs whose environment nobody holds a live lease on.
func TestStartUpLeavesOtherReplicasRunsAlone(t *testing.T) {
	dbs := replicas(t, 2)
	a, b := dbs[0], dbs[1]
	ctx := context.Background()
	held, orphan := record(t, a, 1, "sha1"), record(t, a, 2, "sha2")
	lease, ok, err := a.AcquireLease(ctx, held.Name, time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	heldRun, err := a.CreateRun(preview.WithLease(ctx, lease), preview.Run{Environment: held.Name, State: preview.RunRunning})
	if err != nil {
		t.Fatal(err)
	}
	orphanRun, err := a.CreateRun(ctx, preview.Run{Environment: orphan.Name, State: preview.RunRunning})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := b.InterruptRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != orphanRun.ID {
		t.Errorf("interrupted %+v, want only %s", runs, orphanRun.ID)
	}
	if got, _ := b.FindRunByID(ctx, heldRun.ID); got.State != preview.RunRunning {
		t.Errorf("the run a holds: %s, want still running", got.State)
	}
}

// TestListenHearsDesiredStateChanges: every replica hears of a recorded
// pull request and of a desired-state change (a redeploy), not of a run's
// own writes.
func TestListenHearsDesiredStateChanges(t *testing.T) {
	dbs := replicas(t, 2)
	a, b := dbs[0], dbs[1]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heard := make(chan string, 10)
	go b.Listen(ctx, func(name string) { heard <- name })
	next := func() string { return waittest.Recv(t, "a notification", heard) }
	// The listener may start after the first notification: record until
	// it is heard.
	var env preview.Environment
	deadline := time.Now().Add(10 * time.Second)
	for n, listening := 1, false; !listening && time.Now().Before(deadline); n++ {
		env = record(t, a, n, "sha1")
		select {
		case <-heard:
			listening = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	// Notifications come in the order of their writes: once a pull
	// request recorded now is heard, every one before it has been.
	other := record(t, a, 1000, "sha1")
	waittest.For(t, "the notification of "+other.Name, next, func(n string) bool { return n == other.Name })
	if _, err := a.UpdateEnvironment(ctx, env.Name, func(e *preview.Environment) error { e.Status = preview.StatusReady; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateEnvironment(ctx, env.Name, func(e *preview.Environment) error { e.Desired.Generation++; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != env.Name {
		t.Fatalf("heard %q after a redeploy, want %q", got, env.Name)
	}
	// A later redeploy of another environment is heard next: nothing
	// came between.
	if _, err := a.UpdateEnvironment(ctx, other.Name, func(e *preview.Environment) error { e.Desired.Generation++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n := next(); n != other.Name {
		t.Errorf("heard %q for a write that changed no desired state", n)
	}
}

// TestHoldingTellsWhetherAReplicaRuns: a replica is holding while a lease
// of its own has not expired, and stops holding once it releases it or
// lets it expire; another replica's leases say nothing of it.
func TestHoldingTellsWhetherAReplicaRuns(t *testing.T) {
	dbs := replicas(t, 2)
	a, b := dbs[0], dbs[1]
	ctx := context.Background()
	holding := func(who string) bool {
		t.Helper()
		ok, err := b.Holding(ctx, who)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if holding(a.Holder()) {
		t.Fatal("a replica that took no lease is holding")
	}
	la, ok, err := a.AcquireLease(ctx, "previewd:replica:"+a.Holder(), time.Hour)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if _, ok, err := b.AcquireLease(ctx, "some-env", time.Hour); err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if !holding(a.Holder()) || !holding(b.Holder()) {
		t.Fatal("replicas holding leases are not holding")
	}
	if _, err := a.ReleaseLease(ctx, la); err != nil {
		t.Fatal(err)
	}
	if holding(a.Holder()) {
		t.Error("a replica that released its only lease is still holding")
	}
	if _, ok, err := a.AcquireLease(ctx, "other-env", 200*time.Millisecond); err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	time.Sleep(300 * time.Millisecond) // a stops renewing
	if holding(a.Holder()) {
		t.Error("a replica whose lease expired is still holding")
	}
}
