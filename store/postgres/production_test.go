package postgres_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/store/postgres"
	"github.com/previewd/previewd/store/storetest"
)

// TestProductionWatchesOutliveAReconnect finds every field of the
// watches from a new connection, another replica's.
func TestProductionWatchesOutliveAReconnect(t *testing.T) {
	url, _ := pgtest.Database(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []preview.ProductionWatch{storetest.Watch("acme/shop", storetest.T0.Add(time.Hour+time.Nanosecond)), storetest.Watch("acme/web", storetest.T0)}
	for _, w := range want {
		if err := db.RecordProductionWatch(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	again, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got, err := again.FindProductionWatches(ctx, preview.ProductionWatchFilter{}); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("after a reconnect: got %#v (err %v)\nwant %#v", got, err, want)
	}
}

// TestMigrationFromSchema4KeepsProductionWatches opens a database a
// previewd without production watches migrated, and records one.
func TestMigrationFromSchema4KeepsProductionWatches(t *testing.T) {
	url, conn := pgtest.Database(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := conn.Exec(ctx, "DROP TABLE production_watches; UPDATE previewd_schema SET version = 4"); err != nil {
		t.Fatal(err)
	}
	db, err = postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatalf("open a schema 4 database: %v", err)
	}
	defer db.Close()
	w := storetest.Watch("acme/shop", storetest.T0)
	if err := db.RecordProductionWatch(ctx, w); err != nil {
		t.Fatalf("record after migration: %v", err)
	}
	if got, err := db.FindProductionWatches(ctx, preview.ProductionWatchFilter{Repo: "acme/shop"}); err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], w) {
		t.Errorf("after migration: got %#v (err %v), want %#v", got, err, w)
	}
}
