package preview

import (
	"strings"
	"time"
)

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
// environment. A run belongs to the environment's identity, its repository
// and pull request, not only to its name: a destroyed environment frees its
// name for another pull request, whose environment must not show the old
// runs. A run without Repo (recorded before runs carried their identity, and
// whose environment could not be told) belongs to nobody.
type Run struct {
	ID          string    `json:"id"`
	Environment string    `json:"environment"`
	Repo        string    `json:"repo"` // owner/name of the pull request the run was for
	PR          int       `json:"pr"`
	Phase       Phase     `json:"phase"`
	HeadSHA     string    `json:"head_sha"`
	Generation  int64     `json:"generation"`
	State       RunState  `json:"state"`
	PID         int       `json:"pid"`               // the previewd process that ran it
	Replica     string    `json:"replica,omitempty"` // the replica that ran it, when replicas share the store
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	Error       string    `json:"error,omitempty"`
	LogPath     string    `json:"log_path"`
}

// RunFilter selects the runs of one environment's identity: those of the
// named environment made for pull request PR of Repo (owner/name, compared
// case-insensitively). A run without identity matches no filter.
type RunFilter struct {
	Environment string
	Repo        string
	PR          int
}

// RunsOf returns the filter for the runs of env as it is now: its name and
// the pull request that holds it.
func RunsOf(env Environment) RunFilter {
	return RunFilter{Environment: env.Name, Repo: env.Repo, PR: env.PR}
}

// Match reports whether run is one of the runs f selects.
func (f RunFilter) Match(run Run) bool {
	return run.Repo != "" && run.Environment == f.Environment &&
		strings.EqualFold(run.Repo, f.Repo) && run.PR == f.PR
}

// BelongsTo reports whether run was made for env as it is now, that is for
// the pull request now holding env's name. A run of an earlier holder of the
// name does not belong to it.
func (r Run) BelongsTo(env Environment) bool { return RunsOf(env).Match(r) }
