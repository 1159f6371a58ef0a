package preview

import (
	"errors"
	"testing"
	"time"
)

// TestOperate: what each operator action does, the same from the admin
// API, the dashboard and a comment command.
func TestOperate(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rules := OperateRules{TTL: 72 * time.Hour, MaxKeep: 30 * 24 * time.Hour, MaxAttempts: 5}
	fresh := func() Environment {
		return Environment{Name: "x", Status: StatusReady, HeadSHA: "a", AppliedSHA: "a", ExpiresAt: now.Add(time.Hour),
			Desired: Desired{Present: true, PROpen: true, Reason: ReasonOpened}}
	}
	e := fresh()
	if err := e.Operate(Operation{Verb: VerbRedeploy, Reason: ReasonRedeploy}, now, rules); err != nil || e.Desired.Generation != 1 || e.Status != StatusQueued || !e.ExpiresAt.Equal(now.Add(72*time.Hour)) {
		t.Errorf("redeploy: %v %+v", err, e)
	}
	e = fresh()
	e.Operate(Operation{Verb: VerbExtend, Duration: 48 * time.Hour}, now, rules)
	if !e.ExpiresAt.Equal(now.Add(49 * time.Hour)) {
		t.Errorf("extend by 48h: expires %s", e.ExpiresAt)
	}
	e.Operate(Operation{Verb: VerbExtend, Duration: 9999 * time.Hour}, now, rules)
	if !e.ExpiresAt.Equal(now.Add(rules.MaxKeep)) {
		t.Errorf("extend past the maximum: expires %s", e.ExpiresAt)
	}
	e.Operate(Operation{Verb: VerbKeep}, now, rules)
	if !e.Desired.Pinned {
		t.Error("keep did not pin")
	}
	e.Operate(Operation{Verb: VerbUnkeep}, now, rules)
	if e.Desired.Pinned {
		t.Error("unkeep did not unpin")
	}
	e.Operate(Operation{Verb: VerbDestroy, Reason: ReasonAdmin}, now, rules)
	if e.Desired.Present || e.Desired.Reason != ReasonAdmin {
		t.Errorf("destroy: %+v", e.Desired)
	}
	for _, op := range []Operation{{Verb: "launch"}, {Verb: VerbExtend}} {
		e := fresh()
		if err := e.Operate(op, now, rules); !errors.Is(err, ErrBadOperation) {
			t.Errorf("%+v: %v, want ErrBadOperation", op, err)
		}
	}
	e = fresh()
	e.Desired.PROpen = false
	if err := e.Operate(Operation{Verb: VerbRedeploy}, now, rules); !errors.Is(err, ErrPullRequestClosed) || e.Desired.Generation != 0 {
		t.Errorf("redeploy a closed pull request: %v", err)
	}
}
