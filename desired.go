package preview

import (
	"errors"
	"slices"
	"time"
)

// The rules that turn what GitHub says of a pull request into an
// environment's desired state. They live here, outside any store: a store
// reads the environment, asks these functions what changes, and writes.

// PullRequestRules are the settings the desired-state rules read.
type PullRequestRules struct {
	// TTL is the idle time after which an environment expires; activity
	// moves ExpiresAt to now+TTL (see Touch).
	TTL time.Duration
	// MaxKeep is the idle time after which a kept environment expires;
	// activity moves KeepUntil to now+MaxKeep.
	MaxKeep time.Duration
	// Drafts builds environments for draft pull requests too.
	Drafts bool
}

// PullRequestUpdate is what a pull request's state does to the environment
// stored for it.
type PullRequestUpdate int

const (
	// UpdateNone: nothing to record (a pull request previewd never built
	// and is not asked to build).
	UpdateNone PullRequestUpdate = iota
	// UpdateStale: the event is older than what is stored; nothing changes.
	UpdateStale
	// UpdateCreate: the pull request has no environment yet and needs one;
	// the store names it (EnvironmentName) and ApplyPullRequest fills it.
	UpdateCreate
	// UpdateApply: ApplyPullRequest updates the stored environment.
	UpdateApply
)

// ClassifyPullRequest decides what pr does to env, the environment stored
// for it (found false: none yet), before anything is written.
func ClassifyPullRequest(env Environment, found bool, pr PullRequest, rules PullRequestRules) PullRequestUpdate {
	want, untrusted := wanted(env, pr, rules)
	switch {
	case !found && !want && !untrusted:
		return UpdateNone
	case !found:
		return UpdateCreate
	case staleEvent(env.Desired, pr, want):
		return UpdateStale
	}
	return UpdateApply
}

// wanted says whether pr asks for an environment, and whether it is a
// fork's pull request whose head no user with write access approved: it
// is untrusted and gets an environment only at an approved head.
func wanted(env Environment, pr PullRequest, rules PullRequestRules) (want, untrusted bool) {
	want = pr.Open && (!pr.Draft || rules.Drafts)
	untrusted = want && !env.Desired.trusts(pr.Fork, pr.HeadSHA)
	return want && !untrusted, untrusted
}

// ApplyPullRequest updates env with pr, arriving at now, and reports whether
// its desired state changed (the controller then has work). created says
// env is new (its Name, Repo and PR set by the store, nothing else). An
// environment an operator, a command, expiry or an eviction took down
// stays down until something newer happens on its pull request.
func ApplyPullRequest(env *Environment, created bool, pr PullRequest, now time.Time, rules PullRequestRules) (changed bool) {
	want, untrusted := wanted(*env, pr, rules)
	if created {
		env.CreatedAt, env.Status = now, StatusQueued
		if untrusted {
			env.Status = StatusDestroyed // nothing built, nothing to tear down
		}
		changed = true
	} else if takenDown(*env, pr) {
		want = false // nothing happened on the pull request since
	}
	if env.HeadSHA != pr.HeadSHA || env.Desired.Present != want || env.Branch != pr.Branch || env.Desired.PROpen != pr.Open {
		changed = true
		env.Touch(now, rules.TTL, rules.MaxKeep)
	}
	switch {
	case untrusted:
		env.Desired.Reason = ReasonAwaitingApproval
	case want && !env.Desired.Present:
		env.Desired.Reason = ReasonOpened
	case !want && env.Desired.Present:
		env.Desired.Reason = ReasonClosed
		if pr.Open {
			env.Desired.Reason = ReasonDraft
		}
	}
	env.HeadSHA = pr.HeadSHA
	env.Branch = pr.Branch // the name stays; the branch shown follows renames
	env.Desired.Present = want
	env.Desired.PROpen = pr.Open
	env.Desired.PRUpdatedAt = pr.UpdatedAt
	env.Desired.Labels = slices.Clone(pr.Labels)
	env.Desired.Author = pr.Author
	if pr.BaseBranch != "" {
		env.Desired.BaseBranch = pr.BaseBranch
	}
	env.Desired.Fork = pr.Fork
	if pr.InstallationID != 0 {
		env.Desired.InstallationID = pr.InstallationID
	}
	if changed && env.NextAction(now, 0) == ActionApply && !busy(env.Status) {
		env.Status = StatusQueued
	}
	env.UpdatedAt = now
	return changed
}

// staleEvent reports whether pr is older than the desired state already
// stored. With equal timestamps a closed state sticks: GitHub's timestamps
// have one-second resolution and a reopen always moves them.
func staleEvent(d Desired, pr PullRequest, want bool) bool {
	if pr.UpdatedAt.Before(d.PRUpdatedAt) {
		return true
	}
	return pr.UpdatedAt.Equal(d.PRUpdatedAt) && !d.Present && want && d.Reason == ReasonClosed
}

// takenDown reports whether an operator, a command, expiry or a budget's
// eviction took the environment down and pr brings nothing newer (a resync
// or a redelivery): it stays down until a push, a reopen or any newer
// event.
func takenDown(env Environment, pr PullRequest) bool {
	if env.Desired.Present {
		return false
	}
	switch env.Desired.Reason {
	case ReasonAdmin, ReasonExpired, ReasonCommand, ReasonEvicted:
	default:
		return false
	}
	return pr.Open == env.Desired.PROpen && pr.HeadSHA == env.HeadSHA && !pr.UpdatedAt.After(env.Desired.PRUpdatedAt)
}

// busy reports whether a run owns the environment's status.
func busy(s Status) bool {
	return s == StatusProvisioning || s == StatusDestroying
}

// Reason says why an environment's desired state last changed; it picks
// what the pull request's comment explains.
type Reason string

// The reasons.
const (
	ReasonOpened           Reason = "opened"                 // the pull request asks for an environment
	ReasonClosed           Reason = "closed"                 // the pull request closed
	ReasonDraft            Reason = "draft"                  // it became a draft (and drafts are not built)
	ReasonRedeploy         Reason = "redeploy"               // an operator redeployed it (admin API)
	ReasonAdmin            Reason = "admin"                  // an operator took it down (admin API)
	ReasonCommand          Reason = "command"                // a /preview command redeployed or destroyed it
	ReasonApproved         Reason = "approved"               // a fork's head was approved
	ReasonExpired          Reason = "expired"                // it sat idle past its expiry
	ReasonAwaitingApproval Reason = "fork-awaiting-approval" // a fork's head has no approval
	ReasonEvicted          Reason = "evicted"                // torn down, idle longest, to make room within a budget
)

// Why a redeploy is refused.
var (
	ErrPullRequestClosed = errors.New("the pull request is closed")
	ErrForkNotApproved   = errors.New("the pull request comes from a fork and its head is not approved")
)

// Redeploy asks for env to be built again at its head, for reason
// (ReasonRedeploy from the admin API, ReasonCommand from a comment), and
// counts as activity (Touch). It refuses a closed pull request
// (ErrPullRequestClosed) and a fork's head nobody approved
// (ErrForkNotApproved), changing nothing.
func (e *Environment) Redeploy(reason Reason, now time.Time, ttl, maxKeep time.Duration) error {
	if !e.Desired.PROpen {
		return ErrPullRequestClosed
	}
	if !e.Desired.trusts(e.Desired.Fork, e.HeadSHA) {
		return ErrForkNotApproved
	}
	e.Desired.Present, e.Desired.Reason = true, reason
	e.Desired.Generation++
	e.Touch(now, ttl, maxKeep)
	return nil
}

// ApprovalLabel is the label a user with write access adds to a fork's pull
// request to build its current head.
const ApprovalLabel = "preview:approved"

// trusts reports whether a pull request's head may be built: any head of
// a branch of the repository itself, and of a fork's only the head a user
// with write access approved (ApprovedSHA).
func (d Desired) trusts(fork bool, head string) bool {
	return !fork || d.ApprovedSHA == head
}

// Approve records that a user with write access approved head of env's
// fork pull request (the ApprovalLabel): while the pull request is open
// and head is still its head, env is wanted again, for reason
// (ReasonApproved), and that counts as activity (Touch).
func (e *Environment) Approve(head string, reason Reason, now time.Time, ttl, maxKeep time.Duration) {
	e.Desired.ApprovedSHA = head
	if e.Desired.PROpen && e.HeadSHA == head {
		e.Desired.Present, e.Desired.Reason = true, reason
		e.Touch(now, ttl, maxKeep)
	}
}

// Destroy asks for env to be torn down, for reason (ReasonAdmin,
// ReasonCommand); a destroy that gave up after its attempts is tried
// again. The environment stays down until something new happens on its
// pull request (see ApplyPullRequest).
func (e *Environment) Destroy(reason Reason) {
	e.Desired.Present, e.Desired.Reason = false, reason
	if e.Status == StatusFailed && e.LastPhase == PhaseDestroy {
		e.Attempts, e.RetryAt = 0, time.Time{}
	}
}

// Requeue shows env as queued when an apply of it is due at now and no run
// owns its status.
func (e *Environment) Requeue(now time.Time, maxAttempts int) {
	if e.Desired.Present && !busy(e.Status) && e.NextAction(now, maxAttempts) == ActionApply {
		e.Status = StatusQueued
	}
}

// RecordResult says what recording a pull request's state did.
type RecordResult struct {
	Environment Environment // the environment after the update (zero if none)
	Duplicate   bool        // the delivery was seen before; nothing changed
	Stale       bool        // older than what is stored; nothing changed
	Changed     bool        // desired state changed: the controller has work
}

// RecordPullRequest is the whole of what recording pr does to env, the
// environment stored for it (found false: none yet), for a store: it
// classifies the event, names a new environment with name (the store's
// own lookup of free names), applies the rules, and returns the
// environment to write (write false: nothing to write) and the result to
// answer.
func RecordPullRequest(env Environment, found bool, pr PullRequest, now time.Time, rules PullRequestRules, name func() (string, error)) (_ Environment, res RecordResult, write bool, err error) {
	update := ClassifyPullRequest(env, found, pr, rules)
	switch update {
	case UpdateNone:
		return env, res, false, nil
	case UpdateStale:
		res.Stale, res.Environment = true, env
		return env, res, false, nil
	case UpdateCreate:
		n, err := name()
		if err != nil {
			return env, res, false, err
		}
		env = Environment{Name: n, Repo: pr.Repo, PR: pr.Number}
	}
	before := env.Status
	res.Changed = ApplyPullRequest(&env, update == UpdateCreate, pr, now, rules)
	NoteStatus(before, &env, now)
	res.Environment = env
	return env, res, true, nil
}
