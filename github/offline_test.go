package github

import (
	"bytes"
	"context"
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
