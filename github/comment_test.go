package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

const testToken = "ghp_s3cr3tT0kenValue0123456789abcdefABCD"

// render is a stand-in for templates.RenderComment: marker line, then state.
func render(env preview.Environment) (string, error) {
	return fmt.Sprintf("<!-- previewd:environment=%s -->\n%s at %s\n%s", env.Name, env.Status, preview.ShortSHA(env.HeadSHA), env.URL), nil
}

func testEnv() preview.Environment {
	return preview.Environment{
		Name: "feature-login", Repo: "acme/shop", PR: 42, Branch: "feature/login",
		HeadSHA: "abc1234567890", Status: preview.StatusQueued,
	}
}

// newTestClient returns a Client of f that logs at debug level into logs.
func newTestClient(t *testing.T, f *fakeGitHub, logs *bytes.Buffer) *Client {
	t.Helper()
	if logs == nil {
		logs = &bytes.Buffer{}
	}
	c, err := NewClient(Config{
		BaseURL: f.URL(),
		Token:   testToken,
		Render:  render,
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Retry:   newFakeClock().policy(),
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func syncComment(t *testing.T, c *Client, env preview.Environment) preview.Comment {
	t.Helper()
	got, err := c.SyncComment(context.Background(), env)
	if err != nil {
		t.Fatalf("SyncComment: %v", err)
	}
	return got
}

func wantRequests(t *testing.T, f *fakeGitHub, want ...string) {
	t.Helper()
	if got := f.methods(); !slices.Equal(got, want) {
		t.Errorf("requests = %q, want %q", got, want)
	}
}

func TestSyncCommentLifecycle(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	env := testEnv()

	// First sync: nothing known, nothing on GitHub → look, then create.
	first := syncComment(t, c, env)
	wantRequests(t, f, "GET /repos/acme/shop/issues/42/comments", "POST /repos/acme/shop/issues/42/comments")
	if first.ID == 0 || first.UpdatedAt.IsZero() {
		t.Fatalf("first sync = %+v, want an ID and UpdatedAt", first)
	}
	if want, _ := render(env); first.Body != want {
		t.Errorf("body = %q, want %q", first.Body, want)
	}

	// Unchanged body → nothing sent.
	env.Comment = first
	if got := syncComment(t, c, env); got != first {
		t.Errorf("unchanged sync = %+v, want %+v", got, first)
	}
	wantRequests(t, f, "GET /repos/acme/shop/issues/42/comments", "POST /repos/acme/shop/issues/42/comments")

	// New body → PATCH the same comment.
	env.Status, env.URL = preview.StatusReady, "https://feature-login.example.com"
	second := syncComment(t, c, env)
	wantRequests(t, f, "GET /repos/acme/shop/issues/42/comments", "POST /repos/acme/shop/issues/42/comments",
		fmt.Sprintf("PATCH /repos/acme/shop/issues/comments/%d", first.ID))
	if second.ID != first.ID {
		t.Errorf("edited comment ID = %d, want %d", second.ID, first.ID)
	}
	if !second.UpdatedAt.After(first.UpdatedAt) {
		t.Errorf("UpdatedAt = %v, want after %v", second.UpdatedAt, first.UpdatedAt)
	}
	comments := f.issueComments(42)
	if len(comments) != 1 || comments[0].Body != second.Body {
		t.Errorf("comments on GitHub = %+v, want one with the new body", comments)
	}
}

func TestSyncCommentNeverAdoptsAPlantedMarker(t *testing.T) {
	f := newFakeGitHub(t, "")
	// A fork's author posts previewd's marker before previewd's first sync.
	planted := f.addComment(42, "mallory", "<!-- previewd:environment=feature-login -->\nready at https://phish.example")
	c := newTestClient(t, f, nil)
	got := syncComment(t, c, testEnv())
	if got.ID == planted || got.ID == 0 {
		t.Fatalf("synced comment ID = %d; want a new comment of previewd's, not the planted %d", got.ID, planted)
	}
	if n := len(f.issueComments(42)); n != 2 {
		t.Errorf("comments on GitHub = %d, want the planted one and previewd's", n)
	}
}

func TestSyncCommentAfterRestartFindsExistingComment(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.maxPage = 2 // GitHub's pages, shrunk so the marker lands on page 2
	f.addComment(42, "alice", "Looks good")
	f.addComment(42, "bob", "<!-- previewd:environment=other-env -->\nanother environment's comment")
	ours := f.addComment(42, "previewd[bot]", "<!-- previewd:environment=feature-login -->\nold")
	f.addComment(42, "carol", "> <!-- previewd:environment=feature-login -->\nquoted, not ours")
	c := newTestClient(t, f, nil)

	env := testEnv() // Comment.ID == 0: the store was lost
	got := syncComment(t, c, env)
	if got.ID != ours {
		t.Errorf("synced comment ID = %d, want the existing %d", got.ID, ours)
	}
	wantRequests(t, f, "GET /repos/acme/shop/issues/42/comments", "GET /repos/acme/shop/issues/42/comments",
		fmt.Sprintf("PATCH /repos/acme/shop/issues/comments/%d", ours))
	reqs := f.recorded()
	if p := reqs[1].Query.Get("page"); p != "2" {
		t.Errorf("second list asked for page %q, want 2", p)
	}
	if pp := reqs[0].Query.Get("per_page"); pp != "100" {
		t.Errorf("per_page = %q, want 100", pp)
	}
	if n := len(f.issueComments(42)); n != 4 {
		t.Errorf("comments on GitHub = %d, want still 4", n)
	}

	// Found with the body already current → no PATCH.
	f2 := newFakeGitHub(t, "")
	body, _ := render(env)
	id := f2.addComment(42, "previewd[bot]", strings.ReplaceAll(body, "\n", "\r\n"))
	if got := syncComment(t, newTestClient(t, f2, nil), env); got.ID != id {
		t.Errorf("synced comment ID = %d, want %d", got.ID, id)
	}
	wantRequests(t, f2, "GET /repos/acme/shop/issues/42/comments")
}

func TestSyncCommentDeletedUpstream(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	env := testEnv()
	env.Comment = syncComment(t, c, env)
	f.deleteComment(env.Comment.ID)

	env.Status = preview.StatusProvisioning
	got := syncComment(t, c, env)
	if got.ID == 0 || got.ID == env.Comment.ID {
		t.Errorf("synced comment ID = %d, want a new one, not %d", got.ID, env.Comment.ID)
	}
	wantRequests(t, f,
		"GET /repos/acme/shop/issues/42/comments", "POST /repos/acme/shop/issues/42/comments",
		fmt.Sprintf("PATCH /repos/acme/shop/issues/comments/%d", env.Comment.ID),
		"GET /repos/acme/shop/issues/42/comments", "POST /repos/acme/shop/issues/42/comments")
	if comments := f.issueComments(42); len(comments) != 1 || comments[0].ID != got.ID {
		t.Errorf("comments on GitHub = %+v, want only %d", comments, got.ID)
	}
}

func TestSyncCommentErrors(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		status   int
		times    int   // answers with status in a row
		comment  int64 // env.Comment.ID
		wantCode string
		wantText string
		wantSent int // requests sent to method and path
	}{
		{"server error on list, every try", "GET", "/repos/acme/shop/issues/42/comments", 500, 5, 0, preview.EUNAVAILABLE, "list comments on acme/shop#42", 5},
		{"server error on create is not resent", "POST", "/repos/acme/shop/issues/42/comments", 502, 1, 0, preview.EUNAVAILABLE, "create comment on acme/shop#42", 1},
		{"bad credentials", "PATCH", "/repos/acme/shop/issues/comments/7", 401, 1, 7, preview.EUNAUTHORIZED, "edit comment 7 on acme/shop", 1},
		{"forbidden", "PATCH", "/repos/acme/shop/issues/comments/7", 403, 1, 7, preview.EUNAUTHORIZED, "edit comment 7 on acme/shop", 1},
		{"validation failed", "POST", "/repos/acme/shop/issues/42/comments", 422, 1, 0, preview.EINVALID, "create comment", 1},
		{"rate limited for an hour", "GET", "/repos/acme/shop/issues/42/comments", 403, 1, 0, preview.EUNAVAILABLE, "API rate limit exceeded", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGitHub(t, "")
			msg := "Bad credentials for " + testToken[:4]
			if tt.wantCode == preview.EUNAVAILABLE && tt.status == 403 {
				msg = "API rate limit exceeded for installation ID 1."
			}
			for range tt.times {
				f.failOnce(tt.method, tt.path, tt.status, msg)
			}
			var logs bytes.Buffer
			c := newTestClient(t, f, &logs)
			env := testEnv()
			env.Comment = preview.Comment{ID: tt.comment, Body: "stale"}

			_, err := c.SyncComment(context.Background(), env)
			if err == nil {
				t.Fatal("SyncComment succeeded, want an error")
			}
			if got := preview.ErrorCode(err); got != tt.wantCode {
				t.Errorf("ErrorCode = %q, want %q (err: %v)", got, tt.wantCode, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), fmt.Sprint(tt.status)) {
				t.Errorf("error = %q, want it to contain %q and %d", err, tt.wantText, tt.status)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(logs.String(), testToken) {
				t.Errorf("token leaked: error %q, logs %q", err, logs.String())
			}
			sent := 0
			for _, m := range f.methods() {
				if m == tt.method+" "+tt.path {
					sent++
				}
			}
			if sent != tt.wantSent {
				t.Errorf("sent %s %s %d times, want %d", tt.method, tt.path, sent, tt.wantSent)
			}
		})
	}
}

func TestSyncCommentUnreachable(t *testing.T) {
	f := newFakeGitHub(t, "")
	var logs bytes.Buffer
	c := newTestClient(t, f, &logs)
	f.server.Close()

	_, err := c.SyncComment(context.Background(), testEnv())
	if err == nil {
		t.Fatal("SyncComment succeeded against a closed server, want an error")
	}
	if got := preview.ErrorCode(err); got != preview.EUNAVAILABLE {
		t.Errorf("ErrorCode = %q, want %q", got, preview.EUNAVAILABLE)
	}
	if strings.Contains(err.Error(), testToken) || strings.Contains(logs.String(), testToken) {
		t.Errorf("token leaked: error %q, logs %q", err, logs.String())
	}
}

func TestSyncCommentRefusesBadBodies(t *testing.T) {
	tests := []struct {
		name   string
		render func(preview.Environment) (string, error)
		want   string
	}{
		{"too long", func(preview.Environment) (string, error) {
			return "<!-- previewd:environment=x -->\n" + strings.Repeat("é", MaxCommentLength), nil
		}, "over GitHub's limit of 65536"},
		{"no marker", func(preview.Environment) (string, error) { return "hello", nil }, "marker"},
		{"render fails", func(preview.Environment) (string, error) { return "", errors.New("boom") }, "render comment for feature-login: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGitHub(t, "")
			c, err := NewClient(Config{BaseURL: f.URL(), Token: testToken, Render: tt.render})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.SyncComment(context.Background(), testEnv())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
			wantRequests(t, f)
		})
	}
}

func TestClientHeadersAndBaseURL(t *testing.T) {
	tests := []struct {
		name, prefix string
		trim         bool // give the base URL without its trailing slash
	}{
		{"github.com", "", false},
		{"GHES", "/api/v3", false},
		{"GHES without trailing slash", "/api/v3", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGitHub(t, tt.prefix)
			base := f.URL()
			if tt.trim {
				base = strings.TrimSuffix(base, "/")
			}
			c, err := NewClient(Config{BaseURL: base, Token: " " + testToken + "\n", Render: render, UserAgent: "previewd-test"})
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			syncComment(t, c, testEnv())
			reqs := f.recorded()
			if len(reqs) != 2 {
				t.Fatalf("got %d requests, want 2", len(reqs))
			}
			for _, r := range reqs {
				if !strings.HasPrefix(r.Path, tt.prefix+"/repos/acme/shop/") {
					t.Errorf("path = %q, want prefix %q", r.Path, tt.prefix+"/repos/acme/shop/")
				}
				if got, want := r.Header.Get("Authorization"), "Bearer "+testToken; got != want {
					t.Errorf("Authorization = %q, want %q", got, want)
				}
				if got := r.Header.Get("User-Agent"); got != "previewd-test" {
					t.Errorf("User-Agent = %q, want previewd-test", got)
				}
				if got := r.Header.Get("X-GitHub-Api-Version"); got != "2022-11-28" {
					t.Errorf("X-GitHub-Api-Version = %q, want 2022-11-28", got)
				}
			}
		})
	}
}

func TestNewClientConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		wantURL string
	}{
		{"default base URL", Config{Render: render}, "", DefaultBaseURL},
		{"GHES", Config{Render: render, BaseURL: "https://ghe.example.com/api/v3"}, "", "https://ghe.example.com/api/v3/"},
		{"no render", Config{}, "Render is required", ""},
		{"relative URL", Config{Render: render, BaseURL: "ghe.example.com/api/v3/"}, "absolute http or https", ""},
		{"bad scheme", Config{Render: render, BaseURL: "ftp://ghe.example.com/"}, "absolute http or https", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			if got := c.token.api().BaseURL.String(); got != tt.wantURL {
				t.Errorf("BaseURL = %q, want %q", got, tt.wantURL)
			}
		})
	}
}

func TestNewClientLeavesHTTPClientAlone(t *testing.T) {
	hc := &http.Client{}
	if _, err := NewClient(Config{Render: render, Token: testToken, HTTPClient: hc}); err != nil {
		t.Fatal(err)
	}
	if hc.Transport != nil {
		t.Errorf("caller's HTTPClient.Transport = %v, want it untouched (nil)", hc.Transport)
	}
}
