package controller_test

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/store"
)

// fakeBudgets caps live environments per repository and over all.
type fakeBudgets struct {
	repo          map[string]int
	total         int
	evict, across bool
}

func (f fakeBudgets) Budget(repo string) controller.Budget {
	return controller.Budget{RepoMax: f.repo[repo], TotalMax: f.total, Evict: f.evict, EvictAcrossRepos: f.across}
}

// applyAtOnce applies every head at once, except "broken" ones, which
// fail (not transiently).
func applyAtOnce() *fakeProvisioner {
	return &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		if env.HeadSHA == "broken" {
			return "", errors.New("Error: creating the database: quota exceeded")
		}
		return "https://" + env.Name + ".test/", nil
	}}
}

// openIn records pull request number of repo open at sha and returns its
// environment's name ("a-1" for acme/a's first).
func (h *harness) openIn(repo string, number int, sha string, at time.Time) string {
	h.t.Helper()
	res, err := h.db.RecordPullRequest(context.Background(), "", preview.PullRequest{
		Repo: repo, Number: number, Open: true, HeadSHA: sha, Branch: fmt.Sprintf("%s-%d", path.Base(repo), number), UpdatedAt: at,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.ctrl.Nudge(res.Environment.Name)
	return res.Environment.Name
}

// closeIn records pull request number of repo closed.
func (h *harness) closeIn(repo string, number int, at time.Time) {
	h.t.Helper()
	res, err := h.db.RecordPullRequest(context.Background(), "", preview.PullRequest{
		Repo: repo, Number: number, Open: false, Branch: fmt.Sprintf("%s-%d", path.Base(repo), number), UpdatedAt: at,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.ctrl.Nudge(res.Environment.Name)
}

// tick moves the controller's clock on by d, so the next environment to
// wait for room waits after the earlier ones.
func (h *harness) tick(d time.Duration) {
	next := h.now.Load().Add(d)
	h.now.Store(&next)
}

func waitingIn(scope string) func(preview.Environment) bool {
	return func(e preview.Environment) bool {
		return e.Status == preview.StatusQueued && e.Budget != nil && e.Budget.Scope == scope
	}
}

// TestRepositoryCapHoldsUpOnlyItsRepository: with acme/a capped at 2 (2
// live, 3 waiting) and 4 over all, acme/b's environments are built while
// acme/a's wait for their repository; the one over all waits first in the
// line over all, and a-3, whose repository then has room, goes before it.
func TestRepositoryCapHoldsUpOnlyItsRepository(t *testing.T) {
	budgets := fakeBudgets{repo: map[string]int{"acme/a": 2}, total: 4}
	h := startWith(t, applyAtOnce(), nil, func(c *controller.Config) { c.Budgets = budgets })
	t0 := time.Now().Add(-time.Hour)
	for i := 1; i <= 5; i++ {
		h.tick(time.Second)
		name := h.openIn("acme/a", i, "sha1", t0)
		if i <= 2 {
			h.waitFor(name, "ready", readyAt("sha1"))
		} else {
			h.waitFor(name, "waiting for acme/a", waitingIn("acme/a"))
		}
	}
	for i := 1; i <= 2; i++ {
		h.tick(time.Second)
		h.waitFor(h.openIn("acme/b", i, "sha1", t0), "ready: two slots are free over all", readyAt("sha1"))
	}
	h.tick(time.Second)
	b3 := h.openIn("acme/b", 3, "sha1", t0)
	env := h.waitFor(b3, "waiting over all", waitingIn("all"))
	if got := *env.Budget; got.Live != 4 || got.Max != 4 || got.Position != 1 {
		t.Errorf("b-3's wait: got %+v, want 4 live of 4, 1st in line (acme/a's are not ahead)", got)
	}

	h.closeIn("acme/a", 1, t0.Add(time.Minute))
	h.waitFor("a-3", "built: its repository has room and it waited longer than b-3", readyAt("sha1"))
	env = h.waitFor(b3, "still waiting over all, with 4 live again", func(e preview.Environment) bool {
		return waitingIn("all")(e) && e.Budget.Live == 4
	})
	if env.Budget.Position != 1 {
		t.Errorf("b-3's place: got %d, want 1 (a-4 and a-5 wait for acme/a)", env.Budget.Position)
	}
}

// passingChecks passes both required checks of the heads shas; on "bad"
// build-image fails; any other head waits.
func passingChecks(shas ...string) *fakeChecks {
	f := &fakeChecks{states: map[string]map[string]preview.CheckState{}, timeout: time.Hour}
	f.set("bad", "build-image", preview.CheckFailure)
	for _, sha := range shas {
		f.set(sha, "build-image", preview.CheckSuccess)
		f.set(sha, "test", preview.CheckSuccess)
	}
	return f
}

// TestFailedChecksTakeNoRoom: a pull request whose required check failed
// before any apply is failed but holds nothing, so it does not fill the
// cap; an apply that failed may have left resources and still counts.
func TestFailedChecksTakeNoRoom(t *testing.T) {
	checks := passingChecks("ok2", "ok3", "broken", "ok5")
	h := startWith(t, applyAtOnce(), nil, func(c *controller.Config) {
		c.Budgets, c.Checks.Required = fakeBudgets{total: 2}, checks
	})
	t0 := time.Now().Add(-time.Hour)
	failing := h.openIn("acme/shop", 1, "bad", t0)
	h.waitFor(failing, "failed on its check", func(e preview.Environment) bool {
		return e.Status == preview.StatusFailed && e.Checks.Failed == "build-image"
	})
	h.waitFor(h.openIn("acme/shop", 2, "ok2", t0), "ready", readyAt("ok2"))
	h.waitFor(h.openIn("acme/shop", 3, "ok3", t0), "ready: the failing pull request takes no room", readyAt("ok3"))

	h.closeIn("acme/shop", 2, t0.Add(time.Minute))
	h.waitFor("shop-2", "destroyed", func(e preview.Environment) bool { return e.Status == preview.StatusDestroyed })
	h.waitFor(h.openIn("acme/shop", 4, "broken", t0), "failed apply", func(e preview.Environment) bool {
		return e.Status == preview.StatusFailed && e.LastPhase == preview.PhaseApply
	})
	env := h.waitFor(h.openIn("acme/shop", 5, "ok5", t0), "waiting over all", waitingIn("all"))
	if env.Budget.Live != 2 {
		t.Errorf("live environments: got %d, want 2 (shop-3 and the failed apply shop-4, not shop-1)", env.Budget.Live)
	}
}

// TestFailedChecksLeaveTheLine: an environment waiting for room whose new
// head fails its required checks would not take the room, so it leaves the
// line: the next one is built when room is made.
func TestFailedChecksLeaveTheLine(t *testing.T) {
	checks := passingChecks("ok1", "ok2", "ok3")
	h := startWith(t, applyAtOnce(), nil, func(c *controller.Config) {
		c.Budgets, c.Checks.Required = fakeBudgets{total: 1}, checks
	})
	t0 := time.Now().Add(-time.Hour)
	first := h.openIn("acme/shop", 1, "ok1", t0)
	h.waitFor(first, "ready", readyAt("ok1"))
	h.tick(time.Second)
	second := h.openIn("acme/shop", 2, "ok2", t0)
	h.waitFor(second, "waiting", waitingIn("all"))
	h.openIn("acme/shop", 2, "bad", t0.Add(time.Minute))
	h.waitFor(second, "failed on its new head's check", func(e preview.Environment) bool {
		return e.Status == preview.StatusFailed && e.Checks.SHA == "bad" && e.Checks.Failed == "build-image"
	})
	h.tick(time.Second)
	third := h.openIn("acme/shop", 3, "ok3", t0)
	env := h.waitFor(third, "waiting", waitingIn("all"))
	if env.Budget.Position != 1 {
		t.Errorf("shop-3's place: got %d, want 1 (shop-2 failed its checks)", env.Budget.Position)
	}
	h.closeIn("acme/shop", 1, t0.Add(time.Minute))
	h.waitFor(third, "built once shop-1 was torn down", readyAt("ok3"))
}

// TestAdmissionMovesTheLineUp: when the first in line is admitted, the
// one behind it learns at once that it is first now, without waiting for
// a sweep (an hour here). Here the room is made while the first in line
// still waits for its checks, so the second has already been told it is
// second when the first's checks pass and it alone is queued.
func TestAdmissionMovesTheLineUp(t *testing.T) {
	checks := passingChecks("ok1", "ok2", "ok3") // any other head waits for its checks
	h := startWith(t, applyAtOnce(), nil, func(c *controller.Config) {
		c.Budgets = fakeBudgets{total: 1}
		c.Checks = controller.ChecksConfig{Required: checks, PollInterval: time.Hour}
		c.SweepInterval = time.Hour
	})
	t0 := time.Now().Add(-time.Hour)
	first := h.openIn("acme/shop", 1, "ok1", t0)
	h.waitFor(first, "ready", readyAt("ok1"))
	h.tick(time.Second)
	second := h.openIn("acme/shop", 2, "ok2", t0)
	h.waitFor(second, "1st in line", func(e preview.Environment) bool { return waitingIn("all")(e) && e.Budget.Position == 1 })
	h.tick(time.Second)
	third := h.openIn("acme/shop", 3, "ok3", t0)
	h.waitFor(third, "2nd in line", func(e preview.Environment) bool { return waitingIn("all")(e) && e.Budget.Position == 2 })

	h.openIn("acme/shop", 2, "slow", t0.Add(time.Minute)) // its checks are pending: it keeps its place
	h.waitFor(second, "waiting for the checks of its new head", func(e preview.Environment) bool {
		return waitingIn("all")(e) && e.Checks.SHA == "slow" && len(e.Checks.Waiting) == 2
	})
	h.closeIn("acme/shop", 1, t0.Add(time.Minute))
	h.waitFor(third, "told of the room made, and still 2nd: shop-2 is ahead", func(e preview.Environment) bool {
		return waitingIn("all")(e) && e.Budget.Live == 0 && e.Budget.Position == 2
	})

	checks.set("slow", "build-image", preview.CheckSuccess)
	checks.set("slow", "test", preview.CheckSuccess)
	h.ctrl.NudgeChecks(preview.Commit{Repo: "acme/shop", SHA: "slow"})
	h.waitFor(second, "built once its checks passed", readyAt("slow"))
	env := h.waitFor(third, "1st in line now", func(e preview.Environment) bool { return waitingIn("all")(e) && e.Budget.Position == 1 })
	if env.Budget.Live != 1 || env.Budget.Max != 1 {
		t.Errorf("shop-3's wait: got %+v, want 1 live of 1", *env.Budget)
	}
}

// TestEvictionStaysInTheAskingRepository: with a cap over all and
// eviction, a new environment of acme/a evicts acme/a's idlest, although
// acme/b's has been idle longer, unless evict_across_repos; either way the
// evicted environment stays down when its unchanged pull request is
// recorded again (a resync).
func TestEvictionStaysInTheAskingRepository(t *testing.T) {
	for _, tt := range []struct {
		across bool
		victim string
		spared string
	}{
		{false, "a-1", "b-1"},
		{true, "b-1", "a-1"},
	} {
		t.Run(fmt.Sprintf("across=%v", tt.across), func(t *testing.T) {
			var clock atomic.Pointer[time.Time] // the store's: last activity
			t0 := time.Now()
			clock.Store(&t0)
			db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour, Now: func() time.Time { return *clock.Load() }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			h := startWith(t, applyAtOnce(), db, func(c *controller.Config) {
				c.Budgets = fakeBudgets{total: 2, evict: true, across: tt.across}
			})
			at := t0.Add(-time.Hour)
			h.waitFor(h.openIn("acme/b", 1, "sha1", at), "ready", readyAt("sha1"))
			later := t0.Add(time.Minute)
			clock.Store(&later)
			h.waitFor(h.openIn("acme/a", 1, "sha1", at), "ready", readyAt("sha1"))
			h.openIn("acme/a", 2, "sha1", at)
			env := h.waitFor(tt.victim, "evicted", func(e preview.Environment) bool { return e.Status == preview.StatusDestroyed })
			if env.Desired.Reason != preview.ReasonEvicted {
				t.Errorf("%s's reason: got %q, want evicted", tt.victim, env.Desired.Reason)
			}
			h.waitFor("a-2", "built in its place", readyAt("sha1"))
			if env, err := db.FindEnvironmentByName(context.Background(), tt.spared); err != nil || env.Status != preview.StatusReady || !env.Desired.Present {
				t.Errorf("%s: got %s, present %v (err %v); want it left alone", tt.spared, env.Status, env.Desired.Present, err)
			}

			repo, number := "acme/"+tt.victim[:1], 1
			res, err := db.RecordPullRequest(context.Background(), "", preview.PullRequest{
				Repo: repo, Number: number, Open: true, HeadSHA: "sha1", Branch: tt.victim, UpdatedAt: at,
			})
			if err != nil || res.Changed || res.Environment.Desired.Present {
				t.Errorf("the evicted pull request recorded again: changed %v, present %v (err %v); want it left down", res.Changed, res.Environment.Desired.Present, err)
			}
		})
	}
}
