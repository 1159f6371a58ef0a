package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	bolt "go.etcd.io/bbolt"
)

func TestMigrationFromSchema3IdentifiesRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	// What schema 3 stored: runs without repo and pr. The name "fix" was
	// taken at t0 by acme/shop#2, after acme/shop#1 had held it.
	rfc := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	started := map[string]time.Time{ // run ID: when it started
		"fix/0000000000000001":  t0.Add(-time.Hour),  // acme/shop#1's
		"fix/0000000000000002":  t0,                  // the same instant: the holder's
		"fix/0000000000000003":  t0.Add(time.Minute), // the holder's
		"gone/0000000000000004": t0,                  // no environment of that name
	}
	err = b.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket([]byte("meta"))
		meta.Put([]byte("schema_version"), []byte("3"))
		for _, name := range []string{"environments", "pull_requests", "deliveries", "runs", "live", "commands"} {
			tx.CreateBucket([]byte(name))
		}
		tx.Bucket([]byte("environments")).Put([]byte("fix"), fmt.Appendf(nil,
			`{"name":"fix","repo":"acme/shop","pr":2,"status":"ready","created_at":%q}`, rfc(t0)))
		for id, at := range started {
			name, _, _ := strings.Cut(id, "/")
			tx.Bucket([]byte("runs")).Put([]byte(id), fmt.Appendf(nil,
				`{"id":%q,"environment":%q,"phase":"apply","state":"succeeded","started_at":%q}`, id, name, rfc(at)))
		}
		return nil
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, path)
	ctx := context.Background()
	tests := []struct {
		id   string
		repo string
		pr   int
	}{
		{"fix/0000000000000001", "", 0},
		{"fix/0000000000000002", "acme/shop", 2},
		{"fix/0000000000000003", "acme/shop", 2},
		{"gone/0000000000000004", "", 0},
	}
	for _, tt := range tests {
		got, err := db.FindRunByID(ctx, tt.id)
		if err != nil {
			t.Fatalf("run %s: %v", tt.id, err)
		}
		if got.Repo != tt.repo || got.PR != tt.pr || got.ID != tt.id || got.Phase != preview.PhaseApply {
			t.Errorf("run %s: got %+v, want it kept with repo %q pr %d", tt.id, got, tt.repo, tt.pr)
		}
	}
	runs, err := db.FindRuns(ctx, preview.RunFilter{Environment: "fix", Repo: "acme/shop", PR: 2})
	if err != nil || len(runs) != 2 {
		t.Errorf("runs of fix after migration: got %+v (err %v), want the 2 of acme/shop#2", runs, err)
	}
}
