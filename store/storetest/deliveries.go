package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func testDeliveryRecorded(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	ctx := context.Background()
	record(t, db, "seen", pr(1, "a", "a", true, t0))
	for delivery, want := range map[string]bool{"seen": true, "never": false} {
		if got, err := db.DeliveryRecorded(ctx, delivery); err != nil || got != want {
			t.Errorf("DeliveryRecorded(%q) = %v, %v; want %v", delivery, got, err, want)
		}
	}
}

func testPruneDeliveries(t *testing.T, open func(*testing.T) Store) {
	db := open(t)
	for i := range 5 {
		record(t, db, fmt.Sprintf("d%d", i), pr(1, "a", fmt.Sprint(i), true, t0.Add(time.Duration(i)*time.Second)))
	}
	n, err := db.PruneDeliveries(context.Background(), t0.Add(time.Minute))
	if err != nil || n != 5 {
		t.Fatalf("prune: got %d (err %v), want 5", n, err)
	}
	if res := record(t, db, "d0", pr(1, "a", "z", true, t0.Add(time.Hour))); res.Duplicate {
		t.Errorf("after pruning, d0 is new again: got duplicate")
	}
}
