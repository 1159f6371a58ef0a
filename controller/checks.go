package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// RequiredChecks reads what a head must pass before it is applied
// (wait_for_checks).
type RequiredChecks interface {
	// Required names the check runs or commit statuses repo's heads must
	// pass before they are applied, and how long to wait for them (0: no
	// limit); none: apply at once.
	Required(repo string) (names []string, timeout time.Duration)
	// Read returns the states of the check runs and commit statuses of
	// env's head, by name.
	Read(ctx context.Context, env preview.Environment) (map[string]preview.CheckState, error)
}

// checkWaiter is the service that holds each head until its required
// checks pass (wait_for_checks): the run loop asks it whether a head may
// be applied (passed); a head still waiting is read again every
// PollInterval, and at once when an event says its commit's checks
// changed (checksChanged), which the service's own loop turns into the
// environments to queue. With no RequiredChecks every head passes and it
// is not started.
type checkWaiter struct {
	*core
	required RequiredChecks // nil: apply at once
	poll     time.Duration

	mu      sync.Mutex
	changed map[string]map[string]bool // repository → head SHAs whose checks changed, not looked at yet
	pending int                        // SHAs in changed
	wake    chan struct{}
}

// maxChangedCommits bounds the commits waiting to be looked at; a signal
// past it is dropped, which costs only time (see Controller.NudgeChecks).
const maxChangedCommits = 4096

// checksChanged tells the service that commit's checks changed. It never
// blocks and touches no store: the service's loop looks for the
// environments at commit.
func (w *checkWaiter) checksChanged(commit preview.Commit) {
	if w.required == nil {
		return
	}
	w.mu.Lock()
	if w.pending < maxChangedCommits && !w.changed[commit.Repo][commit.SHA] {
		if w.changed[commit.Repo] == nil {
			w.changed[commit.Repo] = map[string]bool{}
		}
		w.changed[commit.Repo][commit.SHA] = true
		w.pending++
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run queues the environments whose checks changed, until ctx ends.
func (w *checkWaiter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		w.mu.Lock()
		changed := w.changed
		w.changed, w.pending = map[string]map[string]bool{}, 0
		w.mu.Unlock()
		for repo, shas := range changed {
			if ctx.Err() != nil {
				return
			}
			w.queueHeads(ctx, repo, shas)
		}
	}
}

// queueHeads queues the live environments of repo whose head is one of
// shas: they read their required checks again.
func (w *checkWaiter) queueHeads(ctx context.Context, repo string, shas map[string]bool) {
	envs, err := w.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true, Repo: repo})
	if err != nil {
		w.log.Error("checks changed: load environments", "repo", repo, "err", err)
		return
	}
	for _, env := range envs {
		if shas[env.HeadSHA] {
			w.runs.add(env.Name)
		}
	}
}

// passed reads the required checks of env's head, records what they
// say, and reports whether the head may be applied. While they are
// pending the environment waits (queued, or ready at its older head); a
// failed check, or a wait past the timeout, fails it without an apply. The
// next read (a check event, or every sweep) decides again, so a check
// re-run to success still gets the head applied. A read that fails leaves
// everything as it was, to be read again.
func (w *checkWaiter) passed(ctx context.Context, env preview.Environment) bool {
	if w.required == nil {
		return true
	}
	names, timeout := w.required.Required(env.Repo)
	if len(names) == 0 {
		return true
	}
	states, err := w.required.Read(ctx, env)
	if err != nil {
		w.log.Warn("read required checks; reading them again later", "environment", env.Name, "head_sha", env.HeadSHA, "err", err)
		w.runs.addAfter(ctx, env.Name, w.poll)
		return false
	}
	checks := preview.ReadChecks(env.Checks, env.HeadSHA, names, states, w.now().UTC(), timeout)
	if checks.Passed() && sameChecks(checks, env.Checks) {
		return true
	}
	stored, err := w.transition(ctx, env.Name, func(e *preview.Environment) {
		if e.HeadSHA != checks.SHA {
			return // a push meanwhile: its own checks decide
		}
		e.Checks = checks
		short := preview.ShortSHA(checks.SHA)
		switch {
		case checks.Passed():
			if strings.HasPrefix(e.LastError, "required check") {
				e.LastError = ""
			}
			if e.Status == preview.StatusFailed {
				e.Status = preview.StatusQueued
			}
		case checks.Failed != "":
			e.Status = preview.StatusFailed
			e.LastError = fmt.Sprintf("required check %s failed on %s: not applied", checks.Failed, short)
		case checks.TimedOut:
			e.Status = preview.StatusFailed
			e.LastError = fmt.Sprintf("required checks %s did not pass on %s within %s: not applied", strings.Join(checks.Waiting, ", "), short, timeout)
		default:
			if e.Status != preview.StatusReady { // a ready one serves its older head meanwhile
				e.Status = preview.StatusQueued
			}
			if strings.HasPrefix(e.LastError, "required check") {
				e.LastError = ""
			}
		}
	})
	if err != nil {
		w.log.Error("record required checks", "environment", env.Name, "err", err)
		return false
	}
	if !checks.Passed() {
		// No event needed: read them again in a while (the sweep does too).
		w.runs.addAfter(ctx, env.Name, w.poll)
	}
	return checks.Passed() && stored.HeadSHA == checks.SHA
}

func sameChecks(a, b preview.Checks) bool {
	return a.SHA == b.SHA && a.Failed == b.Failed && a.TimedOut == b.TimedOut && slices.Equal(a.Waiting, b.Waiting)
}
