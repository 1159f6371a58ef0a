package preview

import (
	"math"
	"testing"
	"time"
)

func TestEnvironmentHoursAcrossLivesAndMonths(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var e Environment
	e.Applied(at("2026-11-30T22:00:00Z"))
	e.Applied(at("2026-11-30T23:00:00Z")) // a re-apply does not restart the life
	if h := e.Hours(at("2026-12-01T02:00:00Z")); h != 4 {
		t.Errorf("hours while live: %v, want 4", h)
	}
	if h := e.HoursIn(at("2026-12-01T02:00:00Z")); h != 2 {
		t.Errorf("this month's hours: %v, want 2 (2 in November)", h)
	}
	e.Destroyed(at("2026-12-01T04:00:00Z"))
	if e.Usage["2026-11"] != 2 || e.Usage["2026-12"] != 4 || !e.LiveSince.IsZero() {
		t.Errorf("usage after the destroy: %v, live since %v", e.Usage, e.LiveSince)
	}
	e.Destroyed(at("2026-12-01T05:00:00Z")) // a second destroy adds nothing
	e.Applied(at("2026-12-02T00:00:00Z"))
	if h := e.Hours(at("2026-12-02T00:30:00Z")); math.Abs(h-6.5) > 1e-9 {
		t.Errorf("hours of two lives: %v, want 6.5", h)
	}
	if h := e.HoursIn(at("2026-12-02T00:30:00Z")); math.Abs(h-4.5) > 1e-9 {
		t.Errorf("December's hours: %v, want 4.5", h)
	}
	for m := range 14 { // only the last 12 months are kept
		e.Usage[time.Date(2025, time.Month(m+1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")] = 1
	}
	e.Destroyed(at("2026-12-02T01:00:00Z"))
	if len(e.Usage) != 12 || e.Usage["2026-12"] == 0 {
		t.Errorf("usage kept: %v", e.Usage)
	}
}

// TestHoldsResources: an environment holds resources, for a budget, from
// the start of an apply until a destroy succeeds; one whose required checks
// failed before any apply holds none.
func TestHoldsResources(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	wanted := Desired{Present: true, PROpen: true}
	gone := Desired{PROpen: true}
	tests := []struct {
		name string
		env  Environment
		want bool
	}{
		{"new, queued", Environment{Status: StatusQueued, Desired: wanted}, false},
		{"its checks failed before any apply", Environment{Status: StatusFailed, Desired: wanted}, false},
		{"provisioning", Environment{Status: StatusProvisioning, LastPhase: PhaseApply, AttemptedSHA: "a", Desired: wanted}, true},
		{"its first apply failed", Environment{Status: StatusFailed, LastPhase: PhaseApply, AttemptedSHA: "a", Attempts: 1, Desired: wanted}, true},
		{"its first apply failed, then a push", Environment{Status: StatusQueued, LastPhase: PhaseApply, AttemptedSHA: "a", Attempts: 1, Desired: wanted}, true},
		{"its first apply failed, then the push's checks failed", Environment{Status: StatusFailed, LastPhase: PhaseApply, AttemptedSHA: "a", Attempts: 1, Desired: wanted}, true},
		{"ready", Environment{Status: StatusReady, LastPhase: PhaseApply, AttemptedSHA: "a", LiveSince: now, Desired: wanted}, true},
		{"ready, then a push's checks failed", Environment{Status: StatusFailed, LastPhase: PhaseApply, AttemptedSHA: "a", LiveSince: now, Desired: wanted}, true},
		{"destroying", Environment{Status: StatusDestroying, LastPhase: PhaseDestroy, AttemptedSHA: "a", LiveSince: now, Desired: gone}, true},
		{"a failed apply's destroy failed", Environment{Status: StatusFailed, LastPhase: PhaseDestroy, AttemptedSHA: "a", Attempts: 3, Desired: gone}, true},
		{"that destroy tried again", Environment{Status: StatusFailed, LastPhase: PhaseDestroy, AttemptedSHA: "a", Desired: gone}, true},
		{"that destroy failed, then reopened", Environment{Status: StatusQueued, LastPhase: PhaseDestroy, AttemptedSHA: "a", Attempts: 3, Desired: wanted}, true},
		{"destroyed", Environment{Status: StatusDestroyed, LastPhase: PhaseDestroy, AttemptedSHA: "a", Desired: gone}, false},
		{"destroyed, then reopened", Environment{Status: StatusQueued, LastPhase: PhaseDestroy, AttemptedSHA: "a", Desired: wanted}, false},
		{"destroyed, reopened, and its checks failed", Environment{Status: StatusFailed, LastPhase: PhaseDestroy, AttemptedSHA: "a", Desired: wanted}, false},
		{"never applied, its destroy failed", Environment{Status: StatusFailed, LastPhase: PhaseDestroy, Attempts: 1, Desired: gone}, false},
	}
	for _, tt := range tests {
		if got := tt.env.HoldsResources(); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
