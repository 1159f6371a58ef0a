package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	preview "github.com/previewd/previewd"
)

func testScanEnvironmentsMatchesDecodedList(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	record(t, db, "d1", pr(1, "a", "a", true, t0))
	record(t, db, "d2", pr(2, "b", "b", true, t0))
	db.UpdateEnvironment(ctx, "a", func(e *preview.Environment) error { e.Status = preview.StatusDestroyed; return nil })
	for _, f := range []preview.EnvironmentFilter{{}, {LiveOnly: true}, {Repo: "ACME/shop"}} {
		raw, _, err := ScanJSON(ctx, db, f)
		if err != nil {
			t.Fatal(err)
		}
		var got []preview.Environment
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("filter %+v: invalid JSON %s: %v", f, raw, err)
		}
		want, _ := db.FindEnvironments(ctx, f)
		if len(got) != len(want) {
			t.Errorf("filter %+v: got %d environments as JSON, %d decoded", f, len(got), len(want))
		}
	}
	if raw, _, _ := ScanJSON(ctx, db, preview.EnvironmentFilter{Repo: "other/repo"}); string(raw) != "[]" {
		t.Errorf("no match: got %s want []", raw)
	}
}

// ScanJSON returns the environments db.ScanEnvironments gives as one JSON
// array of their stored encodings, and the next page's cursor.
func ScanJSON(ctx context.Context, db interface {
	ScanEnvironments(ctx context.Context, filter preview.EnvironmentFilter, fn func(name string, data []byte) error) (string, error)
}, filter preview.EnvironmentFilter) ([]byte, string, error) {
	buf := []byte{'['}
	next, err := db.ScanEnvironments(ctx, filter, func(_ string, data []byte) error {
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = append(buf, data...)
		return nil
	})
	return append(buf, ']'), next, err
}

// TestFindEnvironmentsPages walks 25 environments (every third destroyed)
// in pages of 4, with every filter, and wants each exactly once, in order.
func testFindEnvironmentsPages(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	for i := range 25 {
		res := record(t, db, fmt.Sprintf("d%d", i), pr(i+1, fmt.Sprintf("page-%02d", i), "a", true, t0))
		if i%3 == 0 {
			db.UpdateEnvironment(ctx, res.Environment.Name, func(e *preview.Environment) error { e.Status = preview.StatusDestroyed; return nil })
		}
	}
	for _, f := range []preview.EnvironmentFilter{{}, {LiveOnly: true}, {Status: preview.StatusDestroyed}, {Repo: "acme/shop", LiveOnly: true}} {
		want, _ := db.FindEnvironments(ctx, f)
		var got []string
		page := f
		page.Limit = 4
		for pages := 0; ; pages++ {
			raw, next, err := ScanJSON(ctx, db, page)
			if err != nil || pages > 10 {
				t.Fatalf("filter %+v: page %d: %v", f, pages, err)
			}
			var envs []preview.Environment
			json.Unmarshal(raw, &envs)
			if len(envs) > 4 {
				t.Fatalf("filter %+v: a page of %d, want at most 4", f, len(envs))
			}
			for _, e := range envs {
				got = append(got, e.Name)
			}
			if next == "" {
				break
			}
			page.After = next
		}
		var names []string
		for _, e := range want {
			names = append(names, e.Name)
		}
		if !slices.Equal(got, names) || len(names) == 0 {
			t.Errorf("filter %+v: pages gave %v, want %v", f, got, names)
		}
	}
}
