package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/store/postgres"
	"github.com/previewd/previewd/store/storetest"
)

func open(t *testing.T) *postgres.DB {
	t.Helper()
	url, _ := pgtest.Database(t)
	db, err := postgres.Open(context.Background(), url, postgres.Options{TTL: time.Hour, Now: func() time.Time { return storetest.T0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestContract runs the store contract against PostgreSQL, a database per
// test.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return open(t) })
}

// TestMigrations opens a database twice (the second open finds it
// migrated) and refuses one a newer previewd wrote.
func TestMigrations(t *testing.T) {
	url, conn := pgtest.Database(t)
	ctx := context.Background()
	for range 2 {
		db, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	if _, err := conn.Exec(ctx, "UPDATE previewd_schema SET version = 99"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, url, postgres.Options{}); err == nil || !strings.Contains(err.Error(), "newer than this previewd") {
		t.Errorf("a newer schema: %v, want it refused", err)
	}
}

// TestASecondMigrationIsRefused holds the database's instance lock for
// one `store migrate`: a second is refused until the first closes.
func TestASecondMigrationIsRefused(t *testing.T) {
	url, _ := pgtest.Database(t)
	ctx := context.Background()
	first, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.Lock(ctx); err != postgres.ErrLocked {
		t.Errorf("a second process: %v, want ErrLocked", err)
	}
	first.Close()
	if err := second.Lock(ctx); err != nil {
		t.Errorf("after the first closed: %v", err)
	}
}
