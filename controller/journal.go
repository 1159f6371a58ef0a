package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	preview "github.com/previewd/previewd"
)

// RunLogs keeps runs' Terraform logs where every replica can read them.
type RunLogs interface {
	// OpenRunLog returns a writer appending to run's log, creating it.
	OpenRunLog(ctx context.Context, run preview.Run) (io.WriteCloser, error)
}

// maxErrorLength bounds the error text kept on an environment: its tail,
// where Terraform says what went wrong.
const maxErrorLength = 4000

// errShutdown is recorded on runs that a stop interrupted.
var errShutdown = errors.New("interrupted: previewd is shutting down")

// journal records the runs of Terraform (applies, destroys, drift checks)
// before they start and when they end, with their logs; the run loop, the
// drift checks and the parity checks share it.
type journal struct {
	*core
	logs    RunLogs // nil: files under logDir
	logDir  string
	dataDir string
	metrics Metrics
	pid     int
}

// startRun journals a run as running, for the pull request now holding the
// environment, and opens its log.
func (j *journal) startRun(ctx context.Context, env preview.Environment, phase preview.Phase) (preview.Run, io.WriteCloser, error) {
	run, err := j.store.CreateRun(ctx, preview.Run{
		Environment: env.Name,
		Repo:        env.Repo,
		PR:          env.PR,
		Phase:       phase,
		HeadSHA:     env.HeadSHA,
		Generation:  env.Desired.Generation,
		State:       preview.RunRunning,
		PID:         j.pid,
		Replica:     replica(ctx),
		StartedAt:   j.now().UTC(),
	})
	if err != nil {
		return run, nil, fmt.Errorf("%s %s: %w", phase, env.Name, err)
	}
	if j.logs == nil {
		run.LogPath = j.logPath(run.ID)
		if err := j.store.UpdateRun(ctx, run); err != nil {
			return run, nil, fmt.Errorf("%s %s: %w", phase, env.Name, err)
		}
	}
	f, err := j.openLog(ctx, run)
	if err != nil {
		return run, nil, j.failRun(ctx, run, fmt.Errorf("open run log: %w", err))
	}
	j.log.Info("run started", "run", run.ID, "phase", phase, "environment", env.Name, "head_sha", env.HeadSHA)
	return run, f, nil
}

// failRun records a run that could not start.
func (j *journal) failRun(ctx context.Context, run preview.Run, err error) error {
	run.State, run.Error, run.FinishedAt = preview.RunFailed, j.errorText(err), j.now().UTC()
	if uerr := j.store.UpdateRun(context.WithoutCancel(ctx), run); uerr != nil {
		j.log.Error("record failed run", "run", run.ID, "err", uerr)
	}
	j.runFinished(run)
	return err
}

// finishRun closes the log and journals how the run ended. It returns the
// run's error, replaced by errShutdown when the run was cut short by a stop.
func (j *journal) finishRun(ctx context.Context, run preview.Run, log io.WriteCloser, runErr error) error {
	if runErr != nil && ctx.Err() != nil {
		runErr = errShutdown
	}
	switch {
	case runErr == nil:
		run.State = preview.RunSucceeded
	case errors.Is(runErr, errShutdown):
		run.State, run.Error = preview.RunInterrupted, runErr.Error()
	default:
		run.State, run.Error = preview.RunFailed, j.errorText(runErr)
	}
	fmt.Fprintf(log, "\n# previewd: run %s %s\n", run.ID, run.State)
	if err := log.Close(); err != nil && runErr == nil {
		j.log.Warn("close run log", "run", run.ID, "err", err)
	}
	run.FinishedAt = j.now().UTC()
	if err := j.store.UpdateRun(context.WithoutCancel(ctx), run); err != nil {
		j.log.Error("record run", "run", run.ID, "err", err)
	}
	j.runFinished(run)
	j.log.Info("run finished", "run", run.ID, "state", run.State, "seconds", run.FinishedAt.Sub(run.StartedAt).Seconds())
	return runErr
}

func (j *journal) runFinished(run preview.Run) {
	if j.metrics != nil {
		j.metrics.RunFinished(run.Phase, run.State, run.FinishedAt.Sub(run.StartedAt))
	}
}

// openLog opens run's log for appending: in Logs, or the file at
// run.LogPath.
func (j *journal) openLog(ctx context.Context, run preview.Run) (io.WriteCloser, error) {
	if j.logs != nil {
		return j.logs.OpenRunLog(ctx, run)
	}
	if err := os.MkdirAll(filepath.Dir(run.LogPath), 0o750); err != nil {
		return nil, err
	}
	return os.OpenFile(run.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
}

// logPath returns where the log of run id is written.
func (j *journal) logPath(id string) string {
	return filepath.Join(j.logDir, filepath.FromSlash(id)+".log")
}

// errorText is the text of err as the environment, its runs and the pull
// request show it: paths made public, the tail kept.
func (j *journal) errorText(err error) string {
	return tail(publicPaths(err.Error(), j.dataDir))
}

// tail keeps the end of s, where Terraform reports what failed.
func tail(s string) string {
	if len(s) <= maxErrorLength {
		return s
	}
	return "…" + s[len(s)-maxErrorLength:]
}
