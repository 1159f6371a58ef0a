package preview

import (
	"slices"
	"testing"
	"time"
)

func TestReadChecks(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	required := []string{"build-image", "test"}
	tests := []struct {
		name    string
		prev    Checks
		sha     string
		states  map[string]CheckState
		now     time.Time
		waiting []string
		failed  string
		timed   bool
		since   time.Time
		passed  bool
	}{
		{"nothing reported yet", Checks{}, "a", nil, t0, required, "", false, t0, false},
		{"one succeeded", Checks{SHA: "a", Since: t0}, "a", map[string]CheckState{"build-image": CheckSuccess, "test": CheckPending}, t0.Add(time.Minute), []string{"test"}, "", false, t0, false},
		{"all succeeded", Checks{SHA: "a", Since: t0}, "a", map[string]CheckState{"build-image": CheckSuccess, "test": CheckSuccess, "lint": CheckFailure}, t0.Add(2 * time.Minute), nil, "", false, t0, true},
		{"one failed", Checks{SHA: "a", Since: t0}, "a", map[string]CheckState{"build-image": CheckFailure, "test": CheckFailure}, t0, nil, "build-image", false, t0, false},
		{"a new head waits anew", Checks{SHA: "a", Since: t0}, "b", map[string]CheckState{"build-image": CheckSuccess}, t0.Add(time.Hour), []string{"test"}, "", false, t0.Add(time.Hour), false},
		{"timed out", Checks{SHA: "a", Since: t0}, "a", map[string]CheckState{"build-image": CheckSuccess}, t0.Add(31 * time.Minute), []string{"test"}, "", true, t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ReadChecks(tt.prev, tt.sha, required, tt.states, tt.now, 30*time.Minute)
			if !slices.Equal(got.Waiting, tt.waiting) || got.Failed != tt.failed || got.TimedOut != tt.timed || !got.Since.Equal(tt.since) || got.SHA != tt.sha || got.Passed() != tt.passed {
				t.Errorf("got %+v (passed %v)", got, got.Passed())
			}
		})
	}
}
