package postgres_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/store/postgres"
)

// TestReplicasStartingTogetherShareOneKey starts two replicas on a new
// database at the same moment, each migrating it and offering a key of
// its own: both end with the same key, and a third replica started later
// gets it too.
func TestReplicasStartingTogetherShareOneKey(t *testing.T) {
	url, _ := pgtest.Database(t)
	ctx := context.Background()
	start := func(offer byte) []byte {
		db, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			t.Error(err)
			return nil
		}
		defer db.Close()
		key, err := db.FindOrCreateKey(ctx, "log_links", bytes.Repeat([]byte{offer}, 32))
		if err != nil {
			t.Error(err)
		}
		return key
	}
	var first, second []byte
	var wg sync.WaitGroup
	wg.Go(func() { first = start(1) })
	wg.Go(func() { second = start(2) })
	wg.Wait()
	if len(first) != 32 || !bytes.Equal(first, second) {
		t.Fatalf("replicas got %x and %x, want one key", first, second)
	}
	if later := start(3); !bytes.Equal(later, first) {
		t.Errorf("a replica started later got %x, want %x", later, first)
	}
}
