// Package storetest is the contract every store backend keeps: the same
// tests run against bbolt (store) and any other backend, so the controller,
// the server and the intake can rely on one behaviour.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

// Store is what the contract covers of a store backend.
type Store interface {
	RecordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error)
	RecordCommand(ctx context.Context, delivery string, cmd preview.Command) (bool, error)
	FindCommands(ctx context.Context) ([]preview.Command, error)
	DeleteCommand(ctx context.Context, id string) error
	FindEnvironmentByName(ctx context.Context, name string) (preview.Environment, error)
	FindEnvironmentByPullRequest(ctx context.Context, repo string, number int) (preview.Environment, error)
	FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error)
	ScanEnvironments(ctx context.Context, filter preview.EnvironmentFilter, fn func(name string, data []byte) error) (string, error)
	UpdateEnvironment(ctx context.Context, name string, fn func(*preview.Environment) error) (preview.Environment, error)
	PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error)
	DeliveryRecorded(ctx context.Context, delivery string) (bool, error)
	CreateRun(ctx context.Context, run preview.Run) (preview.Run, error)
	UpdateRun(ctx context.Context, run preview.Run) error
	FindRunByID(ctx context.Context, id string) (preview.Run, error)
	FindRuns(ctx context.Context, filter preview.RunFilter) ([]preview.Run, error)
	InterruptRuns(ctx context.Context) ([]preview.Run, error)
	FindOrCreateKey(ctx context.Context, name string, fresh []byte) ([]byte, error)
}

// T0 is the clock of every store the contract opens: open must return an
// empty store whose time is T0, with a TTL of an hour and its other
// settings at their defaults, closed when the test ends.
var T0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var t0 = T0

// Run runs the contract against the stores open returns, one per test.
func Run(t *testing.T, open func(*testing.T) Store) {
	tests := []struct {
		name string
		test func(*testing.T, func(*testing.T) Store)
	}{
		{"RecordPullRequestLifecycle", testRecordPullRequestLifecycle},
		{"RecordPullRequestIgnoresUnknownClosed", testRecordPullRequestIgnoresUnknownClosed},
		{"NamesUniqueAndStable", testNamesUniqueAndStable},
		{"DestroyedEnvironmentFreesItsName", testDestroyedEnvironmentFreesItsName},
		{"ConcurrentDeliveriesAllStored", testConcurrentDeliveriesAllStored},
		{"RunJournal", testRunJournal},
		{"PruneDeliveries", testPruneDeliveries},
		{"ScanEnvironmentsMatchesDecodedList", testScanEnvironmentsMatchesDecodedList},
		{"FindEnvironmentsPages", testFindEnvironmentsPages},
		{"TakenDownStaysDownUntilSomethingNewHappens", testTakenDownStaysDownUntilSomethingNewHappens},
		{"ForkPullRequestsWaitForApprovalOfTheirHead", testForkPullRequestsWaitForApprovalOfTheirHead},
		{"CommandsQueue", testCommandsQueue},
		{"FindRunsFiltersByIdentity", testFindRunsFiltersByIdentity},
		{"DeliveryRecorded", testDeliveryRecorded},
		{"StatusHistory", testStatusHistory},
		{"ConcurrentCreatesAndUpdatesNameApart", testConcurrentCreatesAndUpdatesNameApart},
		{"FindOrCreateKeyKeepsTheFirst", testFindOrCreateKeyKeepsTheFirst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, open) })
	}
}

func pr(number int, branch, sha string, open bool, updated time.Time) preview.PullRequest {
	return preview.PullRequest{Repo: "acme/shop", Number: number, Open: open, HeadSHA: sha, Branch: branch, UpdatedAt: updated, Author: "alice"}
}

func record(t *testing.T, db Store, delivery string, p preview.PullRequest) preview.RecordResult {
	t.Helper()
	res, err := db.RecordPullRequest(context.Background(), delivery, p)
	if err != nil {
		t.Fatalf("record %s: %v", delivery, err)
	}
	return res
}

func testDeliveryRecorded(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	record(t, db, "seen", pr(1, "a", "a", true, t0))
	for delivery, want := range map[string]bool{"seen": true, "never": false} {
		if got, err := db.DeliveryRecorded(ctx, delivery); err != nil || got != want {
			t.Errorf("DeliveryRecorded(%q) = %v, %v; want %v", delivery, got, err, want)
		}
	}
}

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

func testRunJournal(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	r1, err := db.CreateRun(ctx, preview.Run{Environment: "a", Repo: "acme/shop", PR: 1, Phase: preview.PhaseApply, State: preview.RunRunning})
	if err != nil {
		t.Fatal(err)
	}
	r1.State = preview.RunSucceeded
	if err := db.UpdateRun(ctx, r1); err != nil {
		t.Fatal(err)
	}
	db.CreateRun(ctx, preview.Run{Environment: "a", Repo: "acme/shop", PR: 1, Phase: preview.PhaseDestroy, State: preview.RunRunning})
	db.CreateRun(ctx, preview.Run{Environment: "ab", Repo: "acme/shop", PR: 2, Phase: preview.PhaseApply, State: preview.RunRunning})
	runs, err := db.FindRuns(ctx, preview.RunFilter{Environment: "a", Repo: "acme/shop", PR: 1})
	if err != nil || len(runs) != 2 || runs[0].ID != r1.ID || runs[1].Phase != preview.PhaseDestroy {
		t.Fatalf("runs of a: got %+v (err %v), want the apply then the destroy", runs, err)
	}
	interrupted, err := db.InterruptRuns(ctx)
	if err != nil || len(interrupted) != 2 {
		t.Fatalf("interrupt: got %d runs (err %v), want 2", len(interrupted), err)
	}
	got, _ := db.FindRunByID(ctx, interrupted[0].ID)
	if got.State != preview.RunInterrupted {
		t.Errorf("state: got %s want interrupted", got.State)
	}
}

func testPruneDeliveries(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	for i := range 5 {
		record(t, db, fmt.Sprintf("d%d", i), pr(1, "a", fmt.Sprint(i), true, t0.Add(time.Duration(i)*time.Second)))
	}
	n, err := db.PruneDeliveries(context.Background(), t0.Add(time.Minute))
	if err != nil || n != 5 {
		t.Fatalf("prune: got %d (err %v), want 5", n, err)
	}
	if res := record(t, db, "d0", pr(1, "a", "z", true, t0.Add(time.Hour))); res.Duplicate {
		t.Errorf("after pruning, d0 is new again: got duplicate")
	}
}

func testScanEnvironmentsMatchesDecodedList(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	record(t, db, "d1", pr(1, "a", "a", true, t0))
	record(t, db, "d2", pr(2, "b", "b", true, t0))
	db.UpdateEnvironment(ctx, "a", func(e *preview.Environment) error { e.Status = preview.StatusDestroyed; return nil })
	for _, f := range []preview.EnvironmentFilter{{}, {LiveOnly: true}, {Repo: "ACME/shop"}} {
		raw, _, err := ScanJSON(ctx, db, f)
		if err != nil {
			t.Fatal(err)
		}
		var got []preview.Environment
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("filter %+v: invalid JSON %s: %v", f, raw, err)
		}
		want, _ := db.FindEnvironments(ctx, f)
		if len(got) != len(want) {
			t.Errorf("filter %+v: got %d environments as JSON, %d decoded", f, len(got), len(want))
		}
	}
	if raw, _, _ := ScanJSON(ctx, db, preview.EnvironmentFilter{Repo: "other/repo"}); string(raw) != "[]" {
		t.Errorf("no match: got %s want []", raw)
	}
}

// ScanJSON returns the environments db.ScanEnvironments gives as one JSON
// array of their stored encodings, and the next page's cursor.
func ScanJSON(ctx context.Context, db interface {
	ScanEnvironments(ctx context.Context, filter preview.EnvironmentFilter, fn func(name string, data []byte) error) (string, error)
}, filter preview.EnvironmentFilter) ([]byte, string, error) {
	buf := []byte{'['}
	next, err := db.ScanEnvironments(ctx, filter, func(_ string, data []byte) error {
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, data...)
		return nil
	})
	return append(buf, ']'), next, err
}

// TestFindEnvironmentsPages walks 25 environments (every third destroyed)
// in pages of 4, with every filter, and wants each exactly once, in order.
func testFindEnvironmentsPages(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	for i := range 25 {
		res := record(t, db, fmt.Sprintf("d%d", i), pr(i+1, fmt.Sprintf("page-%02d", i), "a", true, t0))
		if i%3 == 0 {
			db.UpdateEnvironment(ctx, res.Environment.Name, func(e *preview.Environment) error { e.Status = preview.StatusDestroyed; return nil })
		}
	}
	for _, f := range []preview.EnvironmentFilter{{}, {LiveOnly: true}, {Status: preview.StatusDestroyed}, {Repo: "acme/shop", LiveOnly: true}} {
		want, _ := db.FindEnvironments(ctx, f)
		var got []string
		page := f
		page.Limit = 4
		for pages := 0; ; pages++ {
			raw, next, err := ScanJSON(ctx, db, page)
			if err != nil || pages > 10 {
				t.Fatalf("filter %+v: page %d: %v", f, pages, err)
			}
			var envs []preview.Environment
			json.Unmarshal(raw, &envs)
			if len(envs) > 4 {
				t.Fatalf("filter %+v: a page of %d, want at most 4", f, len(envs))
			}
			for _, e := range envs {
				got = append(got, e.Name)
			}
			if next == "" {
				break
			}
			page.After = next
		}
		var names []string
		for _, e := range want {
			names = append(names, e.Name)
		}
		if !slices.Equal(got, names) || len(names) == 0 {
			t.Errorf("filter %+v: pages gave %v, want %v", f, got, names)
		}
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

func testCommandsQueue(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	if ok, err := db.RecordCommand(ctx, "c1", preview.Command{Repo: "acme/shop", Number: 1, Verb: "redeploy", User: "alice"}); !ok || err != nil {
		t.Fatalf("record: %v %v", ok, err)
	}
	if ok, _ := db.RecordCommand(ctx, "c1", preview.Command{Verb: "redeploy"}); ok {
		t.Errorf("redelivered command queued twice")
	}
	db.RecordCommand(ctx, "c2", preview.Command{Repo: "acme/shop", Number: 1, Verb: "keep", User: "bob"})
	cmds, err := db.FindCommands(ctx)
	if err != nil || len(cmds) != 2 || cmds[0].Verb != "redeploy" || cmds[0].ID == "" {
		t.Fatalf("queue: got %+v (err %v)", cmds, err)
	}
	db.DeleteCommand(ctx, cmds[0].ID)
	if cmds, _ := db.FindCommands(ctx); len(cmds) != 1 || cmds[0].Verb != "keep" {
		t.Errorf("after delete: got %+v", cmds)
	}
}

func testFindRunsFiltersByIdentity(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	for _, run := range []preview.Run{
		{Environment: "fix", Repo: "acme/shop", PR: 1, Phase: preview.PhaseApply},
		{Environment: "fix", Repo: "acme/shop", PR: 1, Phase: preview.PhaseDestroy},
		{Environment: "fix", Repo: "acme/api", PR: 1, Phase: preview.PhaseApply},  // the name reused by another repository
		{Environment: "fix", Repo: "acme/shop", PR: 2, Phase: preview.PhaseApply}, // and by another pull request
		{Environment: "fix", Phase: preview.PhaseApply},                           // a run nobody could be told to own
		{Environment: "fixed", Repo: "acme/shop", PR: 1, Phase: preview.PhaseApply},
	} {
		if _, err := db.CreateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		filter preview.RunFilter
		want   []string // "repo#pr phase" of each run found, in order
	}{
		{preview.RunFilter{Environment: "fix", Repo: "acme/shop", PR: 1}, []string{"acme/shop#1 apply", "acme/shop#1 destroy"}},
		{preview.RunFilter{Environment: "fix", Repo: "ACME/Shop", PR: 1}, []string{"acme/shop#1 apply", "acme/shop#1 destroy"}},
		{preview.RunFilter{Environment: "fix", Repo: "acme/api", PR: 1}, []string{"acme/api#1 apply"}},
		{preview.RunFilter{Environment: "fix", Repo: "acme/shop", PR: 2}, []string{"acme/shop#2 apply"}},
		{preview.RunFilter{Environment: "fix", Repo: "acme/shop", PR: 3}, nil},
		{preview.RunFilter{Environment: "fix"}, nil},
		{preview.RunFilter{Environment: "fixed", Repo: "acme/shop", PR: 1}, []string{"acme/shop#1 apply"}},
	}
	for _, tt := range tests {
		runs, err := db.FindRuns(ctx, tt.filter)
		if err != nil {
			t.Fatalf("filter %+v: %v", tt.filter, err)
		}
		var got []string
		for _, r := range runs {
			got = append(got, preview.PullRequestKey(r.Repo, r.PR)+" "+string(r.Phase))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("filter %+v: got %q want %q", tt.filter, got, tt.want)
		}
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

// testFindOrCreateKeyKeepsTheFirst asks for one key from many callers at
// once, each offering a fresh key of its own (replicas starting together):
// one offer is kept and every caller gets it, as does every later caller;
// another name gets a key of its own.
func testFindOrCreateKeyKeepsTheFirst(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	offer := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 32) }
	got := make([][]byte, 20)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			key, err := db.FindOrCreateKey(ctx, "log_links", offer(i+1))
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			got[i] = key
		})
	}
	wg.Wait()
	kept := got[0]
	if len(kept) != 32 || kept[0] == 0 || int(kept[0]) > len(got) || !bytes.Equal(kept, offer(int(kept[0]))) {
		t.Fatalf("kept key %x, want one of the offers", kept)
	}
	for i, key := range got {
		if !bytes.Equal(key, kept) {
			t.Errorf("caller %d got %x, want the kept %x", i, key, kept)
		}
	}
	if key, err := db.FindOrCreateKey(ctx, "log_links", offer(99)); err != nil || !bytes.Equal(key, kept) {
		t.Errorf("a later caller: %x, %v; want the kept %x", key, err, kept)
	}
	if key, err := db.FindOrCreateKey(ctx, "other", offer(99)); err != nil || !bytes.Equal(key, offer(99)) {
		t.Errorf("another name: %x, %v; want its own offer %x", key, err, offer(99))
	}
}
