package preview

import "testing"

// TestEnvironmentFilterMatch: every store and the dashboard's list select
// environments by the same rule.
func TestEnvironmentFilterMatch(t *testing.T) {
	ready := Environment{Name: "a", Repo: "acme/shop", Status: StatusReady}
	gone := Environment{Name: "b", Repo: "acme/shop", Status: StatusDestroyed}
	for _, tt := range []struct {
		name   string
		filter EnvironmentFilter
		env    Environment
		want   bool
	}{
		{"no filter", EnvironmentFilter{}, gone, true},
		{"live only, live", EnvironmentFilter{LiveOnly: true}, ready, true},
		{"live only, destroyed", EnvironmentFilter{LiveOnly: true}, gone, false},
		{"repository in another case", EnvironmentFilter{Repo: "ACME/Shop"}, ready, true},
		{"another repository", EnvironmentFilter{Repo: "acme/web"}, ready, false},
		{"its status", EnvironmentFilter{Status: StatusDestroyed}, gone, true},
		{"another status", EnvironmentFilter{Status: StatusDestroyed}, ready, false},
	} {
		if got := tt.filter.Match(tt.env); got != tt.want {
			t.Errorf("%s: Match %v, want %v", tt.name, got, tt.want)
		}
	}
}
