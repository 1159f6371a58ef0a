package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/store"
	"github.com/previewd/previewd/store/storetest"
	bolt "go.etcd.io/bbolt"
)

var t0 = storetest.T0

func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "previewd.db")
	}
	db, err := store.Open(path, store.Options{TTL: time.Hour, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pr(number int, branch, sha string, open bool, updated time.Time) preview.PullRequest {
	return preview.PullRequest{Repo: "acme/shop", Number: number, Open: open, HeadSHA: sha, Branch: branch, UpdatedAt: updated, Author: "alice"}
}

func record(t *testing.T, db *store.DB, delivery string, p preview.PullRequest) preview.RecordResult {
	t.Helper()
	res, err := db.RecordPullRequest(context.Background(), delivery, p)
	if err != nil {
		t.Fatalf("record %s: %v", delivery, err)
	}
	return res
}

func TestSecondProcessIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.db")
	openDB(t, path)
	start := time.Now()
	_, err := store.Open(path, store.Options{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "another previewd") {
		t.Fatalf("second open: got %v, want ErrLocked naming another previewd", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("second open took %v, want about the timeout", time.Since(start))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error {
		m, _ := tx.CreateBucket([]byte("meta"))
		return m.Put([]byte("schema_version"), []byte("99"))
	})
	b.Close()
	if _, err := store.Open(path, store.Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("got %v, want a newer-schema error", err)
	}
}

func TestBackupIsAUsableDatabase(t *testing.T) {
	db := openDB(t, "")
	record(t, db, "d1", pr(1, "feature/a", "a", true, t0))
	var buf bytes.Buffer
	if _, err := db.Backup(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "restored.db")
	if err := writeFile(path, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	restored := openDB(t, path)
	if _, err := restored.FindEnvironmentByName(context.Background(), "feature-a"); err != nil {
		t.Fatalf("restored backup: %v", err)
	}
}

func TestMigrationFromSchema1BuildsTheLiveIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "previewd.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket([]byte("meta"))
		meta.Put([]byte("schema_version"), []byte("1"))
		envs, _ := tx.CreateBucket([]byte("environments"))
		for _, name := range []string{"dead", "alive"} {
			tx.CreateBucketIfNotExists([]byte("pull_requests"))
			tx.CreateBucketIfNotExists([]byte("deliveries"))
			tx.CreateBucketIfNotExists([]byte("runs"))
			status := "ready"
			if name == "dead" {
				status = "destroyed"
			}
			envs.Put([]byte(name), fmt.Appendf(nil, `{"name":%q,"status":%q}`, name, status))
		}
		return nil
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, path)
	live, err := db.FindEnvironments(context.Background(), preview.EnvironmentFilter{LiveOnly: true})
	if err != nil || len(live) != 1 || live[0].Name != "alive" {
		t.Fatalf("live after migration: got %+v (err %v), want just alive", live, err)
	}
}

// TestContract runs the store contract against bbolt.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openDB(t, "") })
}
