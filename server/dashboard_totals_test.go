package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/store"
)

// filterRecorder is a store that records the filters environments are
// read with.
type filterRecorder struct {
	server.Store
	mu      sync.Mutex
	filters []preview.EnvironmentFilter
}

func (r *filterRecorder) FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error) {
	r.mu.Lock()
	r.filters = append(r.filters, filter)
	r.mu.Unlock()
	return r.Store.FindEnvironments(ctx, filter)
}

// refreshed is the dashboard's clock, which moves between two renders.
var refreshed = regexp.MustCompile(`refreshed [0-9-]+ [0-9:]+ UTC`)

// storeForTotals is a store of four environments: acme/shop's ready for
// two hours and destroyed, acme/docs's destroyed, acme/blog's queued; the
// destroyed ones have hours this month.
func storeForTotals(t *testing.T) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	for i, e := range []struct {
		repo   string
		status preview.Status
	}{{"acme/shop", preview.StatusReady}, {"acme/shop", preview.StatusDestroyed}, {"acme/docs", preview.StatusDestroyed}, {"acme/blog", preview.StatusQueued}} {
		res, err := db.RecordPullRequest(ctx, "", preview.PullRequest{Repo: e.repo, Number: i + 1, Open: true, HeadSHA: "a", Branch: fmt.Sprintf("b-%d", i), UpdatedAt: now})
		if err == nil {
			_, err = db.UpdateEnvironment(ctx, res.Environment.Name, func(env *preview.Environment) error {
				env.Status = e.status
				switch e.status {
				case preview.StatusReady:
					env.LiveSince = now.Add(-2 * time.Hour)
				case preview.StatusDestroyed:
					env.Usage = map[string]float64{now.UTC().Format("2006-01"): float64(3 + i)}
				}
				return nil
			})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// TestDashboardTakesItsTotalsFromTheGauges: with the environment gauges,
// the list reads only the environments its filter selects, and shows the
// same page as when it reads every environment: the live count, the
// repositories and this month's cost by repository count the destroyed
// environments too.
func TestDashboardTakesItsTotalsFromTheGauges(t *testing.T) {
	db := storeForTotals(t)
	envs, err := db.FindEnvironments(context.Background(), preview.EnvironmentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	pricing := preview.Pricing{Repos: map[string]preview.Price{"acme/shop": {Hourly: 0.5, Currency: "€"}, "acme/docs": {Hourly: 0.25}}}
	gauges := server.NewEnvironmentGauges(pricing, time.Now)
	gauges.Count(envs)
	page := func(gauges *server.EnvironmentGauges, query string) (string, []preview.EnvironmentFilter) {
		t.Helper()
		reads := &filterRecorder{Store: db}
		s := server.New(server.Config{AdminToken: token, Store: reads, Controller: &fakeController{ready: true},
			Dashboard: server.Pages{Pricing: pricing}.Dashboard, Gauges: gauges})
		srv := httptest.NewServer(s.Handler())
		defer srv.Close()
		req, _ := http.NewRequest("GET", srv.URL+"/dashboard"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: got %d\n%s", query, resp.StatusCode, body)
		}
		reads.mu.Lock()
		defer reads.mu.Unlock()
		return refreshed.ReplaceAllString(string(body), ""), reads.filters
	}
	for query, want := range map[string]preview.EnvironmentFilter{
		"":                  {LiveOnly: true},
		"?all=true":         {},
		"?status=destroyed": {Status: preview.StatusDestroyed},
		"?repo=acme/shop":   {LiveOnly: true, Repo: "acme/shop"},
	} {
		everyOne, _ := page(nil, query)
		got, filters := page(gauges, query)
		if got != everyOne {
			t.Errorf("%q: with the gauges the page is\n%s\nwant, as from every environment,\n%s", query, got, everyOne)
		}
		if !slices.Equal(filters, []preview.EnvironmentFilter{want}) {
			t.Errorf("%q: the environments were read with %+v, want %+v alone", query, filters, want)
		}
		for _, total := range []string{"2 live", "<option>acme/docs</option>", "<td>acme/docs</td><td>5.0</td>"} {
			if !strings.Contains(got, total) {
				t.Errorf("%q: the page lacks %q:\n%s", query, total, got)
			}
		}
	}
}
