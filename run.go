package preview

import "time"

// Phase is what a Terraform run does.
type Phase string

// The phases of a run.
const (
	PhaseApply   Phase = "apply"
	PhaseDestroy Phase = "destroy"
	PhaseDrift   Phase = "drift" // a refresh-only plan looking for changes made outside Terraform
)

// RunState is where a run is.
type RunState string

// The states of a run. A run is recorded as running before its process
// starts; one found running at start-up was cut off and becomes interrupted.
const (
	RunRunning     RunState = "running"
	RunSucceeded   RunState = "succeeded"
	RunFailed      RunState = "failed"
	RunInterrupted RunState = "interrupted"
)

// Run is one entry of the run journal: one Terraform apply or destroy of one
// environment.
type Run struct {
	ID          string    `json:"id"`
	Environment string    `json:"environment"`
	Phase       Phase     `json:"phase"`
	HeadSHA     string    `json:"head_sha"`
	Generation  int64     `json:"generation"`
	State       RunState  `json:"state"`
	PID         int       `json:"pid"` // the previewd process that ran it
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	Error       string    `json:"error,omitempty"`
	LogPath     string    `json:"log_path"`
}
