package provisioner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/previewd/previewd/internal/atomicfile"
)

// erroredState is the file Terraform writes into its working directory when
// it cannot persist state after changing resources (a full disk, say). It is
// the only record of those resources: losing it leaks them.
const erroredState = "errored.tfstate"

// recoverErroredState looks for an errored.tfstate an earlier run left in
// the environment's working directory. It keeps a copy for good under
// DataDir/errored/<name>-<time>.tfstate, then pushes it as the environment's
// state (terraform state push refuses another lineage or an older serial),
// and only then removes it from the working directory. If the push fails the
// run fails with an error saying where the copy is; nothing is deleted.
func (p *Provisioner) recoverErroredState(ctx context.Context, r *run, name string, log io.Writer) error {
	src := filepath.Join(r.tf.WorkingDir(), erroredState)
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	keep := filepath.Join(p.cfg.DataDir, "errored", fmt.Sprintf("%s-%s.tfstate", name, time.Now().UTC().Format("20060102T150405.000000000Z")))
	if err := os.MkdirAll(filepath.Dir(keep), 0o700); err != nil {
		return fmt.Errorf("keep %s: %w", erroredState, err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("keep %s: %w", erroredState, err)
	}
	if err := atomicfile.WriteFile(keep, data, 0o600); err != nil {
		return fmt.Errorf("keep %s: %w", erroredState, err)
	}
	fmt.Fprintf(logOrDiscard(log), "# previewd: found %s from an earlier run; kept at %s; pushing it as the state\n", erroredState, keep)
	r.pulled = nil // the state is about to change
	if err := r.tf.StatePush(ctx, keep); err != nil {
		return fmt.Errorf("an earlier run left %s, which could not be pushed (kept at %s; push it by hand): %w", erroredState, keep, r.commandError(ctx, "state push", err))
	}
	p.logger.Warn("recovered errored.tfstate", "environment", name, "kept_at", keep)
	return os.Remove(src)
}

// hasErroredState reports whether an errored.tfstate waits anywhere in the
// environment's module copy.
func hasErroredState(copyRoot string) bool {
	found := false
	filepath.WalkDir(copyRoot, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == erroredState {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

func logOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
