package store_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/store/storetest"
	bolt "go.etcd.io/bbolt"
)

// TestProductionWatchesOutliveARestart finds every field of the watches
// after the store is closed and opened again.
func TestProductionWatchesOutliveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.db")
	ctx := context.Background()
	db := openDB(t, path)
	want := []preview.ProductionWatch{storetest.Watch("acme/shop", t0.Add(time.Hour+time.Nanosecond)), storetest.Watch("acme/web", t0)}
	for _, w := range want {
		if err := db.RecordProductionWatch(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db = openDB(t, path)
	if got, err := db.FindProductionWatches(ctx, preview.ProductionWatchFilter{}); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("after a restart: got %#v (err %v)\nwant %#v", got, err, want)
	}
}

// TestMigrationFromSchema5KeepsProductionWatches opens a file a previewd
// without production watches wrote, and records one.
func TestMigrationFromSchema5KeepsProductionWatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket([]byte("meta"))
		for _, name := range []string{"environments", "pull_requests", "deliveries", "runs", "live", "commands", "keys"} {
			tx.CreateBucket([]byte(name))
		}
		return meta.Put([]byte("schema_version"), []byte("5"))
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, path)
	ctx := context.Background()
	w := storetest.Watch("acme/shop", t0)
	if err := db.RecordProductionWatch(ctx, w); err != nil {
		t.Fatalf("record after migration: %v", err)
	}
	if got, err := db.FindProductionWatches(ctx, preview.ProductionWatchFilter{Repo: "acme/shop"}); err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], w) {
		t.Errorf("after migration: got %#v (err %v), want %#v", got, err, w)
	}
}
