package parity

import (
	"bytes"
	"context"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

func TestHookEnv(t *testing.T) {
	env := preview.Environment{Name: "feat-x", Repo: "acme/shop", PR: 7, Branch: "feat/x", HeadSHA: "abc", URL: "http://x"}
	got := HookEnv(env, map[string]string{"url": "http://x", "db-host": "db.internal"})
	want := map[string]string{
		"PREVIEW_ENVIRONMENT": "feat-x", "PREVIEW_REPO": "acme/shop", "PREVIEW_PR": "7", "PREVIEW_BRANCH": "feat/x",
		"PREVIEW_BRANCH_SLUG": "feat-x",
		"PREVIEW_HEAD_SHA":    "abc", "PREVIEW_URL": "http://x", "PREVIEW_OUTPUT_URL": "http://x", "PREVIEW_OUTPUT_DB_HOST": "db.internal",
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestHookBranchSlugIsSafeUnquoted runs a hook that uses PREVIEW_BRANCH_SLUG
// unquoted in a shell, for a branch crafted to inject a command when
// PREVIEW_BRANCH is used the same way.
func TestHookBranchSlugIsSafeUnquoted(t *testing.T) {
	dir := t.TempDir()
	env := preview.Environment{Name: "x", Branch: "feat/$(touch pwned);`touch pwned2` x"}
	var log bytes.Buffer
	argv := []string{"sh", "-c", "echo db_$PREVIEW_BRANCH_SLUG; eval echo $PREVIEW_BRANCH_SLUG"}
	if err := RunHook(context.Background(), argv, env, nil, CommandOptions{Dir: dir}, &log); err != nil {
		t.Fatal(err)
	}
	if want := "db_feat-touch-pwned-touch-pwned2-x\n"; !strings.HasPrefix(log.String(), want) {
		t.Errorf("got %q, want it to start %q", log.String(), want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the slug ran a command: %v", entries)
	}
}

func TestRunHook(t *testing.T) {
	t.Setenv("PREVIEWD_ADMIN_TOKEN", "admin-token")
	env := preview.Environment{Name: "feat-x", URL: "http://feat-x.test"}
	tests := []struct {
		name    string
		argv    []string
		timeout time.Duration
		wantLog []string // lines, in any order: stdout and stderr may interleave
		wantErr string
	}{
		{name: "outputs in the environment, output logged", argv: []string{"sh", "-c", `echo seeding $PREVIEW_URL $PREVIEW_OUTPUT_DB; echo warming >&2`}, wantLog: []string{"seeding http://feat-x.test db.internal", "warming"}},
		{name: "secrets never passed", argv: []string{"sh", "-c", `echo "token=[$PREVIEWD_ADMIN_TOKEN]"`}, wantLog: []string{"token=[]"}},
		{name: "failure carries stderr", argv: []string{"sh", "-c", "echo relation users does not exist >&2; exit 2"}, wantErr: "command sh: exit status 2: relation users does not exist"},
		{name: "timeout", argv: []string{"sleep", "10"}, timeout: 100 * time.Millisecond, wantErr: "command sleep: timed out after 100ms"},
		{name: "no command", argv: nil, wantErr: "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			start := time.Now()
			err := RunHook(context.Background(), tt.argv, env, map[string]string{"db": "db.internal"}, CommandOptions{Timeout: tt.timeout}, &log)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			for _, line := range tt.wantLog {
				if !strings.Contains(log.String(), line+"\n") {
					t.Errorf("got log %q, want it to contain %q", log.String(), line)
				}
			}
			if time.Since(start) > 8*time.Second {
				t.Errorf("took %s: the timeout did not stop the command", time.Since(start))
			}
		})
	}
}

func TestRunHookCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err := RunHook(ctx, []string{"sleep", "10"}, preview.Environment{}, nil, CommandOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("got %v, want context canceled", err)
	}
}

func TestCommandEnv(t *testing.T) {
	environ := []string{"PATH=/bin", "HOME=/root", "AWS_PROFILE=shop", "AWS_SECRET_ACCESS_KEY=s", "PREVIEWD_WEBHOOK_SECRET=w", "GITHUB_TOKEN=g", "OTHER=o"}
	got := commandEnv(environ, []string{"AWS_*", "GITHUB_TOKEN"}, map[string]string{"PREVIEW_URL": "u", "PREVIEWD_X": "no"})
	want := []string{"AWS_PROFILE=shop", "AWS_SECRET_ACCESS_KEY=s", "HOME=/root", "PATH=/bin", "PREVIEW_URL=u"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}
