package preview

import (
	"errors"
	"slices"
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
	if err := e.Operate(Operation{Verb: VerbRedeploy, By: ByOperator}, now, rules); err != nil || e.Desired.Generation != 1 || e.Status != StatusQueued || !e.ExpiresAt.Equal(now.Add(72*time.Hour)) {
		t.Errorf("redeploy: %v %+v", err, e)
	}
	e = fresh()
	e.Operate(Operation{Verb: VerbExtend, By: ByOperator, Arg: "48h"}, now, rules)
	if !e.ExpiresAt.Equal(now.Add(49 * time.Hour)) {
		t.Errorf("extend by 48h: expires %s", e.ExpiresAt)
	}
	e.Operate(Operation{Verb: VerbExtend, By: ByOperator, Arg: "9999h"}, now, rules)
	if !e.ExpiresAt.Equal(now.Add(rules.MaxKeep)) {
		t.Errorf("extend past the maximum: expires %s", e.ExpiresAt)
	}
	e.Operate(Operation{Verb: VerbKeep, By: ByOperator}, now, rules)
	if !e.Desired.Pinned {
		t.Error("keep did not pin")
	}
	e.Operate(Operation{Verb: VerbUnkeep, By: ByOperator}, now, rules)
	if e.Desired.Pinned {
		t.Error("unkeep did not unpin")
	}
	e.Operate(Operation{Verb: VerbDestroy, By: ByOperator}, now, rules)
	if e.Desired.Present || e.Desired.Reason != ReasonAdmin {
		t.Errorf("destroy: %+v", e.Desired)
	}
	for _, op := range []Operation{{Verb: "launch", By: ByOperator}, {Verb: VerbExtend, By: ByOperator}} {
		e := fresh()
		if err := e.Operate(op, now, rules); !errors.Is(err, ErrBadOperation) {
			t.Errorf("%+v: %v, want ErrBadOperation", op, err)
		}
	}
	e = fresh()
	e.Desired.PROpen = false
	if err := e.Operate(Operation{Verb: VerbRedeploy, By: ByOperator}, now, rules); !errors.Is(err, ErrPullRequestClosed) || e.Desired.Generation != 0 {
		t.Errorf("redeploy a closed pull request: %v", err)
	}
}

// TestVerbs: who may use each verb, the reason it records, and the
// argument it needs: the one table the admin API, the dashboard, the
// comment parser, the help and Operate read.
func TestVerbs(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rules := OperateRules{TTL: time.Hour, MaxKeep: 3 * time.Hour, MaxAttempts: 5}
	ready := Environment{Name: "x", Status: StatusReady, HeadSHA: "a", AppliedSHA: "a",
		Desired: Desired{Present: true, PROpen: true, Reason: ReasonOpened}}
	for _, tt := range []struct {
		verb    string
		by      Source
		usable  bool
		present bool
		reason  Reason // what Desired.Reason is after
	}{
		{VerbRedeploy, ByOperator, true, true, ReasonRedeploy},
		{VerbRedeploy, ByCommand, true, true, ReasonCommand},
		{VerbDestroy, ByOperator, true, false, ReasonAdmin},
		{VerbDestroy, ByCommand, true, false, ReasonCommand},
		{VerbKeep, ByOperator, true, true, ReasonOpened},
		{VerbUnkeep, ByCommand, true, true, ReasonOpened},
		{VerbHelp, ByCommand, true, true, ReasonOpened},
		{VerbHelp, ByOperator, false, true, ReasonOpened},
		{VerbApprove, ByCommand, true, true, ReasonApproved},
		{VerbApprove, ByOperator, false, true, ReasonOpened},
	} {
		v, ok := LookupVerb(tt.verb)
		if !ok || v.UsableBy(tt.by) != tt.usable {
			t.Errorf("%s by %d: known %v, usable %v; want usable %v", tt.verb, tt.by, ok, v.UsableBy(tt.by), tt.usable)
		}
		e := ready
		err := e.Operate(Operation{Verb: tt.verb, By: tt.by, HeadSHA: "a"}, now, rules)
		if (err == nil) != (tt.usable && tt.verb != VerbHelp) || e.Desired.Present != tt.present || e.Desired.Reason != tt.reason {
			t.Errorf("%s by %d: %v, present %v reason %q; want present %v reason %q", tt.verb, tt.by, err, e.Desired.Present, e.Desired.Reason, tt.present, tt.reason)
		}
	}

	var comment []string
	for _, v := range Verbs() {
		if v.Comment {
			comment = append(comment, v.Name)
		}
	}
	if want := []string{"redeploy", "recheck", "destroy", "extend", "keep", "unkeep", "help"}; !slices.Equal(comment, want) {
		t.Errorf("a comment's verbs: %v, want %v (approve comes from a label)", comment, want)
	}

	for _, arg := range []string{"", "soon", "-1h", "0", "0d"} {
		e := ready
		err := e.Operate(Operation{Verb: VerbExtend, By: ByCommand, Arg: arg}, now, rules)
		var bad *ArgumentError
		if !errors.As(err, &bad) || !errors.Is(err, ErrBadOperation) || bad.Verb.Name != VerbExtend || e.ExpiresAt != ready.ExpiresAt {
			t.Errorf("extend %q: %v, expires %s; want an ArgumentError that changes nothing", arg, err, e.ExpiresAt)
		}
	}
	e := ready
	if err := e.Operate(Operation{Verb: VerbExtend, By: ByCommand, Arg: "2d"}, now, rules); err != nil || !e.ExpiresAt.Equal(now.Add(rules.MaxKeep)) {
		t.Errorf("extend by 2d, 3h at most: %v, expires %s", err, e.ExpiresAt)
	}
}

// TestApprove: an approval builds a fork's approved head, through Operate
// like any command, and only while that head is the pull request's.
func TestApprove(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rules := OperateRules{TTL: time.Hour, MaxKeep: 3 * time.Hour, MaxAttempts: 5}
	waiting := Environment{Name: "x", Status: StatusDestroyed, HeadSHA: "b",
		Desired: Desired{PROpen: true, Fork: true, Reason: ReasonAwaitingApproval}}
	cmd := Command{Verb: VerbApprove, HeadSHA: "b"}
	e := waiting
	if err := e.Operate(cmd.Operation(), now, rules); err != nil || !e.Desired.Present || e.Desired.Reason != ReasonApproved ||
		e.Status != StatusQueued || !e.ExpiresAt.Equal(now.Add(time.Hour)) || e.Desired.ApprovedSHA != "b" {
		t.Errorf("approve the head: %v, %+v", err, e)
	}
	if err := e.Operate(Operation{Verb: VerbRedeploy, By: ByCommand}, now, rules); err != nil {
		t.Errorf("redeploy an approved head: %v", err)
	}
	older := waiting
	older.Operate(Command{Verb: VerbApprove, HeadSHA: "a"}.Operation(), now, rules)
	if older.Desired.Present || older.Desired.ApprovedSHA != "a" {
		t.Errorf("approve an older head: %+v, want it recorded and nothing built", older.Desired)
	}
	if err := older.Operate(Operation{Verb: VerbRedeploy, By: ByOperator}, now, rules); !errors.Is(err, ErrForkNotApproved) {
		t.Errorf("redeploy an unapproved head: %v, want ErrForkNotApproved", err)
	}
}

// TestForkTrust: a fork's pull request is trusted only at its approved
// head; the repository's own branches always.
func TestForkTrust(t *testing.T) {
	d := Desired{ApprovedSHA: "a"}
	for _, tt := range []struct {
		fork bool
		head string
		want bool
	}{{false, "b", true}, {true, "a", true}, {true, "b", false}, {true, "", false}} {
		if got := d.trusts(tt.fork, tt.head); got != tt.want {
			t.Errorf("fork %v at %q: trusted %v, want %v", tt.fork, tt.head, got, tt.want)
		}
	}
}

// TestRecheck forgets a ready environment's verdict so its applied commit
// is checked again, and refuses when nothing is applied.
func TestRecheck(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e := Environment{Status: StatusReady, HeadSHA: "abc", AppliedSHA: "abc", AppliedGeneration: 3, Desired: Desired{Present: true, PROpen: true, Generation: 3},
		Parity: ParityReport{Status: ParityDrift, SHA: "abc", Generation: 3, CheckedAt: now}}
	if e.ParityVerdict() != ParityDrift {
		t.Fatalf("verdict %s before", e.ParityVerdict())
	}
	if err := e.Operate(Operation{Verb: VerbRecheck, By: ByCommand}, now, OperateRules{TTL: time.Hour, MaxKeep: 2 * time.Hour, MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}
	if e.ParityVerdict() != ParityUnchecked || e.Status != StatusReady || e.Desired.Reason != "" {
		t.Errorf("after a re-check: verdict %s, status %s, reason %q; want unchecked, still ready, nothing else changed", e.ParityVerdict(), e.Status, e.Desired.Reason)
	}
	e.Status = StatusProvisioning
	if err := e.Operate(Operation{Verb: VerbRecheck, By: ByCommand}, now, OperateRules{}); !errors.Is(err, ErrNothingApplied) {
		t.Errorf("a re-check while provisioning: %v, want ErrNothingApplied", err)
	}
	if err := e.Operate(Operation{Verb: VerbRecheck, By: ByOperator}, now, OperateRules{}); !errors.Is(err, ErrBadOperation) {
		t.Errorf("a re-check by an operator: %v, want it refused (comments and check runs ask for it)", err)
	}
}
