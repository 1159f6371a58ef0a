package store_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
)

// TestKeysOutliveARestart finds a key after the store is closed and opened
// again, whatever the new process offers.
func TestKeysOutliveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.db")
	ctx := context.Background()
	db := openDB(t, path)
	first, err := db.FindOrCreateKey(ctx, "log_links", bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDB(t, path)
	if again, err := db.FindOrCreateKey(ctx, "log_links", bytes.Repeat([]byte{2}, 32)); err != nil || !bytes.Equal(again, first) {
		t.Errorf("after a restart: %x, %v; want %x", again, err, first)
	}
}
