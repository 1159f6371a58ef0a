package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

// Watch returns a watch of repo at at with every field set, each to a
// value of its own, for tests that want it back exactly.
func Watch(repo string, at time.Time) preview.ProductionWatch {
	return preview.ProductionWatch{
		Repo:   repo,
		At:     at,
		Took:   3*time.Minute + 7*time.Millisecond + 11*time.Nanosecond,
		Module: preview.ModuleVersion{Source: "git::https://github.com/" + repo + ".git//infra", Ref: "main", Commit: "0123456789abcdef0123456789abcdef01234567"},
		Error:  "state backend: connection refused",
		Findings: []preview.ProductionFinding{
			{Kind: preview.ProductionChangedOutside, Address: "postgresql_role.app", Path: "connection_limit", Live: "400", Module: "200", Where: "main.tf:31"},
			{Kind: preview.ProductionDeletedOutside, Address: `local_file.motd["a b"]`, Live: "", Module: "(sensitive value)"},
		},
		Ignored: 2,
		Issue:   42,
	}
}

// find returns the watches f selects, failing the test on an error.
func find(t *testing.T, db Store, f preview.ProductionWatchFilter) []preview.ProductionWatch {
	t.Helper()
	got, err := db.FindProductionWatches(context.Background(), f)
	if err != nil {
		t.Fatalf("find %+v: %v", f, err)
	}
	return got
}

// watched lists watches as "repo@minutes past T0", to compare orders.
func watched(ws []preview.ProductionWatch) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, fmt.Sprintf("%s@%v", w.Repo, w.At.Sub(T0).Minutes()))
	}
	return out
}

func recordWatch(t *testing.T, db Store, w preview.ProductionWatch) {
	t.Helper()
	if err := db.RecordProductionWatch(context.Background(), w); err != nil {
		t.Fatalf("record %s at %v: %v", w.Repo, w.At, err)
	}
}

// testProductionWatchesRoundTrip wants a watch back with every field as
// recorded and its time in UTC, whatever zone it was recorded in; and no
// watches as an empty slice.
func testProductionWatchesRoundTrip(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	if got := find(t, db, preview.ProductionWatchFilter{}); got == nil || len(got) != 0 {
		t.Errorf("no watches: got %#v, want an empty slice", got)
	}
	at := t0.Add(123456789 * time.Nanosecond).In(time.FixedZone("CEST", 2*60*60))
	recordWatch(t, db, Watch("acme/shop", at))
	recordWatch(t, db, preview.ProductionWatch{Repo: "acme/bare", At: t0})
	want := Watch("acme/shop", at.UTC())
	got := find(t, db, preview.ProductionWatchFilter{Repo: "acme/shop"})
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("got %#v\nwant %#v", got, []preview.ProductionWatch{want})
	}
	if loc := got[0].At.Location(); loc != time.UTC {
		t.Errorf("At's zone: got %v, want UTC", loc)
	}
	bare := find(t, db, preview.ProductionWatchFilter{Repo: "acme/bare"})
	if want := []preview.ProductionWatch{{Repo: "acme/bare", At: t0}}; !reflect.DeepEqual(bare, want) {
		t.Errorf("a watch with no findings: got %#v, want %#v", bare, want)
	}
	if got := find(t, db, preview.ProductionWatchFilter{Repo: "acme/other"}); got == nil || len(got) != 0 {
		t.Errorf("a repository never watched: got %#v, want an empty slice", got)
	}
}

// testProductionWatchesOrderFilterLimit records watches of three
// repositories out of order and wants them newest first, those of one
// instant by repository, per repository (names compare without case) and
// in the number asked for.
func testProductionWatchesOrderFilterLimit(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	minute := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for _, w := range []struct {
		repo string
		at   int
	}{{"acme/shop", 2}, {"acme/web", 5}, {"acme/shop", 9}, {"acme/api", 5}, {"acme/shop", 1}, {"acme/web", 7}, {"acme/shop-2", 9}} {
		recordWatch(t, db, Watch(w.repo, minute(w.at)))
	}
	tests := []struct {
		filter preview.ProductionWatchFilter
		want   []string
	}{
		{preview.ProductionWatchFilter{}, []string{"acme/shop@9", "acme/shop-2@9", "acme/web@7", "acme/api@5", "acme/web@5", "acme/shop@2", "acme/shop@1"}},
		{preview.ProductionWatchFilter{Limit: 3}, []string{"acme/shop@9", "acme/shop-2@9", "acme/web@7"}},
		{preview.ProductionWatchFilter{Limit: -1}, []string{"acme/shop@9", "acme/shop-2@9", "acme/web@7", "acme/api@5", "acme/web@5", "acme/shop@2", "acme/shop@1"}},
		{preview.ProductionWatchFilter{Repo: "acme/shop"}, []string{"acme/shop@9", "acme/shop@2", "acme/shop@1"}},
		{preview.ProductionWatchFilter{Repo: "ACME/Shop", Limit: 2}, []string{"acme/shop@9", "acme/shop@2"}},
		{preview.ProductionWatchFilter{Repo: "acme/web", Limit: 5}, []string{"acme/web@7", "acme/web@5"}},
		{preview.ProductionWatchFilter{Repo: "acme"}, []string{}},
	}
	for _, tt := range tests {
		if got := watched(find(t, db, tt.filter)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("filter %+v: got %v, want %v", tt.filter, got, tt.want)
		}
	}
}

// testProductionWatchesReplaceTheSameAt records a repository's watch of
// one instant twice: the second replaces the first; the same instant of
// another repository is a watch of its own.
func testProductionWatchesReplaceTheSameAt(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	first := Watch("acme/shop", t0)
	again := preview.ProductionWatch{Repo: "acme/shop", At: t0, Took: time.Second, Findings: first.Findings[:1], Issue: 42}
	recordWatch(t, db, first)
	recordWatch(t, db, Watch("acme/web", t0))
	recordWatch(t, db, again)
	if got := find(t, db, preview.ProductionWatchFilter{Repo: "acme/shop"}); len(got) != 1 || !reflect.DeepEqual(got[0], again) {
		t.Errorf("the same repository and At again: got %#v, want just %#v", got, again)
	}
	if got := watched(find(t, db, preview.ProductionWatchFilter{})); !reflect.DeepEqual(got, []string{"acme/shop@0", "acme/web@0"}) {
		t.Errorf("every watch: got %v, want one of each repository", got)
	}
}

// testProductionWatchesKeepTheNewest100 records 103 watches of one
// repository, oldest first but for the oldest of all, recorded last: the
// newest 100 remain, and another repository's watches are untouched.
func testProductionWatchesKeepTheNewest100(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) }
	recordWatch(t, db, Watch("acme/web", at(-1)))
	for i := 1; i < 103; i++ {
		recordWatch(t, db, Watch("acme/shop", at(i)))
	}
	recordWatch(t, db, Watch("ACME/shop", at(0))) // older than the 100 kept: gone at once
	got := find(t, db, preview.ProductionWatchFilter{Repo: "acme/shop"})
	if len(got) != 100 {
		t.Fatalf("got %d watches, want the newest 100", len(got))
	}
	for i, w := range got {
		if want := at(102 - i); !w.At.Equal(want) {
			t.Fatalf("watch %d: got At %v, want %v (the newest 100, newest first)", i, w.At, want)
		}
	}
	if got := find(t, db, preview.ProductionWatchFilter{Repo: "acme/web"}); len(got) != 1 {
		t.Errorf("another repository: got %d watches, want its 1", len(got))
	}
	if got := find(t, db, preview.ProductionWatchFilter{}); len(got) != 101 {
		t.Errorf("every repository: got %d watches, want 101", len(got))
	}
}
