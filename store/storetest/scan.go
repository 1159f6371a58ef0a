package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
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

// testFindEnvironmentsMany reads 1,300 environments (every tenth
// destroyed), as a long-running installation's start-up does, with and
// without filters: each once, in order, decoded into its own place,
// whatever pieces the store reads them in.
func testFindEnvironmentsMany(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	const n = 1300
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res, err := db.RecordPullRequest(ctx, "", pr(i+1, fmt.Sprintf("many-%04d", i), "a", true, t0))
			if err == nil && i%10 == 0 {
				_, err = db.UpdateEnvironment(ctx, res.Environment.Name, func(e *preview.Environment) error { e.Status = preview.StatusDestroyed; return nil })
			}
			if err != nil {
				t.Errorf("environment %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for f, want := range map[preview.EnvironmentFilter]func(i int) bool{
		{}:                                func(int) bool { return true },
		{LiveOnly: true}:                  func(i int) bool { return i%10 != 0 },
		{Status: preview.StatusDestroyed}: func(i int) bool { return i%10 == 0 },
		{Limit: 1000}:                     func(i int) bool { return i < 1000 },
		{After: "many-0999", Limit: 1000}: func(i int) bool { return i > 999 },
	} {
		envs, err := db.FindEnvironments(ctx, f)
		if err != nil {
			t.Fatalf("filter %+v: %v", f, err)
		}
		var got, wanted []string
		for _, e := range envs {
			got = append(got, fmt.Sprintf("%s #%d", e.Name, e.PR))
		}
		for i := range n {
			if want(i) {
				wanted = append(wanted, fmt.Sprintf("many-%04d #%d", i, i+1))
			}
		}
		if !slices.Equal(got, wanted) {
			t.Errorf("filter %+v: got %d environments, want %d, each once in order with its own pull request", f, len(got), len(wanted))
		}
	}
}
