package github

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

func TestOfflineSyncComment(t *testing.T) {
	tests := []struct {
		name     string
		level    slog.Level
		comment  preview.Comment
		wantNew  bool // a new comment state, logged
		wantBody bool // the body appears in the logs
	}{
		{"first sync at info", slog.LevelInfo, preview.Comment{}, true, false},
		{"changed body at debug", slog.LevelDebug, preview.Comment{Body: "old"}, true, true},
		{"unchanged body", slog.LevelDebug, preview.Comment{}, false, false},
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			o := NewOffline(render, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: tt.level})))
			o.now = func() time.Time { return now }
			env := testEnv()
			body, _ := render(env)
			env.Comment = tt.comment
			if !tt.wantNew {
				env.Comment = preview.Comment{Body: body, UpdatedAt: now.Add(-time.Hour)}
			}

			got, err := o.SyncComment(context.Background(), env)
			if err != nil {
				t.Fatalf("SyncComment: %v", err)
			}
			want := env.Comment
			if tt.wantNew {
				want = preview.Comment{ID: 0, Body: body, UpdatedAt: now}
			}
			if got != want {
				t.Errorf("comment = %+v, want %+v", got, want)
			}
			logged := logs.String()
			if gotLog := strings.Contains(logged, "offline: comment not sent"); gotLog != tt.wantNew {
				t.Errorf("logged %q; want the info line: %v", logged, tt.wantNew)
			}
			if tt.wantNew && !strings.Contains(logged, "environment=feature-login repo=acme/shop pr=42") {
				t.Errorf("logged %q, want environment, repo and pr", logged)
			}
			if gotBody := strings.Contains(logged, "previewd:environment"); gotBody != tt.wantBody {
				t.Errorf("logged %q; want the body logged: %v", logged, tt.wantBody)
			}
		})
	}
}

func TestOfflineRefusesLongBody(t *testing.T) {
	o := NewOffline(func(preview.Environment) (string, error) { return strings.Repeat("x", MaxCommentLength+1), nil }, nil)
	if _, err := o.SyncComment(context.Background(), testEnv()); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("err = %v, want code %q", err, preview.EINVALID)
	}
}

func TestOfflineWritesNothing(t *testing.T) {
	var logs bytes.Buffer
	o := NewOffline(render, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx := context.Background()
	env := testEnv()
	env.Status, env.Desired = preview.StatusProvisioning, preview.Desired{Present: true, PROpen: true}

	dep, err := o.SyncDeployment(ctx, env)
	if want := (preview.Deployment{SHA: env.HeadSHA, State: "in_progress"}); err != nil || dep != want {
		t.Errorf("SyncDeployment = %+v, %v; want %+v", dep, err, want)
	}
	env.Deployment = dep
	if again, _ := o.SyncDeployment(ctx, env); again != dep {
		t.Errorf("second SyncDeployment = %+v, want %+v", again, dep)
	}
	env.Status = preview.StatusDestroyed
	if dep, _ := o.SyncDeployment(ctx, env); dep.State != "inactive" {
		t.Errorf("destroyed: deployment = %+v, want inactive", dep)
	}
	env.Status = preview.StatusProvisioning
	status, err := o.SyncCommitStatus(ctx, env)
	if want := (preview.CommitStatus{SHA: env.HeadSHA, State: "pending"}); err != nil || status != want {
		t.Errorf("SyncCommitStatus = %+v, %v; want %+v", status, err, want)
	}
	if p, err := o.Permission(ctx, "acme/shop", "alice"); p != "none" || err != nil {
		t.Errorf("Permission = %q, %v; want none", p, err)
	}
	if err := o.React(ctx, "acme/shop", 7, "+1"); err != nil {
		t.Errorf("React: %v", err)
	}
	if err := o.React(ctx, "acme/shop", 7, "nope"); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("React with a bad reaction: %v, want invalid", err)
	}
	if err := o.Reply(ctx, "acme/shop", 42, "secret reply body"); err != nil {
		t.Errorf("Reply: %v", err)
	}
	if _, err := o.ListOpenPullRequests(ctx, "acme/shop"); !errors.Is(err, ErrOffline) || preview.ErrorCode(err) != preview.EUNAVAILABLE {
		t.Errorf("ListOpenPullRequests: %v, want ErrOffline", err)
	}
	if _, err := o.GetPullRequest(ctx, "acme/shop", 1); !errors.Is(err, ErrOffline) {
		t.Errorf("GetPullRequest: %v, want ErrOffline", err)
	}
	if _, err := o.Repositories(ctx); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("Repositories: %v, want invalid", err)
	}
	logged := logs.String()
	for _, want := range []string{"offline: deployment not sent", "offline: commit status not sent", "offline: reaction not sent", "offline: reply not sent"} {
		if !strings.Contains(logged, want) {
			t.Errorf("logs lack %q:\n%s", want, logged)
		}
	}
	if strings.Contains(logged, "secret reply body") {
		t.Errorf("info logs carry a body:\n%s", logged)
	}
}

// TestOfflineShowsTheCheckRun: offline mode logs the check run an App
// would write, with its verdict and the module lines it would annotate.
func TestOfflineShowsTheCheckRun(t *testing.T) {
	var logs bytes.Buffer
	o := NewOffline(render, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if _, err := o.SyncParityStatus(context.Background(), checkedEnv(engineDrift)); err != nil {
		t.Fatal(err)
	}
	if want := `msg="offline: check run not sent" component=github environment=feature-login name=previewd/parity sha=` + runSHA + ` state=failure title="1 undeclared difference(s) from production" annotations=infra/main.tf:15`; !strings.Contains(logs.String(), want) {
		t.Errorf("logs lack %q:\n%s", want, logs.String())
	}
}
