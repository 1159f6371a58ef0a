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
