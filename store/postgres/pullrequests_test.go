package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/store/postgres"
	"github.com/previewd/previewd/store/storetest"
)

// TestRecordingThatFailsLeavesNothingHeld: an event of a known pull
// request whose stored environment cannot be read fails with a clear error
// and records nothing, not even its delivery; its transaction is rolled
// back rather than left open on a pooled connection holding the row's lock,
// so once the row is repaired the same delivery is recorded, and every
// other pull request's events go on meanwhile, more of them than the pool
// has connections.
func TestRecordingThatFailsLeavesNothingHeld(t *testing.T) {
	url, conn := pgtest.Database(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, postgres.Options{TTL: time.Hour, Now: func() time.Time { return storetest.T0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	env := record(t, db, 1, "sha1")
	record(t, db, 2, "sha1")
	good, err := db.FindEnvironmentByPullRequest(ctx, "acme/shop", 1)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "UPDATE environments SET data = '{broken' WHERE name = $1", env.Name); err != nil {
		t.Fatal(err)
	}
	push := func(number int, sha string) preview.PullRequest {
		return preview.PullRequest{Repo: "acme/shop", Number: number, Branch: "feature", HeadSHA: sha, Open: true, UpdatedAt: storetest.T0.Add(time.Minute)}
	}
	for i := range 10 { // more than the pool's connections: none may stay in a failed transaction
		_, err := db.RecordPullRequest(ctx, fmt.Sprintf("broken-%d", i), push(1, "sha2"))
		if err == nil || !strings.Contains(err.Error(), "decode") || !strings.Contains(err.Error(), "acme/shop#1") {
			t.Fatalf("recording onto a broken environment: %v, want a decode error naming the pull request", err)
		}
		if seen, err := db.DeliveryRecorded(ctx, fmt.Sprintf("broken-%d", i)); err != nil || seen {
			t.Fatalf("a failed recording kept its delivery: %v %v", seen, err)
		}
	}
	ctx5, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if res, err := db.RecordPullRequest(ctx5, "other", push(2, "sha2")); err != nil || !res.Changed {
		t.Fatalf("another pull request after the failures: %+v %v", res, err)
	}
	if _, err := conn.Exec(ctx5, "UPDATE environments SET data = $2 WHERE name = $1", env.Name, string(data)); err != nil {
		t.Fatalf("repairing the row (is its lock still held?): %v", err)
	}
	res, err := db.RecordPullRequest(ctx5, "broken-0", push(1, "sha2"))
	if err != nil || res.Duplicate || !res.Changed || res.Environment.HeadSHA != "sha2" {
		t.Fatalf("the failed delivery again after the repair: %+v %v, want it recorded", res, err)
	}
}
