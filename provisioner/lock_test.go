package provisioner

import (
	"strings"
	"testing"
)

func TestLockProblem(t *testing.T) {
	tests := []struct {
		state State
		want  string // "" when the backend locks
	}{
		{State{}, "local state"},
		{State{Backend: "local"}, "local state"},
		{State{Backend: "s3", Config: map[string]string{"bucket": "b", "key": "k"}}, "locks nothing"},
		{State{Backend: "s3", Config: map[string]string{"bucket": "b", "key": "k", "use_lockfile": "false"}}, "locks nothing"},
		{State{Backend: "s3", Config: map[string]string{"bucket": "b", "key": "k", "dynamodb_table": "locks"}}, ""},
		{State{Backend: "s3", Config: map[string]string{"bucket": "b", "key": "k", "use_lockfile": "true"}}, ""},
		{State{Backend: "pg"}, ""},
		{State{Backend: "gcs", Config: map[string]string{"bucket": "b"}}, ""},
	}
	for _, tt := range tests {
		got := LockProblem(tt.state)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("LockProblem(%+v) = %q, want %q", tt.state, got, tt.want)
		}
	}
}
