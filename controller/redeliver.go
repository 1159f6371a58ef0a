package controller

import (
	"context"
	"time"

	preview "github.com/previewd/previewd"
)

// Redeliveries is GitHub's log of the App's webhook deliveries, and its
// redelivery (App mode).
type Redeliveries interface {
	// HookDeliveries lists the delivery attempts made since since.
	HookDeliveries(ctx context.Context, since time.Time) ([]preview.HookDelivery, error)
	// Redeliver asks GitHub to deliver attempt id again.
	Redeliver(ctx context.Context, id int64) error
}

// redeliveryWindow is how far back deliveries are healed: GitHub keeps
// its delivery log, and redelivers, for three days.
const redeliveryWindow = 72 * time.Hour

// redelivery is the service that heals what GitHub dropped: on the
// leader, at start-up and every Interval, it asks GitHub to deliver again
// the deliveries that failed (GitHub does not redeliver a failed delivery
// by itself). With no Redeliveries it is not started.
type redelivery struct {
	*core
	deliveries Redeliveries
	every      time.Duration
}

// run redelivers while this replica leads, until ctx ends.
func (r *redelivery) run(ctx context.Context) {
	r.leader.every(ctx, r.every, true, r.redeliver, nil)
}

// redeliver asks GitHub to deliver again, once, every delivery of the last
// three days whose attempts all failed, that previewd did not record, and
// that was not redelivered already (a redelivery is an attempt of the same
// delivery in GitHub's log, so no state of previewd's is needed to ask
// only once). Resync stays the last line of defence.
func (r *redelivery) redeliver(ctx context.Context) {
	attempts, err := r.deliveries.HookDeliveries(ctx, r.now().Add(-redeliveryWindow))
	if err != nil {
		r.log.Warn("redelivery: list deliveries", "err", err)
		return
	}
	for _, d := range failedDeliveries(attempts) {
		recorded, err := r.store.DeliveryRecorded(ctx, d.GUID)
		if err != nil {
			r.log.Error("redelivery: look up delivery", "delivery", d.GUID, "err", err)
			return
		}
		if recorded {
			continue // its change is durable; only the answer was lost
		}
		if err := r.deliveries.Redeliver(ctx, d.ID); err != nil {
			r.log.Warn("redelivery: ask", "delivery", d.GUID, "attempt", d.ID, "err", err)
			continue
		}
		r.log.Info("asked GitHub to redeliver a failed delivery", "delivery", d.GUID, "event", d.Event, "status_code", d.StatusCode, "delivered_at", d.DeliveredAt)
	}
}

// failedDeliveries returns, for each delivery none of whose attempts
// previewd answered 2xx and that was never redelivered, its newest attempt.
func failedDeliveries(attempts []preview.HookDelivery) []preview.HookDelivery {
	type state struct {
		newest          preview.HookDelivery
		ok, redelivered bool
	}
	byGUID := map[string]*state{}
	var order []string
	for _, a := range attempts {
		s, ok := byGUID[a.GUID]
		if !ok {
			s = &state{newest: a}
			byGUID[a.GUID] = s
			order = append(order, a.GUID)
		}
		if a.DeliveredAt.After(s.newest.DeliveredAt) {
			s.newest = a
		}
		s.ok = s.ok || a.StatusCode >= 200 && a.StatusCode < 300
		s.redelivered = s.redelivered || a.Redelivery
	}
	var out []preview.HookDelivery
	for _, guid := range order {
		if s := byGUID[guid]; guid != "" && !s.ok && !s.redelivered {
			out = append(out, s.newest)
		}
	}
	return out
}
