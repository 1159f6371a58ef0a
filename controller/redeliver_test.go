package controller_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/internal/waittest"
	"github.com/previewd/previewd/store"
)

// fakeDeliveryLog is GitHub's delivery log: a redelivery adds an attempt.
type fakeDeliveryLog struct {
	mu         sync.Mutex
	attempts   []preview.HookDelivery
	redelivers []int64
	nextID     int64
	listings   int
}

func (f *fakeDeliveryLog) HookDeliveries(context.Context, time.Time) ([]preview.HookDelivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listings++
	return slices.Clone(f.attempts), nil
}

func (f *fakeDeliveryLog) passes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listings
}

func (f *fakeDeliveryLog) Redeliver(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.redelivers = append(f.redelivers, id)
	for _, a := range f.attempts {
		if a.ID == id {
			f.nextID++
			f.attempts = append(f.attempts, preview.HookDelivery{ID: 1000 + f.nextID, GUID: a.GUID, Event: a.Event, StatusCode: 202, DeliveredAt: time.Now(), Redelivery: true})
		}
	}
	return nil
}

func (f *fakeDeliveryLog) asked() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.redelivers)
}

// TestFailedDeliveriesAreRedeliveredOnce asks GitHub to redeliver a
// delivery that failed and was never recorded, once; not one previewd
// recorded (only its answer was lost), not one answered 2xx, not one that
// failed and then succeeded, and not one redelivered already.
func TestFailedDeliveriesAreRedeliveredOnce(t *testing.T) {
	db, err := store.Open(t.TempDir()+"/previewd.db", store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// A delivery previewd recorded, though GitHub saw it fail (a timeout).
	if _, err := db.RecordPullRequest(context.Background(), "recorded", preview.PullRequest{Repo: "acme/shop", Number: 1, Open: true, HeadSHA: "a", Branch: "a", UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	log := &fakeDeliveryLog{attempts: []preview.HookDelivery{
		{ID: 1, GUID: "failed", Event: "pull_request", StatusCode: 503, DeliveredAt: now.Add(-time.Hour)},
		{ID: 2, GUID: "recorded", Event: "pull_request", StatusCode: 0, DeliveredAt: now.Add(-time.Hour)},
		{ID: 3, GUID: "fine", Event: "pull_request", StatusCode: 202, DeliveredAt: now.Add(-time.Hour)},
		{ID: 4, GUID: "flaky", Event: "pull_request", StatusCode: 500, DeliveredAt: now.Add(-2 * time.Hour)},
		{ID: 5, GUID: "flaky", Event: "pull_request", StatusCode: 202, DeliveredAt: now.Add(-time.Hour), Redelivery: true},
		{ID: 6, GUID: "asked-before", Event: "issue_comment", StatusCode: 500, DeliveredAt: now.Add(-2 * time.Hour)},
		{ID: 7, GUID: "asked-before", Event: "issue_comment", StatusCode: 500, DeliveredAt: now.Add(-time.Hour), Redelivery: true},
	}}
	h := startWith(t, &fakeProvisioner{apply: func(context.Context, preview.Environment) (string, error) { return "https://x.test/", nil }}, db,
		func(c *controller.Config) {
			c.Redelivery = controller.RedeliveryConfig{Deliveries: log, Interval: 20 * time.Millisecond}
		})
	_ = h
	waittest.For(t, "the failed delivery redelivered", log.asked, func(ids []int64) bool { return len(ids) > 0 })
	// Three more passes see the redelivery in the log and ask nothing more.
	after := log.passes()
	waittest.For(t, "three more passes", log.passes, func(n int) bool { return n >= after+3 })
	if got := log.asked(); !slices.Equal(got, []int64{1}) {
		t.Errorf("redelivered attempts %v, want [1] once", got)
	}
}
