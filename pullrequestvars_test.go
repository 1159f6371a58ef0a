package preview

import (
	"slices"
	"testing"
)

func TestPullRequestVariables(t *testing.T) {
	env := Environment{Name: "feature-x", PR: 7, Branch: "feature/x", HeadSHA: "abc", Repo: "acme/shop"}
	got := env.PullRequestVariables()
	want := map[string]any{"environment": "feature-x", "pr_number": 7, "branch": "feature/x", "head_sha": "abc", "repo": "acme/shop"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if names := PullRequestVariableNames(); !slices.Equal(names, []string{"environment", "pr_number", "branch", "head_sha", "repo"}) {
		t.Errorf("names %v", names)
	}
}
