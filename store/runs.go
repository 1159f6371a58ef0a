package store

import (
	"bytes"
	"context"
	"fmt"

	preview "github.com/previewd/previewd"
	bolt "go.etcd.io/bbolt"
)

// Run IDs are "<environment>/<16 hex digits of a sequence>", so the runs of
// one environment sort together and in order.
func runKey(env string, seq uint64) string { return fmt.Sprintf("%s/%016x", env, seq) }

// CreateRun records run as the next run of its environment, before its
// process starts, and returns it with its ID set.
func (db *DB) CreateRun(ctx context.Context, run preview.Run) (preview.Run, error) {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		run.ID = runKey(run.Environment, seq)
		return putJSON(b, []byte(run.ID), &run)
	})
	if err != nil {
		return preview.Run{}, fmt.Errorf("create run for %s: %w", run.Environment, err)
	}
	return run, nil
}

// UpdateRun stores run, which must have been created by CreateRun.
func (db *DB) UpdateRun(ctx context.Context, run preview.Run) error {
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		if b.Get([]byte(run.ID)) == nil {
			return preview.Errorf(preview.ENOTFOUND, "run %q not found", run.ID)
		}
		return putJSON(b, []byte(run.ID), &run)
	})
	if err != nil {
		return fmt.Errorf("update run %s: %w", run.ID, err)
	}
	return nil
}

// FindRunByID returns the run with id, or ENOTFOUND.
func (db *DB) FindRunByID(ctx context.Context, id string) (preview.Run, error) {
	var run preview.Run
	err := db.bolt.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketRuns), []byte(id), &run)
		if err == nil && !ok {
			err = preview.Errorf(preview.ENOTFOUND, "run %q not found", id)
		}
		return err
	})
	return run, err
}

// FindRuns returns the runs that filter selects, oldest first: the runs of
// one environment name made for one pull request.
func (db *DB) FindRuns(ctx context.Context, filter preview.RunFilter) ([]preview.Run, error) {
	var runs []preview.Run
	prefix := []byte(filter.Environment + "/")
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRuns).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var run preview.Run
			if err := decode(v, &run); err != nil {
				return err
			}
			if filter.Match(run) {
				runs = append(runs, run)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find runs of %s: %w", filter.Environment, err)
	}
	return runs, nil
}

// InterruptRuns marks every run still recorded as running as interrupted: at
// start-up, such a run belonged to a process that died. It returns them.
func (db *DB) InterruptRuns(ctx context.Context) ([]preview.Run, error) {
	var runs []preview.Run
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		err := b.ForEach(func(k, v []byte) error {
			var run preview.Run
			if err := decode(v, &run); err != nil {
				return err
			}
			if run.State == preview.RunRunning {
				runs = append(runs, run)
			}
			return nil
		})
		if err != nil {
			return err
		}
		now := db.now().UTC()
		for i := range runs {
			runs[i].State = preview.RunInterrupted
			runs[i].FinishedAt = now
			runs[i].Error = "previewd stopped while this run was in progress"
			if err := putJSON(b, []byte(runs[i].ID), &runs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("interrupt runs: %w", err)
	}
	return runs, nil
}
