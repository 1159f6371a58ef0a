package store

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// FindOrCreateKey returns the key stored under name, storing fresh there
// first when there is none: the first key stored under a name is the one
// every later call returns, after a restart too.
func (db *DB) FindOrCreateKey(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	var key []byte
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		if stored := b.Get([]byte(name)); stored != nil {
			key = bytes.Clone(stored)
			return nil
		}
		key = bytes.Clone(fresh)
		return b.Put([]byte(name), key)
	})
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", name, err)
	}
	return key, nil
}
