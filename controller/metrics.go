package controller

import (
	"time"

	preview "github.com/previewd/previewd"
)

// Metrics receives what the controller measures, for operators to alert
// on; nil measures nothing.
type Metrics interface {
	// RunFinished is called once per Terraform run, with how it ended.
	RunFinished(phase preview.Phase, state preview.RunState, took time.Duration)
	// GitHubSyncFailed is called when writing an environment to its pull
	// request failed and is to be retried.
	GitHubSyncFailed()
	// ParityChecked is called with each parity check's verdict: "ok",
	// "drift", or "error" when the check could not run.
	ParityChecked(verdict string)
	// MigrationsJudged is called with each watch of a preview's database:
	// "ok", "failure", "inconclusive" or "unwatched".
	MigrationsJudged(verdict string)
}

// RunQueue returns how many environments wait for a run worker of this
// process, and how long the oldest has waited.
func (c *Controller) RunQueue() (int, time.Duration) { return c.core.runs.stats() }

// GitHubPending returns how many environments wait for their pull request
// to be written (comment, deployment, statuses).
func (c *Controller) GitHubPending() int {
	n, _ := c.core.notices.stats()
	return n
}
