package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/store"
	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "previewd.db")
	}
	db, err := store.Open(path, store.Options{TTL: time.Hour, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pr(number int, branch, sha string, open bool, updated time.Time) preview.PullRequest {
	return preview.PullRequest{Repo: "acme/shop", Number: number, Open: open, HeadSHA: sha, Branch: branch, UpdatedAt: updated, Author: "alice"}
}

func record(t *testing.T, db *store.DB, delivery string, p preview.PullRequest) preview.RecordResult {
	t.Helper()
	res, err := db.RecordPullRequest(context.Background(), delivery, p)
	if err != nil {
		t.Fatalf("record %s: %v", delivery, err)
	}
	return res
}

func TestRecordPullRequestLifecycle(t *testing.T) {
	db := openDB(t, "")
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

func TestRecordPullRequestIgnoresUnknownClosed(t *testing.T) {
	db := openDB(t, "")
	if res := record(t, db, "d1", pr(7, "x", "aaa", false, t0)); res.Changed || res.Environment.Name != "" {
		t.Errorf("closed pull request never seen: got %+v, want nothing", res)
	}
	envs, _ := db.FindEnvironments(context.Background(), preview.EnvironmentFilter{})
	if len(envs) != 0 {
		t.Errorf("got %d environments, want 0", len(envs))
	}
}

func TestNamesUniqueAndStable(t *testing.T) {
	db := openDB(t, "")
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

func TestDestroyedEnvironmentFreesItsName(t *testing.T) {
	db := openDB(t, "")
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

func TestConcurrentDeliveriesAllStored(t *testing.T) {
	db := openDB(t, "")
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

func TestSecondProcessIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.db")
	openDB(t, path)
	start := time.Now()
	_, err := store.Open(path, store.Options{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "another previewd") {
		t.Fatalf("second open: got %v, want ErrLocked naming another previewd", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("second open took %v, want about the timeout", time.Since(start))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket([]byte("meta"))
		return m.Put([]byte("schema_version"), []byte("99"))
	})
	b.Close()
	if _, err := store.Open(path, store.Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("got %v, want a newer-schema error", err)
	}
}

func TestRunJournal(t *testing.T) {
	db := openDB(t, "")
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

func TestBackupIsAUsableDatabase(t *testing.T) {
	db := openDB(t, "")
	record(t, db, "d1", pr(1, "feature/a", "a", true, t0))
	var buf bytes.Buffer
	if _, err := db.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "restored.db")
	if err := writeFile(path, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	restored := openDB(t, path)
	if _, err := restored.FindEnvironmentByName(context.Background(), "feature-a"); err != nil {
		t.Fatalf("restored backup: %v", err)
	}
}

func TestPruneDeliveries(t *testing.T) {
	db := openDB(t, "")
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

func TestMigrationFromSchema1BuildsTheLiveIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket([]byte("meta"))
		meta.Put([]byte("schema_version"), []byte("1"))
		envs, _ := tx.CreateBucket([]byte("environments"))
		for _, name := range []string{"dead", "alive"} {
			tx.CreateBucketIfNotExists([]byte("pull_requests"))
			tx.CreateBucketIfNotExists([]byte("deliveries"))
			tx.CreateBucketIfNotExists([]byte("runs"))
			status := "ready"
			if name == "dead" {
				status = "destroyed"
			}
			envs.Put([]byte(name), fmt.Appendf(nil, `{"name":%q,"status":%q}`, name, status))
		}
		return nil
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, path)
	live, err := db.FindEnvironments(context.Background(), preview.EnvironmentFilter{LiveOnly: true})
	if err != nil || len(live) != 1 || live[0].Name != "alive" {
		t.Fatalf("live after migration: got %+v (err %v), want just alive", live, err)
	}
}

func TestFindEnvironmentsJSONMatchesDecodedList(t *testing.T) {
	db := openDB(t, "")
	ctx := context.Background()
	record(t, db, "d1", pr(1, "a", "a", true, t0))
	record(t, db, "d2", pr(2, "b", "b", true, t0))
	db.UpdateEnvironment(ctx, "a", func(e *preview.Environment) error { e.Status = preview.StatusDestroyed; return nil })
	for _, f := range []preview.EnvironmentFilter{{}, {LiveOnly: true}, {Repo: "ACME/shop"}} {
		raw, _, err := db.FindEnvironmentsJSON(ctx, f)
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
	if raw, _, _ := db.FindEnvironmentsJSON(ctx, preview.EnvironmentFilter{Repo: "other/repo"}); string(raw) != "[]" {
		t.Errorf("no match: got %s want []", raw)
	}
}

// TestFindEnvironmentsPages walks 25 environments (every third destroyed)
// in pages of 4, with every filter, and wants each exactly once, in order.
func TestFindEnvironmentsPages(t *testing.T) {
	db := openDB(t, "")
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
			raw, next, err := db.FindEnvironmentsJSON(ctx, page)
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

func TestTakenDownStaysDownUntilSomethingNewHappens(t *testing.T) {
	db := openDB(t, "")
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

func TestForkPullRequestsWaitForApprovalOfTheirHead(t *testing.T) {
	db := openDB(t, "")
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

func TestCommandsQueue(t *testing.T) {
	db := openDB(t, "")
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
