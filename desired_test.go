package preview

import (
	"testing"
	"time"
)

// TestPullRequestRules exercises the desired-state rules without a store:
// what an event does to the environment stored for its pull request.
func TestPullRequestRules(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rules := PullRequestRules{TTL: time.Hour}
	open := PullRequest{Repo: "acme/shop", Number: 1, Open: true, HeadSHA: "a", Branch: "feature", UpdatedAt: t0}
	live := Environment{Name: "feature", Repo: "acme/shop", PR: 1, HeadSHA: "a", Branch: "feature", Status: StatusReady, AppliedSHA: "a",
		Desired: Desired{Present: true, PROpen: true, Reason: ReasonOpened, PRUpdatedAt: t0}}
	closed := open
	closed.Open, closed.UpdatedAt = false, t0.Add(time.Minute)
	draft := open
	draft.Draft = true
	fork := open
	fork.Fork = true
	pushed := open
	pushed.HeadSHA, pushed.UpdatedAt = "b", t0.Add(time.Minute)
	takenDown := live
	takenDown.Desired.Present, takenDown.Desired.Reason = false, ReasonAdmin
	evicted := live
	evicted.Desired.Present, evicted.Desired.Reason = false, ReasonEvicted
	tests := []struct {
		name    string
		env     Environment
		found   bool
		pr      PullRequest
		update  PullRequestUpdate
		changed bool
		present bool
		reason  Reason
		status  Status
	}{
		{"a new pull request", Environment{}, false, open, UpdateCreate, true, true, ReasonOpened, StatusQueued},
		{"closed before previewd saw it", Environment{}, false, closed, UpdateNone, false, false, "", ""},
		{"a draft", Environment{}, false, draft, UpdateNone, false, false, "", ""},
		{"a fork's, unapproved", Environment{}, false, fork, UpdateCreate, true, false, ReasonAwaitingApproval, StatusDestroyed},
		{"a push", live, true, pushed, UpdateApply, true, true, ReasonOpened, StatusQueued},
		{"closed", live, true, closed, UpdateApply, true, false, ReasonClosed, StatusReady},
		{"an older event", live, true, func() PullRequest { p := open; p.UpdatedAt = t0.Add(-time.Minute); return p }(), UpdateStale, false, true, ReasonOpened, StatusReady},
		{"taken down, then the same state again", takenDown, true, open, UpdateApply, false, false, ReasonAdmin, StatusReady},
		{"taken down, then a push", takenDown, true, pushed, UpdateApply, true, true, ReasonOpened, StatusQueued},
		{"evicted, then the same state again", evicted, true, open, UpdateApply, false, false, ReasonEvicted, StatusReady},
		{"evicted, then a push", evicted, true, pushed, UpdateApply, true, true, ReasonOpened, StatusQueued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			update := ClassifyPullRequest(tt.env, tt.found, tt.pr, rules)
			if update != tt.update {
				t.Fatalf("update %d, want %d", update, tt.update)
			}
			if update == UpdateNone || update == UpdateStale {
				return
			}
			env := tt.env
			changed := ApplyPullRequest(&env, update == UpdateCreate, tt.pr, t0.Add(2*time.Minute), rules)
			if changed != tt.changed || env.Desired.Present != tt.present || env.Desired.Reason != tt.reason || env.Status != tt.status {
				t.Errorf("changed %v present %v reason %q status %s; want %v %v %q %s", changed, env.Desired.Present, env.Desired.Reason, env.Status, tt.changed, tt.present, tt.reason, tt.status)
			}
			if changed && !env.ExpiresAt.Equal(t0.Add(2*time.Minute+time.Hour)) {
				t.Errorf("a change moved the expiry to %v, want an hour after it", env.ExpiresAt)
			}
		})
	}
}

func TestRedeployAndDestroy(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	env := Environment{HeadSHA: "a", Status: StatusReady, AppliedSHA: "a", Desired: Desired{Present: true, PROpen: true}}
	if err := env.Redeploy(ReasonCommand, now, time.Hour, 3*time.Hour); err != nil || env.Desired.Generation != 1 || env.Desired.Reason != ReasonCommand || !env.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("redeploy: %v, %+v", err, env)
	}
	env.Requeue(now, 3)
	if env.Status != StatusQueued {
		t.Errorf("after a redeploy the environment shows %s, want queued", env.Status)
	}
	closed := Environment{Desired: Desired{PROpen: false}}
	if err := closed.Redeploy(ReasonRedeploy, now, time.Hour, 3*time.Hour); err != ErrPullRequestClosed || closed.Desired.Generation != 0 {
		t.Errorf("a closed pull request: %v, %+v", err, closed)
	}
	fork := Environment{HeadSHA: "b", Desired: Desired{PROpen: true, Fork: true, ApprovedSHA: "a"}}
	if err := fork.Redeploy(ReasonRedeploy, now, time.Hour, 3*time.Hour); err != ErrForkNotApproved || fork.Desired.Present {
		t.Errorf("a fork's unapproved head: %v, %+v", err, fork)
	}
	gaveUp := Environment{Status: StatusFailed, LastPhase: PhaseDestroy, Attempts: 5, RetryAt: now.Add(time.Hour), Desired: Desired{Present: false}}
	gaveUp.Destroy(ReasonAdmin)
	if gaveUp.Attempts != 0 || !gaveUp.RetryAt.IsZero() || gaveUp.Desired.Reason != ReasonAdmin {
		t.Errorf("a destroy that gave up, asked again: %+v", gaveUp)
	}
	busy := Environment{Status: StatusProvisioning, Desired: Desired{Present: true, Generation: 2}}
	busy.Requeue(now, 3)
	if busy.Status != StatusProvisioning {
		t.Errorf("a running environment shows %s, want provisioning", busy.Status)
	}
}
