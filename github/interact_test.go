package github

import (
	"context"
	"reflect"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

func TestPermission(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.permissions = map[string][2]string{
		"octo-admin":      {"admin", "admin"},
		"maintainer":      {"write", "maintain"},
		"writer":          {"write", "write"},
		"triager":         {"read", "triage"},
		"reader":          {"read", "read"},
		"deployer":        {"write", "custom-deployer"},
		"outsider":        {"none", ""},
		"dependabot[bot]": {"write", "write"},
	}
	c := newTestClient(t, f, nil)
	tests := []struct {
		user, want string
	}{
		{"octo-admin", "admin"},
		{"maintainer", "write"}, // go-github v60 reads permission, where GitHub reports maintain as write
		{"writer", "write"},
		{"triager", "read"},
		{"reader", "read"},
		{"deployer", "write"},
		{"outsider", "none"},
		{"dependabot[bot]", "write"},
		{"nobody-known", "none"}, // GitHub answers 404
	}
	for _, tt := range tests {
		got, err := c.Permission(context.Background(), "acme/shop", tt.user)
		if err != nil || got != tt.want {
			t.Errorf("Permission(%q) = %q, %v; want %q", tt.user, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "../admin", "a/b", "x?y=1", strings.Repeat("a", 60)} {
		if _, err := c.Permission(context.Background(), "acme/shop", bad); preview.ErrorCode(err) != preview.EINVALID {
			t.Errorf("Permission(%q): err = %v, want invalid", bad, err)
		}
	}
	if n := len(f.recorded()); n != len(tests) {
		t.Errorf("sent %d requests, want %d (none for invalid logins)", n, len(tests))
	}
	f.failOnce("GET", "/repos/acme/shop/collaborators/writer/permission", 401, "Bad credentials")
	if _, err := c.Permission(context.Background(), "acme/shop", "writer"); preview.ErrorCode(err) != preview.EUNAUTHORIZED {
		t.Errorf("bad credentials: err = %v, want unauthorized", err)
	}
}

func TestReact(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	for range 2 { // the second is a reaction GitHub already has
		if err := c.React(ctx, "acme/shop", 77, "rocket"); err != nil {
			t.Fatalf("React: %v", err)
		}
	}
	if err := c.React(ctx, "acme/shop", 77, "+1"); err != nil {
		t.Fatalf("React: %v", err)
	}
	_, _, _, reactions := f.snapshot()
	want := []map[string]any{{"comment_id": int64(77), "content": "rocket"}, {"comment_id": int64(77), "content": "+1"}}
	if !reflect.DeepEqual(reactions, want) {
		t.Errorf("reactions = %v, want %v", reactions, want)
	}
	for _, tt := range []struct {
		id      int64
		content string
	}{{77, "thumbsup"}, {77, ""}, {0, "+1"}} {
		if err := c.React(ctx, "acme/shop", tt.id, tt.content); preview.ErrorCode(err) != preview.EINVALID {
			t.Errorf("React(%d, %q): err = %v, want invalid", tt.id, tt.content, err)
		}
	}
	wantRequests(t, f, "POST /repos/acme/shop/issues/comments/77/reactions", "POST /repos/acme/shop/issues/comments/77/reactions",
		"POST /repos/acme/shop/issues/comments/77/reactions")
}

func TestReply(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	ctx := context.Background()
	body := "`/preview destroy` needs write access to acme/shop; @mallory has read."
	if err := c.Reply(ctx, "acme/shop", 42, body); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	if comments := f.issueComments(42); len(comments) != 1 || comments[0].Body != body {
		t.Errorf("comments = %+v, want one with the reply", comments)
	}
	tests := []struct {
		name   string
		number int
		body   string
		want   string
	}{
		{"empty", 42, " \n", "empty body"},
		{"a command", 42, "/preview destroy\nplease", "read as a command"},
		{"an indented command", 42, "  /preview help", "read as a command"},
		{"too long", 42, strings.Repeat("x", MaxCommentLength+1), "over GitHub's limit"},
		{"no number", 0, "hi", "not a pull request number"},
	}
	for _, tt := range tests {
		err := c.Reply(ctx, "acme/shop", tt.number, tt.body)
		if preview.ErrorCode(err) != preview.EINVALID || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want invalid containing %q", tt.name, err, tt.want)
		}
	}
	wantRequests(t, f, "POST /repos/acme/shop/issues/42/comments")
}
