package github

import (
	"context"
	"slices"
	"testing"

	preview "github.com/previewd/previewd"
)

func TestListOpenPullRequests(t *testing.T) {
	f := newFakeGitHub(t, "/api/v3")
	f.maxPage = 2
	f.addPull(1, "open", "feature/a", "aaa111", "alice", "acme/shop", "acme/shop", "preview", "bug")
	f.addPull(2, "closed", "old", "bbb222", "bob", "acme/shop", "acme/shop")
	f.addPull(3, "open", "patch-1", "ccc333", "mallory", "acme/shop", "mallory/shop")
	f.addPull(4, "open", "gone", "ddd444", "eve", "acme/shop", "") // head repository deleted
	f.addPull(5, "open", "case", "eee555", "frank", "acme/shop", "ACME/Shop")
	c := newTestClient(t, f, nil)

	got, err := c.ListOpenPullRequests(context.Background(), "acme/shop")
	if err != nil {
		t.Fatalf("ListOpenPullRequests: %v", err)
	}
	wantRequests(t, f, "GET /repos/acme/shop/pulls", "GET /repos/acme/shop/pulls")
	for _, r := range f.recorded() {
		if r.Query.Get("state") != "open" || r.Query.Get("per_page") != "100" {
			t.Errorf("query = %v, want state=open and per_page=100", r.Query)
		}
	}
	tests := []struct {
		number int
		branch string
		sha    string
		author string
		fork   bool
		draft  bool
		labels []string
	}{
		{1, "feature/a", "aaa111", "alice", false, false, []string{"preview", "bug"}},
		{3, "patch-1", "ccc333", "mallory", true, false, nil},
		{4, "gone", "ddd444", "eve", true, true, nil},
		{5, "case", "eee555", "frank", false, false, nil},
	}
	if len(got) != len(tests) {
		t.Fatalf("got %d pull requests, want %d: %+v", len(got), len(tests), got)
	}
	for i, tt := range tests {
		pr := got[i]
		if pr.Number != tt.number || pr.Repo != "acme/shop" || !pr.Open || pr.Branch != tt.branch || pr.HeadSHA != tt.sha ||
			pr.Author != tt.author || pr.Fork != tt.fork || pr.Draft != tt.draft || !slices.Equal(pr.Labels, tt.labels) || pr.UpdatedAt.IsZero() {
			t.Errorf("pull request %d = %+v, want number %d branch %q sha %q author %q fork %v draft %v labels %q, open, with updated_at",
				i, pr, tt.number, tt.branch, tt.sha, tt.author, tt.fork, tt.draft, tt.labels)
		}
	}
}

func TestGetPullRequest(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.addPull(2, "closed", "old", "bbb222", "bob", "acme/shop", "acme/shop")
	c := newTestClient(t, f, nil)

	got, err := c.GetPullRequest(context.Background(), "acme/shop", 2)
	if err != nil {
		t.Fatalf("GetPullRequest: %v", err)
	}
	if got.Open || got.Number != 2 || got.Key() != "acme/shop#2" || got.Fork || !got.Draft {
		t.Errorf("pull request = %+v, want #2 closed, draft, not a fork", got)
	}

	_, err = c.GetPullRequest(context.Background(), "acme/shop", 99)
	if code := preview.ErrorCode(err); code != preview.ENOTFOUND {
		t.Errorf("missing pull request: ErrorCode = %q, want %q (err: %v)", code, preview.ENOTFOUND, err)
	}
	wantRequests(t, f, "GET /repos/acme/shop/pulls/2", "GET /repos/acme/shop/pulls/99")
}

func TestBadRepositoryNames(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	for _, repo := range []string{"", "acme", "acme/", "/shop", "acme/shop/x"} {
		if _, err := c.ListOpenPullRequests(context.Background(), repo); preview.ErrorCode(err) != preview.EINVALID {
			t.Errorf("ListOpenPullRequests(%q): err = %v, want code %q", repo, err, preview.EINVALID)
		}
		if _, err := c.GetPullRequest(context.Background(), repo, 1); preview.ErrorCode(err) != preview.EINVALID {
			t.Errorf("GetPullRequest(%q): err = %v, want code %q", repo, err, preview.EINVALID)
		}
	}
	wantRequests(t, f)
}
