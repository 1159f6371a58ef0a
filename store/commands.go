package store

import (
	"context"
	"fmt"
	"time"

	preview "github.com/previewd/previewd"
	bolt "go.etcd.io/bbolt"
)

// RecordCommand durably queues cmd, de-duplicating on delivery like
// RecordPullRequest. It returns false for a delivery seen before.
func (db *DB) RecordCommand(ctx context.Context, delivery string, cmd preview.Command) (bool, error) {
	queued := false
	err := db.bolt.Batch(func(tx *bolt.Tx) error {
		queued = false
		if delivery != "" {
			deliveries := tx.Bucket(bucketDeliveries)
			if deliveries.Get([]byte(delivery)) != nil {
				return nil
			}
			if err := deliveries.Put([]byte(delivery), []byte(db.now().UTC().Format(time.RFC3339Nano))); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketCommands)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		cmd.ID = fmt.Sprintf("%016x", seq)
		queued = true
		return putJSON(b, []byte(cmd.ID), &cmd)
	})
	if err != nil {
		return false, fmt.Errorf("record command %s on %s#%d: %w", cmd.Verb, cmd.Repo, cmd.Number, err)
	}
	return queued, nil
}

// FindCommands returns the queued commands, oldest first.
func (db *DB) FindCommands(ctx context.Context) ([]preview.Command, error) {
	var out []preview.Command
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCommands).ForEach(func(_, v []byte) error {
			var cmd preview.Command
			if err := decode(v, &cmd); err != nil {
				return err
			}
			out = append(out, cmd)
			return nil
		})
	})
	return out, err
}

// DeleteCommand removes a command once it has been carried out or refused.
func (db *DB) DeleteCommand(ctx context.Context, id string) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCommands).Delete([]byte(id))
	})
}
