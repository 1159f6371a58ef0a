package preview

import "time"

// What previewd keeps on a pull request on GitHub, as an environment
// records it: its comment, its deployment and its commit statuses.

// Comment is previewd's one comment on the pull request. In offline mode ID
// stays zero and Body is what would have been written.
type Comment struct {
	ID        int64     `json:"id,omitempty"`
	Body      string    `json:"body,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Deployment is previewd's GitHub deployment for an environment's head and
// the last state posted on it.
type Deployment struct {
	ID    int64  `json:"id,omitempty"`
	SHA   string `json:"sha,omitempty"`
	State string `json:"state,omitempty"` // in_progress, success, failure, inactive
}

// CommitStatus is the last "previewd" commit status posted, or in App
// mode the check run of that name: State is then the run's conclusion once
// completed (success, failure, neutral, cancelled), else its status
// (queued, in_progress).
type CommitStatus struct {
	SHA   string `json:"sha,omitempty"`
	State string `json:"state,omitempty"` // pending, success, failure, error
	// CheckRunID and URL are the check run's, in App mode; Digest is a
	// hash of what it shows, so the same verdict is not sent twice.
	CheckRunID int64  `json:"check_run_id,omitempty"`
	URL        string `json:"url,omitempty"`
	Digest     string `json:"digest,omitempty"`
}
