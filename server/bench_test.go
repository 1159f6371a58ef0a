package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/store"
	"github.com/previewd/previewd/webhooks"
)

// seedStore fills a store with n environments of which live stay live and
// the rest are destroyed, the shape of a store after months of use.
func seedStore(b *testing.B, n, live int) *store.DB {
	b.Helper()
	path := filepath.Join(b.TempDir(), "previewd.db")
	db, err := store.Open(path, store.Options{TTL: time.Hour, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			pr := preview.PullRequest{Repo: fmt.Sprintf("acme/repo-%d", i%40), Number: i + 1, Open: true,
				HeadSHA: fmt.Sprintf("%040x", i), Branch: fmt.Sprintf("feature/change-%d", i), UpdatedAt: time.Now(), Author: "octocat"}
			res, err := db.RecordPullRequest(ctx, "", pr)
			if err != nil {
				b.Error(err)
				return
			}
			if i < live {
				return
			}
			db.UpdateEnvironment(ctx, res.Environment.Name, func(e *preview.Environment) error {
				e.Status, e.Desired.Present = preview.StatusDestroyed, false
				e.Comment.Body = "<!-- previewd:environment=x -->\n## 🗑️ Preview destroyed\n\nThis preview environment has been destroyed."
				return nil
			})
		})
	}
	wg.Wait()
	db.Close()
	db, err = store.Open(path, store.Options{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkAdminList10k measures GET /api/v1/environments with 10,000
// environments in the store (9,500 destroyed): the whole list (goal: under
// 50 ms), the live ones, and a page of 100 (goal: under 10 ms).
func BenchmarkAdminList10k(b *testing.B) {
	db := seedStore(b, 10000, 500)
	s := server.New(server.Config{AdminToken: token, Store: db, Deliveries: webhooks.NewIntake([]byte(secret), db, nil), Controller: &fakeController{ready: true}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, q := range []string{"", "?live=true", "?limit=100", "?limit=100&cursor=feature-change-5000"} {
		b.Run("query="+q, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			for b.Loop() {
				req, _ := http.NewRequest("GET", srv.URL+"/api/v1/environments"+q, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("list: %v %v", err, resp)
				}
				resp.Body.Close()
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/list")
			b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MB")
		})
	}
}

// BenchmarkReconcileScan10k measures the controller's periodic scan (live
// environments only) and the full scan it does at start-up, over 10,000.
func BenchmarkReconcileScan10k(b *testing.B) {
	db := seedStore(b, 10000, 500)
	ctx := context.Background()
	for _, f := range []preview.EnvironmentFilter{{LiveOnly: true}, {}} {
		b.Run(fmt.Sprintf("live_only=%v", f.LiveOnly), func(b *testing.B) {
			for b.Loop() {
				envs, err := db.FindEnvironments(ctx, f)
				if err != nil || len(envs) < 500 {
					b.Fatalf("scan: %d %v", len(envs), err)
				}
				now := time.Now()
				for i := range envs {
					envs[i].NextAction(now, 5)
				}
			}
		})
	}
}
