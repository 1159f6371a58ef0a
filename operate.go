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
// and Operate is the one place that says what it means.

// The verbs an operator may use.
const (
	VerbRedeploy = "redeploy" // build again at the head, even unchanged; extends the expiry
	VerbDestroy  = "destroy"  // tear down; stays down until something new happens
	VerbExtend   = "extend"   // push the expiry back by Duration
	VerbKeep     = "keep"     // keep past the TTL (up to the maximum)
	VerbUnkeep   = "unkeep"   // expire after the TTL again
)

// Operation is what an operator asks of an environment.
type Operation struct {
	Verb     string
	Duration time.Duration // for extend
	Reason   Reason        // why Present changes: ReasonRedeploy/ReasonAdmin (API, dashboard) or ReasonCommand
}

// OperateRules are the settings an operation needs.
type OperateRules struct {
	TTL, MaxKeep time.Duration
	MaxAttempts  int
}

// ErrBadOperation is a verb Operate does not know, or an extend without a
// positive duration.
var ErrBadOperation = errors.New("unknown operation")

// Operate carries out op on e at now, changing nothing when it refuses
// (ErrPullRequestClosed, ErrForkNotApproved, ErrBadOperation), and shows
// e as queued when a run is now due.
func (e *Environment) Operate(op Operation, now time.Time, rules OperateRules) error {
	switch op.Verb {
	case VerbRedeploy:
		if err := e.Redeploy(op.Reason, now, rules.TTL); err != nil {
			return err
		}
	case VerbDestroy:
		e.Destroy(op.Reason)
	case VerbExtend:
		if op.Duration <= 0 {
			return fmt.Errorf("%w: extend takes a duration such as 48h or 3d", ErrBadOperation)
		}
		base := e.ExpiresAt
		if base.Before(now) {
			base = now
		}
		e.ExpiresAt = base.Add(op.Duration)
		if limit := now.Add(rules.MaxKeep); e.ExpiresAt.After(limit) {
			e.ExpiresAt = limit
		}
	case VerbKeep:
		e.Desired.Pinned = true
	case VerbUnkeep:
		e.Desired.Pinned = false
	default:
		return fmt.Errorf("%w %q", ErrBadOperation, op.Verb)
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
