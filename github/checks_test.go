package github

import (
	"context"
	"maps"
	"testing"

	preview "github.com/previewd/previewd"
)

// TestChecks reads a head's check runs and commit statuses over several
// pages: the newest run of a re-run check counts, a check run counts over
// a status of the same name, and every request is checked against GitHub's
// OpenAPI description.
func TestChecks(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.maxPage = 2
	const sha = "ce587453ced02b1526dfb4cb910479d431683101"
	f.addCheckRun(sha, "build-image", "completed", "failure")
	f.addCheckRun(sha, "build-image", "completed", "success") // the re-run, newest
	f.addCheckRun(sha, "test", "in_progress", "")
	f.addCheckRun(sha, "lint", "completed", "skipped")
	f.addCheckRun(sha, "e2e", "completed", "timed_out")
	f.addCheckRun("0000000000000000000000000000000000000000", "other-head", "completed", "success")
	f.addStatus(sha, "ci/jenkins", "success")
	f.addStatus(sha, "security", "error")
	f.addStatus(sha, "deploy-preview", "pending")
	f.addStatus(sha, "e2e", "success") // the check run of that name counts
	c := newTestClient(t, f, nil)

	got, err := c.Checks(context.Background(), preview.Environment{Repo: "acme/shop", HeadSHA: sha})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]preview.CheckState{
		"build-image": preview.CheckSuccess, "test": preview.CheckPending, "lint": preview.CheckSuccess, "e2e": preview.CheckFailure,
		"ci/jenkins": preview.CheckSuccess, "security": preview.CheckFailure, "deploy-preview": preview.CheckPending,
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	wantRequests(t, f,
		"GET /repos/acme/shop/commits/"+sha+"/status", "GET /repos/acme/shop/commits/"+sha+"/status",
		"GET /repos/acme/shop/commits/"+sha+"/check-runs", "GET /repos/acme/shop/commits/"+sha+"/check-runs", "GET /repos/acme/shop/commits/"+sha+"/check-runs")

	if _, err := c.Checks(context.Background(), preview.Environment{Repo: "acme/shop", HeadSHA: "main"}); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("a ref that is no SHA: %v, want EINVALID", err)
	}
}
