package preview

import "time"

// CheckState is what a required check (a check run, or a commit status, by
// name) says of a head.
type CheckState string

// The states previewd tells apart.
const (
	// CheckPending: queued, in progress, or not reported yet.
	CheckPending CheckState = "pending"
	// CheckSuccess: completed with success (or neutral, or skipped).
	CheckSuccess CheckState = "success"
	// CheckFailure: failed, errored, cancelled, timed out, or waiting for
	// an action.
	CheckFailure CheckState = "failure"
)

// Checks is what an environment's head waits for before it is applied, as
// last read (wait_for_checks): the required checks' states on SHA.
type Checks struct {
	// SHA is the head the checks were read on.
	SHA string `json:"sha,omitempty"`
	// Waiting names the required checks that have not succeeded yet, in
	// the configured order.
	Waiting []string `json:"waiting,omitempty"`
	// Failed is the first required check that failed; "" when none did.
	Failed string `json:"failed,omitempty"`
	// TimedOut is set when the wait for SHA outlasted the check timeout.
	TimedOut bool `json:"timed_out,omitempty"`
	// Since is when the wait for SHA began.
	Since time.Time `json:"since,omitzero"`
}

// Passed reports whether every required check succeeded on the head the
// checks were read on.
func (c Checks) Passed() bool { return c.SHA != "" && len(c.Waiting) == 0 && c.Failed == "" }

// ReadChecks is what the required checks say of sha at now, given their
// states by name (a missing name is pending): which are still waited for,
// the first that failed, and whether the wait that began at since (kept
// when prev was read on the same sha) outlasted timeout (0: no limit).
func ReadChecks(prev Checks, sha string, required []string, states map[string]CheckState, now time.Time, timeout time.Duration) Checks {
	c := Checks{SHA: sha, Since: now}
	if prev.SHA == sha && !prev.Since.IsZero() {
		c.Since = prev.Since
	}
	for _, name := range required {
		switch states[name] {
		case CheckSuccess:
		case CheckFailure:
			if c.Failed == "" {
				c.Failed = name
			}
		default:
			c.Waiting = append(c.Waiting, name)
		}
	}
	if c.Failed == "" && len(c.Waiting) > 0 && timeout > 0 && now.Sub(c.Since) > timeout {
		c.TimedOut = true
	}
	return c
}
