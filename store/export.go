package store

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// RecordKind names what a Record holds.
type RecordKind string

// The kinds of record a store keeps.
const (
	KindEnvironment RecordKind = "environment"  // Key: the name; Value: its JSON
	KindPullRequest RecordKind = "pull_request" // Key: "owner/name#N"; Value: the environment's name
	KindDelivery    RecordKind = "delivery"     // Key: the delivery ID; Value: when it came (RFC 3339)
	KindCommand     RecordKind = "command"      // Key: its ID; Value: its JSON
	KindRun         RecordKind = "run"          // Key: its ID; Value: its JSON
	// KindProductionWatch: Key: the repository in lower case, "@" and the
	// watch's At; Value: its JSON.
	KindProductionWatch RecordKind = "production_watch"
)

// Record is one record as the store keeps it, for copying a store into
// another backend (previewd store migrate).
type Record struct {
	Kind  RecordKind
	Key   string
	Value []byte
}

// Export calls fn with every record of the store, in one read
// transaction: environments, their pull requests, deliveries, commands,
// runs and production watches (the live index is derived, and not
// exported).
func (db *DB) Export(ctx context.Context, fn func(Record) error) error {
	buckets := []struct {
		kind RecordKind
		name []byte
	}{
		{KindEnvironment, bucketEnvironments}, {KindPullRequest, bucketPullRequests},
		{KindDelivery, bucketDeliveries}, {KindCommand, bucketCommands}, {KindRun, bucketRuns},
		{KindProductionWatch, bucketProductionWatches},
	}
	return db.bolt.View(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			err := tx.Bucket(b.name).ForEach(func(k, v []byte) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				return fn(Record{Kind: b.kind, Key: string(k), Value: append([]byte(nil), v...)})
			})
			if err != nil {
				return fmt.Errorf("export %s: %w", b.name, err)
			}
		}
		return nil
	})
}
