package preview

import (
	"testing"
	"time"
)

// TestExpiry: activity moves the expiry TTL ahead and a kept
// environment's MaxKeep ahead; an extension stays within MaxKeep of now;
// Expired reads only what the environment recorded.
func TestExpiry(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ttl, maxKeep := 72*time.Hour, 30*24*time.Hour
	var touched Environment
	touched.Touch(now, ttl, maxKeep)
	if !touched.ExpiresAt.Equal(now.Add(ttl)) || !touched.KeepUntil.Equal(now.Add(maxKeep)) {
		t.Fatalf("touched: expires %s, kept until %s; want TTL and MaxKeep after now", touched.ExpiresAt, touched.KeepUntil)
	}
	kept := touched
	kept.Desired.Pinned = true
	labelled := touched
	labelled.Desired.Labels = []string{KeepLabel}
	keptBefore := kept // stored before KeepUntil was recorded
	keptBefore.KeepUntil = time.Time{}
	tests := []struct {
		name string
		env  Environment
		at   time.Time
		want bool
	}{
		{"never active", Environment{}, now.Add(1000 * time.Hour), false},
		{"at its expiry", touched, now.Add(ttl), false},
		{"past its expiry", touched, now.Add(ttl + time.Second), true},
		{"kept, past its expiry", kept, now.Add(ttl + time.Second), false},
		{"kept, at MaxKeep", kept, now.Add(maxKeep), false},
		{"kept, past MaxKeep", kept, now.Add(maxKeep + time.Second), true},
		{"kept by the label, past MaxKeep", labelled, now.Add(maxKeep + time.Second), true},
		{"kept, without KeepUntil", keptBefore, now.Add(maxKeep + time.Second), false},
	}
	for _, tt := range tests {
		if got := tt.env.Expired(tt.at); got != tt.want {
			t.Errorf("%s: Expired %v, want %v", tt.name, got, tt.want)
		}
	}

	// A kept record without KeepUntil gets the earlier rule's limit:
	// MaxKeep after its last activity, TTL before its expiry.
	keptBefore.BackfillKeepUntil(ttl, maxKeep)
	if !keptBefore.KeepUntil.Equal(now.Add(maxKeep)) || !keptBefore.Expired(now.Add(maxKeep+time.Second)) {
		t.Errorf("backfilled: kept until %s, expired past MaxKeep %v; want %s, true", keptBefore.KeepUntil, keptBefore.Expired(now.Add(maxKeep+time.Second)), now.Add(maxKeep))
	}
	recorded := kept
	recorded.KeepUntil = now.Add(time.Hour)
	if recorded.BackfillKeepUntil(ttl, maxKeep); !recorded.KeepUntil.Equal(now.Add(time.Hour)) {
		t.Errorf("a recorded KeepUntil was changed to %s", recorded.KeepUntil)
	}

	e := touched
	e.Extend(now, 48*time.Hour, maxKeep)
	if want := now.Add(ttl + 48*time.Hour); !e.ExpiresAt.Equal(want) {
		t.Errorf("extended by 48h: expires %s, want %s", e.ExpiresAt, want)
	}
	late := touched
	late.Extend(now.Add(100*time.Hour), time.Hour, maxKeep)
	if want := now.Add(101 * time.Hour); !late.ExpiresAt.Equal(want) {
		t.Errorf("extended after its expiry: expires %s, want an hour after now (%s)", late.ExpiresAt, want)
	}
	e.Extend(now, 9999*time.Hour, maxKeep)
	if want := now.Add(maxKeep); !e.ExpiresAt.Equal(want) {
		t.Errorf("extended past the maximum: expires %s, want %s", e.ExpiresAt, want)
	}
}
