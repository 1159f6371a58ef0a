// Package preview holds previewd's domain: pull requests as GitHub describes
// them (the desired state), preview environments as previewd builds them (the
// observed state), the Terraform runs in between, and the error codes every
// layer shares. It imports nothing beyond the standard library.
package preview

import (
	"fmt"
	"strings"
	"time"
)

// Status is where an environment is in its life.
type Status string

// The statuses an environment moves through. Every transition is stored
// before the work that follows it starts.
const (
	StatusQueued       Status = "queued"
	StatusProvisioning Status = "provisioning"
	StatusReady        Status = "ready"
	StatusFailed       Status = "failed"
	StatusDestroying   Status = "destroying"
	StatusDestroyed    Status = "destroyed"
)

// Statuses lists every status, in the order of an environment's life.
var Statuses = []Status{StatusQueued, StatusProvisioning, StatusReady, StatusFailed, StatusDestroying, StatusDestroyed}

// Live reports whether an environment in this status may hold resources or
// is about to; a destroyed environment is not live and frees its name.
func (s Status) Live() bool { return s != StatusDestroyed }

// PullRequest is the desired state GitHub gives previewd for one pull request.
type PullRequest struct {
	Repo           string    `json:"repo"` // owner/name
	Number         int       `json:"number"`
	Open           bool      `json:"open"`
	HeadSHA        string    `json:"head_sha"`
	Branch         string    `json:"branch"`
	BaseBranch     string    `json:"base_branch,omitempty"` // the branch it would merge into
	Labels         []string  `json:"labels,omitempty"`
	Author         string    `json:"author"`
	Fork           bool      `json:"fork"`
	Draft          bool      `json:"draft,omitempty"`
	UpdatedAt      time.Time `json:"updated_at"` // the payload's pull_request.updated_at
	InstallationID int64     `json:"installation_id,omitempty"`
}

// Key identifies a pull request across repositories: "owner/name#123".
func (pr PullRequest) Key() string { return PullRequestKey(pr.Repo, pr.Number) }

// PullRequestKey returns the key of pull request number in repo.
func PullRequestKey(repo string, number int) string {
	return fmt.Sprintf("%s#%d", strings.ToLower(repo), number)
}

// Environment is one pull request's preview: what is wanted of it and what
// has been observed of it.
type Environment struct {
	Name      string    `json:"name"`
	Repo      string    `json:"repo"`
	PR        int       `json:"pr"`
	Branch    string    `json:"branch"`
	HeadSHA   string    `json:"head_sha"` // the head previewd wants applied
	Status    Status    `json:"status"`
	URL       string    `json:"url"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	ExpiresAt time.Time `json:"expires_at"`
	LastError string    `json:"last_error"`
	// KeepUntil is the longest a kept environment lives: MaxKeep after its
	// last activity (see Touch).
	KeepUntil time.Time `json:"keep_until,omitzero"`

	// Desired state.
	Desired Desired `json:"desired"`

	// Observed state.
	AppliedSHA        string            `json:"applied_sha"`
	AppliedGeneration int64             `json:"applied_generation"`
	Outputs           map[string]string `json:"outputs,omitempty"`
	LastRunID         string            `json:"last_run_id,omitempty"`
	LastRunAt         time.Time         `json:"last_run_at,omitzero"`
	Comment           Comment           `json:"comment"`
	Deployment        Deployment        `json:"deployment,omitzero"`
	CommitStatus      CommitStatus      `json:"commit_status,omitzero"`
	ParityStatus      CommitStatus      `json:"parity_status,omitzero"`
	// DatabaseStatus is the previewd/migrations verdict as last written
	// (see Database).
	DatabaseStatus CommitStatus `json:"database_status,omitzero"`
	// Database is what the preview's database held while the environment
	// last came up (migrations: a repository's migrations setting).
	Database DatabaseReport `json:"database,omitzero"`
	// Parity is the newest parity check of the environment against
	// production; live-drift findings join it after each drift check.
	Parity ParityReport `json:"parity,omitzero"`
	// Seeded is set once the seed command ran after the first apply.
	Seeded bool `json:"seeded,omitempty"`
	// Drifted is set when the newest drift check found changes made
	// outside Terraform.
	Drifted bool `json:"drifted,omitempty"`
	// Checks is what the head waits for before it is applied, when its
	// repository requires checks (wait_for_checks).
	Checks Checks `json:"checks,omitzero"`
	// Module is the version of the production module the environment was
	// last applied with, when the module comes from git (module_source).
	Module ModuleVersion `json:"module,omitzero"`
	// LiveSince is when the environment's resources were first applied
	// since it was last destroyed (zero while it has none); Usage holds
	// the hours of its earlier lives by month ("2026-12"), the last 12.
	LiveSince time.Time          `json:"live_since,omitzero"`
	Usage     map[string]float64 `json:"usage,omitempty"`
	// Budget is set while a new environment waits because its repository,
	// or previewd, has as many live environments as it may.
	Budget *BudgetWait `json:"budget,omitempty"`
	// History is how its status moved, the last 50 changes.
	History []Transition `json:"history,omitempty"`

	// What the newest run tried, so a failed apply waits for a new push or
	// a redeploy instead of looping (unless its failure was transient), and
	// failures back off.
	AttemptedSHA        string    `json:"attempted_sha,omitempty"`
	AttemptedGeneration int64     `json:"attempted_generation,omitempty"`
	LastPhase           Phase     `json:"last_phase,omitempty"`
	Attempts            int       `json:"attempts,omitempty"`  // consecutive failures of LastPhase for the same target
	Transient           bool      `json:"transient,omitempty"` // the last failure may pass by itself (network, lock timeout)
	RetryAt             time.Time `json:"retry_at,omitzero"`
}

// Desired is what GitHub and the operators want of an environment.
type Desired struct {
	// Present is true while the environment should exist.
	Present bool `json:"present"`
	// PROpen mirrors the pull request's state; an environment of a closed
	// pull request cannot be redeployed.
	PROpen bool `json:"pr_open"`
	// Reason says why Present last changed.
	Reason Reason `json:"reason"`
	// Generation increases on every change that must cause a run even when
	// the head SHA is unchanged (a redeploy).
	Generation int64 `json:"generation"`
	// PRUpdatedAt is the newest pull_request.updated_at accepted; an older
	// event never overwrites newer state.
	PRUpdatedAt time.Time `json:"pr_updated_at"`
	// BaseBranch is the branch the pull request would merge into: what
	// production runs, for a module taken from the pull request's own
	// repository (module_source: base).
	BaseBranch     string   `json:"base_branch,omitempty"`
	Labels         []string `json:"labels,omitempty"`
	Author         string   `json:"author"`
	Fork           bool     `json:"fork"`
	InstallationID int64    `json:"installation_id,omitempty"`
	// ApprovedSHA is the head of a fork's pull request that a user with
	// write access approved; a fork gets an environment only at that head.
	ApprovedSHA string `json:"approved_sha,omitempty"`
	// Pinned keeps the environment past its TTL (up to the maximum), set by
	// "/preview keep".
	Pinned bool `json:"pinned,omitempty"`
}

// Action is what the controller must do next for an environment.
type Action string

// The actions.
const (
	ActionNone    Action = ""
	ActionApply   Action = "apply"
	ActionDestroy Action = "destroy"
)

// NextAction returns what converges the environment at time now. A failed
// apply waits for the head or the generation to move, unless its failure was
// transient: then it is retried from RetryAt on, like a failed destroy, at
// most maxAttempts times in all.
func (e *Environment) NextAction(now time.Time, maxAttempts int) Action {
	backingOff := e.Status == StatusFailed && e.Attempts > 0 && (e.Attempts >= maxAttempts || now.Before(e.RetryAt))
	if !e.Desired.Present {
		if e.Status == StatusDestroyed || e.LastPhase == PhaseDestroy && backingOff {
			return ActionNone
		}
		return ActionDestroy
	}
	upToDate := e.AppliedSHA == e.HeadSHA && e.AppliedGeneration == e.Desired.Generation
	if e.Status == StatusReady && upToDate {
		return ActionNone
	}
	attempted := e.AttemptedSHA == e.HeadSHA && e.AttemptedGeneration == e.Desired.Generation
	if e.Status == StatusFailed && e.LastPhase == PhaseApply && attempted && (!e.Transient || backingOff) {
		return ActionNone
	}
	return ActionApply
}

// ShortSHA returns the first seven characters of a commit SHA.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// EnvironmentFilter narrows a search for environments, which come by
// name.
type EnvironmentFilter struct {
	LiveOnly bool   // skip destroyed environments
	Repo     string // only this repository (owner/name), if set
	Status   Status // only this status, if set
	// After starts the search after this name (a page's cursor); Limit, if
	// positive, ends it once that many have been found.
	After string
	Limit int
}

// Match reports whether env passes the filter's LiveOnly, Repo and
// Status (a store may apply LiveOnly through an index first).
func (f EnvironmentFilter) Match(env Environment) bool {
	return (!f.LiveOnly || env.Status.Live()) &&
		(f.Repo == "" || strings.EqualFold(env.Repo, f.Repo)) && (f.Status == "" || env.Status == f.Status)
}

// ModuleVersion is a version of a production module kept in git.
type ModuleVersion struct {
	// Source is where the module is, in Terraform's module-source syntax,
	// never with credentials.
	Source string `json:"source"`
	// Ref is the branch or tag production deploys from ("" for the
	// repository's default branch).
	Ref string `json:"ref,omitempty"`
	// Commit is the commit Ref named when it was resolved.
	Commit string `json:"commit"`
}

// Applied is what an apply produced.
type Applied struct {
	URL     string            // the module's URL output
	Outputs map[string]string // every output but the sensitive ones
	Module  ModuleVersion     // the module's version, when it comes from git
}
