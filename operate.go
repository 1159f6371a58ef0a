package preview

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Operators steer an environment the same way whether they use the admin
// API, the dashboard or a comment command: each asks for an Operation,
// and Operate is the one place that says what it means, by the verbs
// table below.

// The verbs' names.
const (
	VerbRedeploy = "redeploy" // build again at the head, even unchanged; counts as activity
	VerbRecheck  = "recheck"  // check parity with production again, applying nothing
	VerbDestroy  = "destroy"  // tear down; stays down until something new happens
	VerbExtend   = "extend"   // push the expiry back by a duration
	VerbKeep     = "keep"     // keep past the TTL (up to the maximum)
	VerbUnkeep   = "unkeep"   // expire after the TTL again
	VerbHelp     = "help"     // list the comment commands (a comment's only; changes nothing)
	VerbApprove  = "approve"  // build a fork's head (the ApprovalLabel's)
)

// Source is who asks for an operation: it decides which verbs they may
// use and the reason an environment records.
type Source int

// The sources.
const (
	// ByOperator is an operator on the admin API or the dashboard.
	ByOperator Source = iota + 1
	// ByCommand is a user with write access on the pull request: a
	// "/preview" comment, or the ApprovalLabel.
	ByCommand
)

// Verb is one thing an operator may ask of an environment.
type Verb struct {
	Name string
	// Comment says a "/preview" comment may name it.
	Comment bool
	// Arg is the argument it takes, as the help shows it ("duration"), ""
	// for none; ArgHint says what a valid one looks like.
	Arg, ArgHint string
	// Summary is what it does, as the help says it.
	Summary string
	// reasons has an entry for each source that may use the verb: the
	// reason recorded when it changes Desired.Present ("" when it does not).
	reasons map[Source]Reason
	// parse reads the argument (nil: none is read).
	parse func(arg string) (time.Duration, error)
	// do carries the verb out (nil: it changes nothing, as help).
	do func(e *Environment, a action) error
}

// action is one verb being carried out: its reason, its parsed argument,
// the operation and the time and rules it is carried out with.
type action struct {
	op     Operation
	reason Reason
	by     time.Duration
	now    time.Time
	rules  OperateRules
}

// verbs are every verb, in the order the help lists them.
var verbs = []Verb{
	{Name: VerbRedeploy, Comment: true, Summary: "run Terraform again for the current commit",
		reasons: map[Source]Reason{ByOperator: ReasonRedeploy, ByCommand: ReasonCommand},
		do: func(e *Environment, a action) error {
			return e.Redeploy(a.reason, a.now, a.rules.TTL, a.rules.MaxKeep)
		}},
	{Name: VerbRecheck, Comment: true, Summary: "check parity with production again, without applying anything",
		reasons: map[Source]Reason{ByCommand: ""},
		do:      func(e *Environment, a action) error { return e.Recheck() }},
	{Name: VerbDestroy, Comment: true, Summary: "tear the environment down now (the next push builds it again)",
		reasons: map[Source]Reason{ByOperator: ReasonAdmin, ByCommand: ReasonCommand},
		do:      func(e *Environment, a action) error { e.Destroy(a.reason); return nil }},
	{Name: VerbExtend, Comment: true, Arg: "duration", ArgHint: "a duration such as 48h or 3d",
		Summary: "push the expiry back, e.g. by 48h or 3d",
		reasons: map[Source]Reason{ByOperator: "", ByCommand: ""},
		parse:   positiveDuration,
		do:      func(e *Environment, a action) error { e.Extend(a.now, a.by, a.rules.MaxKeep); return nil }},
	{Name: VerbKeep, Comment: true, Summary: "keep the environment while the pull request is open (up to the configured maximum)",
		reasons: map[Source]Reason{ByOperator: "", ByCommand: ""},
		do:      func(e *Environment, a action) error { e.Desired.Pinned = true; return nil }},
	{Name: VerbUnkeep, Comment: true, Summary: "let it expire after the usual idle time again",
		reasons: map[Source]Reason{ByOperator: "", ByCommand: ""},
		do:      func(e *Environment, a action) error { e.Desired.Pinned = false; return nil }},
	{Name: VerbHelp, Comment: true, Summary: "show this",
		reasons: map[Source]Reason{ByCommand: ""}},
	{Name: VerbApprove, // the ApprovalLabel's, never a comment's
		reasons: map[Source]Reason{ByCommand: ReasonApproved},
		do: func(e *Environment, a action) error {
			e.Approve(a.op.HeadSHA, a.reason, a.now, a.rules.TTL, a.rules.MaxKeep)
			return nil
		}},
}

// Verbs returns every verb, in the order the help lists them.
func Verbs() []Verb { return append([]Verb(nil), verbs...) }

// LookupVerb returns the verb called name.
func LookupVerb(name string) (Verb, bool) {
	for _, v := range verbs {
		if v.Name == name {
			return v, true
		}
	}
	return Verb{}, false
}

// UsableBy reports whether source may ask for the verb.
func (v Verb) UsableBy(source Source) bool {
	_, ok := v.reasons[source]
	return ok
}

// positiveDuration reads a duration (ParseDuration) that moves time on.
func positiveDuration(arg string) (time.Duration, error) {
	d, err := ParseDuration(arg)
	if err != nil || d <= 0 {
		return 0, errors.New("not a positive duration")
	}
	return d, nil
}

// Operation is what an operator asks of an environment.
type Operation struct {
	Verb string // a Verb's Name
	By   Source
	// Arg is the verb's argument as written (extend's duration: "48h",
	// "3d"); a verb that takes none ignores it.
	Arg string
	// HeadSHA is, for approve, the head the approval was given on.
	HeadSHA string
}

// OperateRules are the settings an operation needs.
type OperateRules struct {
	TTL, MaxKeep time.Duration
	MaxAttempts  int
}

// ErrBadOperation is a verb Operate does not know or its source may not
// use, or an argument the verb refuses (then an *ArgumentError).
var ErrBadOperation = errors.New("unknown operation")

// ArgumentError is an argument a verb refuses. It matches ErrBadOperation.
type ArgumentError struct {
	Verb Verb
	Arg  string
}

func (e *ArgumentError) Error() string {
	return fmt.Sprintf("%s takes %s, got %q", e.Verb.Name, e.Verb.ArgHint, e.Arg)
}

// Unwrap makes an ArgumentError match ErrBadOperation.
func (e *ArgumentError) Unwrap() error { return ErrBadOperation }

// Operate carries out op on e at now, changing nothing when it refuses
// (ErrPullRequestClosed, ErrForkNotApproved, ErrBadOperation or an
// *ArgumentError), and shows e as queued when a run is now due.
func (e *Environment) Operate(op Operation, now time.Time, rules OperateRules) error {
	v, ok := LookupVerb(op.Verb)
	reason, usable := v.reasons[op.By]
	if !ok || !usable || v.do == nil {
		return fmt.Errorf("%w %q", ErrBadOperation, op.Verb)
	}
	a := action{op: op, reason: reason, now: now, rules: rules}
	if v.parse != nil {
		by, err := v.parse(op.Arg)
		if err != nil {
			return &ArgumentError{Verb: v, Arg: op.Arg}
		}
		a.by = by
	}
	if err := v.do(e, a); err != nil {
		return err
	}
	e.Requeue(now, rules.MaxAttempts)
	return nil
}

// ParseDuration reads Go durations and whole days ("3d").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// Command is a "/preview …" command from a pull-request comment, or an
// approval ("approve": the preview:approved label on a fork's pull request).
// It runs only after GitHub confirms User has write access.
type Command struct {
	ID             string `json:"id"`                 // set when stored
	HeadSHA        string `json:"head_sha,omitempty"` // for approve: the head the label was given on
	Repo           string `json:"repo"`
	Number         int    `json:"number"`
	User           string `json:"user"`
	CommentID      int64  `json:"comment_id"`
	Verb           string `json:"verb"` // a Verb's Name
	Arg            string `json:"arg,omitempty"`
	InstallationID int64  `json:"installation_id,omitempty"`
	// CheckRun and CheckRunID are, for a button or a re-run asked on one
	// of previewd's check runs, that run: a refusal is answered there.
	CheckRun   string `json:"check_run,omitempty"`
	CheckRunID int64  `json:"check_run_id,omitempty"`
}

// Operation is what cmd asks of its environment.
func (cmd Command) Operation() Operation {
	return Operation{Verb: cmd.Verb, By: ByCommand, Arg: cmd.Arg, HeadSHA: cmd.HeadSHA}
}
