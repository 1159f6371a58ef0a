package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

func testRecordPullRequestLifecycle(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	res := record(t, db, "d1", pr(1, "feature/login", "aaa", true, t0))
	if !res.Changed || res.Environment.Name != "feature-login" || res.Environment.Status != preview.StatusQueued {
		t.Fatalf("open: got %+v, want a changed, queued feature-login", res)
	}
	if got, want := res.Environment.ExpiresAt, t0.Add(time.Hour); !got.Equal(want) {
		t.Errorf("expires_at: got %v want %v", got, want)
	}
	if res := record(t, db, "d1", pr(1, "feature/login", "bbb", true, t0.Add(time.Second))); !res.Duplicate {
		t.Errorf("same delivery again: got %+v, want duplicate", res)
	}
	res = record(t, db, "d2", pr(1, "feature/login", "bbb", true, t0.Add(time.Minute)))
	if !res.Changed || res.Environment.HeadSHA != "bbb" {
		t.Errorf("push: got %+v, want head bbb", res.Environment)
	}
	// An older delivery arriving late never wins.
	res = record(t, db, "d0", pr(1, "feature/login", "aaa", true, t0.Add(30*time.Second)))
	if !res.Stale {
		t.Errorf("older event: got %+v, want stale", res)
	}
	env, err := db.FindEnvironmentByName(context.Background(), "feature-login")
	if err != nil || env.HeadSHA != "bbb" {
		t.Fatalf("after stale event: got head %q err %v, want bbb", env.HeadSHA, err)
	}
	res = record(t, db, "d3", pr(1, "feature/login", "bbb", false, t0.Add(2*time.Minute)))
	if !res.Changed || res.Environment.Desired.Present || res.Environment.Desired.Reason != "closed" {
		t.Errorf("close: got %+v, want not present, reason closed", res.Environment.Desired)
	}
	// A synchronize with the same timestamp as the close does not reopen it.
	if res := record(t, db, "d4", pr(1, "feature/login", "bbb", true, t0.Add(2*time.Minute))); !res.Stale {
		t.Errorf("open event at the close's timestamp: got %+v, want stale", res)
	}
}

func testRecordPullRequestIgnoresUnknownClosed(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	if res := record(t, db, "d1", pr(7, "x", "aaa", false, t0)); res.Changed || res.Environment.Name != "" {
		t.Errorf("closed pull request never seen: got %+v, want nothing", res)
	}
	envs, _ := db.FindEnvironments(context.Background(), preview.EnvironmentFilter{})
	if len(envs) != 0 {
		t.Errorf("got %d environments, want 0", len(envs))
	}
}

func testNamesUniqueAndStable(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	a := record(t, db, "d1", pr(1, "feature/x", "a", true, t0)).Environment.Name
	b := record(t, db, "d2", pr(2, "Feature-X", "b", true, t0)).Environment.Name
	c := record(t, db, "d3", pr(3, "production", "c", true, t0)).Environment.Name
	if a != "feature-x" || b == a || !preview.ValidName(b) || c == "production" || !preview.ValidName(c) {
		t.Fatalf("names: got %q %q %q; want feature-x, a distinct valid name, a non-reserved name", a, b, c)
	}
	// A renamed branch keeps the name.
	if got := record(t, db, "d4", pr(1, "renamed", "a2", true, t0.Add(time.Second))).Environment.Name; got != a {
		t.Errorf("after branch rename: got %q want %q", got, a)
	}
}

func testDestroyedEnvironmentFreesItsName(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	record(t, db, "d1", pr(1, "fix", "a", true, t0))
	if _, err := db.UpdateEnvironment(ctx, "fix", func(e *preview.Environment) error {
		e.Status = preview.StatusDestroyed
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := record(t, db, "d2", pr(2, "fix", "b", true, t0)).Environment; got.Name != "fix" || got.PR != 2 {
		t.Fatalf("new pull request on a freed name: got %s for #%d, want fix for #2", got.Name, got.PR)
	}
	if _, err := db.FindEnvironmentByPullRequest(ctx, "acme/shop", 1); preview.ErrorCode(err) != preview.ENOTFOUND {
		t.Errorf("old pull request: got err %v, want not found", err)
	}
}

func testConcurrentDeliveriesAllStored(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if _, err := db.RecordPullRequest(context.Background(), fmt.Sprintf("d%d", i), pr(i+1, fmt.Sprintf("b%d", i), "s", true, t0)); err != nil {
				t.Errorf("record %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	envs, err := db.FindEnvironments(context.Background(), preview.EnvironmentFilter{LiveOnly: true})
	if err != nil || len(envs) != 200 {
		t.Fatalf("got %d environments (err %v), want 200", len(envs), err)
	}
}

func testTakenDownStaysDownUntilSomethingNewHappens(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	for _, reason := range []string{"admin", "expired"} {
		t.Run(reason, func(t *testing.T) {
			n := len(reason)
			name := record(t, db, "", pr(n, reason, "a", true, t0)).Environment.Name
			db.UpdateEnvironment(ctx, name, func(e *preview.Environment) error {
				e.Desired.Present, e.Desired.Reason = false, preview.Reason(reason)
				return nil
			})
			// A resync or a redelivery brings the same state: stays down.
			if res := record(t, db, "", pr(n, reason, "a", true, t0)); res.Changed || res.Environment.Desired.Present {
				t.Errorf("same state again: got changed=%v present=%v, want it to stay down", res.Changed, res.Environment.Desired.Present)
			}
			// A push brings it back.
			if res := record(t, db, "", pr(n, reason, "b", true, t0.Add(time.Minute))); !res.Changed || !res.Environment.Desired.Present {
				t.Errorf("push: got changed=%v present=%v, want it back", res.Changed, res.Environment.Desired.Present)
			}
		})
	}
}

func testForkPullRequestsWaitForApprovalOfTheirHead(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	fork := pr(9, "patch-1", "a", true, t0)
	fork.Fork = true
	res := record(t, db, "", fork)
	if res.Environment.Desired.Present || res.Environment.Desired.Reason != preview.ReasonAwaitingApproval || res.Environment.Status.Live() {
		t.Fatalf("unapproved fork: got %+v, want a record awaiting approval, nothing built", res.Environment)
	}
	name := res.Environment.Name
	db.UpdateEnvironment(ctx, name, func(e *preview.Environment) error { e.Desired.ApprovedSHA = "a"; return nil })
	fork.UpdatedAt = t0.Add(time.Second)
	if res := record(t, db, "", fork); !res.Environment.Desired.Present {
		t.Errorf("approved head: got present=false, want an environment")
	}
	// A new push needs a new approval.
	fork.HeadSHA, fork.UpdatedAt = "b", t0.Add(time.Minute)
	if res := record(t, db, "", fork); res.Environment.Desired.Present || res.Environment.Desired.Reason != preview.ReasonAwaitingApproval {
		t.Errorf("push after approval: got %+v, want it awaiting approval again", res.Environment.Desired)
	}
}

// testStatusHistory: every change of status is kept with its reason, by
// whichever write made it; a write that leaves the status alone adds
// nothing.
func testStatusHistory(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	res := record(t, db, "d1", pr(1, "hist", "a", true, t0))
	name := res.Environment.Name
	db.UpdateEnvironment(ctx, name, func(e *preview.Environment) error { e.Status = preview.StatusProvisioning; return nil })
	db.UpdateEnvironment(ctx, name, func(e *preview.Environment) error { e.URL = "https://x.test/"; return nil })
	db.UpdateEnvironment(ctx, name, func(e *preview.Environment) error {
		e.Status, e.LastError = preview.StatusFailed, "boom"
		return nil
	})
	record(t, db, "d2", pr(1, "hist", "a", false, t0.Add(time.Minute)))
	env, err := db.FindEnvironmentByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range env.History {
		got = append(got, fmt.Sprintf("%s/%s/%s", h.Status, h.Reason, h.Error))
	}
	want := []string{"queued/opened/", "provisioning/opened/", "failed/opened/boom"}
	if env.Status != preview.StatusFailed {
		want = append(want, fmt.Sprintf("%s/closed/", env.Status))
	}
	if !slices.Equal(got, want) {
		t.Errorf("history: %v, want %v", got, want)
	}
}

// testConcurrentCreatesAndUpdatesNameApart records, all at once, the first
// events of 30 pull requests on one branch name (their names collide),
// pushes to 30 that have environments already, and events of pull
// requests whose destroyed environments free their names: every pull
// request ends with an environment of its own, under a name no other live
// one has, and finds it by its key.
func testConcurrentCreatesAndUpdatesNameApart(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	for i := range 30 { // existing ones, pushed to below
		record(t, db, fmt.Sprintf("old-%d", i), pr(100+i, fmt.Sprintf("old/%d", i), "a", true, t0))
	}
	for i := range 10 { // destroyed ones whose names new pull requests may take
		res := record(t, db, fmt.Sprintf("gone-%d", i), pr(200+i, "same", "a", true, t0))
		db.UpdateEnvironment(ctx, res.Environment.Name, func(e *preview.Environment) error {
			e.Status, e.Desired.Present = preview.StatusDestroyed, false
			return nil
		})
	}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			if _, err := db.RecordPullRequest(ctx, fmt.Sprintf("new-%d", i), pr(300+i, "same", "b", true, t0)); err != nil {
				t.Errorf("new %d: %v", i, err)
			}
		})
		wg.Go(func() {
			if _, err := db.RecordPullRequest(ctx, fmt.Sprintf("push-%d", i), pr(100+i, fmt.Sprintf("old/%d", i), "b", true, t0.Add(time.Minute))); err != nil {
				t.Errorf("push %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	names := map[string]int{}
	for i := range 30 {
		for _, n := range []int{100 + i, 300 + i} {
			env, err := db.FindEnvironmentByPullRequest(ctx, "acme/shop", n)
			if err != nil || env.PR != n || env.HeadSHA != "b" || !env.Status.Live() {
				t.Fatalf("pull request %d: %+v, %v", n, env, err)
			}
			if other, taken := names[env.Name]; taken {
				t.Errorf("pull requests %d and %d share the name %s", other, n, env.Name)
			}
			names[env.Name] = n
		}
	}
}
