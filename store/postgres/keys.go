package postgres

import (
	"context"
	"fmt"
)

// FindOrCreateKey returns the key stored under name, storing fresh there
// first when there is none: the first key stored under a name is the one
// every replica gets, those starting at the same moment included.
func (db *DB) FindOrCreateKey(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	// A second insert waits for the first to commit, then does nothing;
	// the select that follows sees the row either way.
	if _, err := db.pool.Exec(ctx, "INSERT INTO keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", name, fresh); err != nil {
		return nil, fmt.Errorf("key %s: %w", name, err)
	}
	var key []byte
	if err := db.pool.QueryRow(ctx, "SELECT key FROM keys WHERE name = $1", name).Scan(&key); err != nil {
		return nil, fmt.Errorf("key %s: %w", name, err)
	}
	return key, nil
}
