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

	// Desired state.
	Desired Desired `json:"desired"`

	// Observed state.
	AppliedSHA        string            `json:"applied_sha"`
	AppliedGeneration int64             `json:"applied_generation"`
	Outputs           map[string]string `json:"outputs,omitempty"`
	LastRunID         string            `json:"last_run_id,omitempty"`
	LastRunAt         time.Time         `json:"last_run_at,omitzero"`
	Comment           Comment           `json:"comment"`
}

// Desired is what GitHub and the operators want of an environment.
type Desired struct {
	// Present is true while the environment should exist.
	Present bool `json:"present"`
	// Reason says why Present last changed ("opened", "closed", "admin", …).
	Reason string `json:"reason"`
	// Generation increases on every change that must cause a run even when
	// the head SHA is unchanged (a redeploy).
	Generation int64 `json:"generation"`
	// PRUpdatedAt is the newest pull_request.updated_at accepted; an older
	// event never overwrites newer state.
	PRUpdatedAt    time.Time `json:"pr_updated_at"`
	Labels         []string  `json:"labels,omitempty"`
	Author         string    `json:"author"`
	Fork           bool      `json:"fork"`
	InstallationID int64     `json:"installation_id,omitempty"`
}

// Comment is previewd's one comment on the pull request. In offline mode ID
// stays zero and Body is what would have been written.
type Comment struct {
	ID        int64     `json:"id,omitempty"`
	Body      string    `json:"body,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// NeedsApply reports whether the environment should be (re)applied: it is
// wanted, and what is applied is not the newest head and generation.
func (e *Environment) NeedsApply() bool {
	if !e.Desired.Present {
		return false
	}
	return e.Status != StatusReady || e.AppliedSHA != e.HeadSHA || e.AppliedGeneration != e.Desired.Generation
}

// NeedsDestroy reports whether the environment should be torn down.
func (e *Environment) NeedsDestroy() bool {
	return !e.Desired.Present && e.Status != StatusDestroyed
}

// Converged reports whether observed state matches desired state.
func (e *Environment) Converged() bool { return !e.NeedsApply() && !e.NeedsDestroy() }

// ShortSHA returns the first seven characters of a commit SHA.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
