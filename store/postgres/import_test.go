package postgres_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/store"
	"github.com/previewd/previewd/store/storetest"
)

// exportWatches records watches in a new bbolt store and returns its
// records (Export's).
func exportWatches(t *testing.T, watches ...preview.ProductionWatch) []store.Record {
	t.Helper()
	src, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	for _, w := range watches {
		if err := src.RecordProductionWatch(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	var records []store.Record
	if err := src.Export(ctx, func(r store.Record) error { records = append(records, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return records
}

// TestImportCarriesProductionWatches imports a bbolt store's production
// watches twice (the second copies nothing) and finds them as bbolt
// recorded them, then refuses a target whose watch differs.
func TestImportCarriesProductionWatches(t *testing.T) {
	ctx := context.Background()
	want := []preview.ProductionWatch{
		storetest.Watch("acme/shop", storetest.T0.Add(time.Hour+time.Nanosecond)),
		storetest.Watch("acme/web", storetest.T0.Add(time.Hour)),
		{Repo: "Acme/Shop", At: storetest.T0},
	}
	records := exportWatches(t, want...)
	db := open(t)
	for i, wantRes := range []struct{ copied, present int }{{3, 0}, {0, 3}} {
		res, err := db.Import(ctx, records)
		if err != nil {
			t.Fatalf("import %d: %v", i+1, err)
		}
		if got := res.Copied[store.KindProductionWatch]; got != wantRes.copied {
			t.Errorf("import %d: %d copied, want %d", i+1, got, wantRes.copied)
		}
		if got := res.Present[store.KindProductionWatch]; got != wantRes.present {
			t.Errorf("import %d: %d already there, want %d", i+1, got, wantRes.present)
		}
	}
	if got, err := db.FindProductionWatches(ctx, preview.ProductionWatchFilter{}); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("imported: got %#v (err %v)\nwant %#v", got, err, want)
	}

	changed := want[1]
	changed.Issue++
	if err := db.RecordProductionWatch(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Import(ctx, records); err == nil || !strings.Contains(err.Error(), "production_watch") ||
		!strings.Contains(err.Error(), "the target already holds different data") {
		t.Errorf("a target whose watch differs: got %v, want the import refused, naming the watch", err)
	}
}

// TestImportKeepsTheNewestProductionWatches imports older watches of a
// repository into a database already keeping the newest 100: those 100
// remain.
func TestImportKeepsTheNewestProductionWatches(t *testing.T) {
	ctx := context.Background()
	at := func(i int) time.Time { return storetest.T0.Add(time.Duration(i) * time.Hour) }
	db := open(t)
	for i := 10; i < 110; i++ {
		if err := db.RecordProductionWatch(ctx, storetest.Watch("acme/shop", at(i))); err != nil {
			t.Fatal(err)
		}
	}
	records := exportWatches(t, storetest.Watch("acme/shop", at(0)), storetest.Watch("acme/shop", at(1)), storetest.Watch("acme/web", at(0)))
	if _, err := db.Import(ctx, records); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindProductionWatches(ctx, preview.ProductionWatchFilter{Repo: "acme/shop"})
	if err != nil || len(got) != 100 || !got[0].At.Equal(at(109)) || !got[99].At.Equal(at(10)) {
		t.Fatalf("acme/shop after the import: %d watches (err %v), want the newest 100, from %v to %v", len(got), err, at(109), at(10))
	}
	if got, _ := db.FindProductionWatches(ctx, preview.ProductionWatchFilter{Repo: "acme/web"}); len(got) != 1 {
		t.Errorf("acme/web after the import: %d watches, want 1", len(got))
	}
}
