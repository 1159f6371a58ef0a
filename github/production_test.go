package github

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/templates"
)

const prodCommit = "0123456789abcdef0123456789abcdef01234567"

var (
	hotfix  = preview.ProductionFinding{Kind: preview.ProductionChangedOutside, Address: "postgresql_role.app", Path: "connection_limit", Live: "400", Module: "200", Where: "main.tf:31"}
	deleted = preview.ProductionFinding{Kind: preview.ProductionDeletedOutside, Address: `local_file.motd["a b"]`, Where: "files.tf:4"}
)

// watch is a watch of acme/shop's production that found findings.
func watch(issue int, findings ...preview.ProductionFinding) preview.ProductionWatch {
	return preview.ProductionWatch{Repo: "acme/shop", At: time.Now(), Took: time.Minute, Issue: issue, Ignored: 1,
		Module:   preview.ModuleVersion{Source: "git::https://github.com/acme/infra.git//shop", Ref: "main", Commit: prodCommit},
		Findings: findings}
}

func syncIssue(t *testing.T, c interface {
	SyncProductionIssue(context.Context, preview.ProductionWatch) (int, error)
}, w preview.ProductionWatch) int {
	t.Helper()
	n, err := c.SyncProductionIssue(context.Background(), w)
	if err != nil {
		t.Fatalf("SyncProductionIssue: %v", err)
	}
	return n
}

// wantNewRequests checks the requests made since the first skip ones.
func wantNewRequests(t *testing.T, f *fakeGitHub, skip int, want ...string) int {
	t.Helper()
	got := f.methods()[skip:]
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests = %q, want %q", got, want)
	}
	return skip + len(got)
}

func wantIssue(t *testing.T, f *fakeGitHub, number int, state, reason string, findings ...preview.ProductionFinding) fakeIssue {
	t.Helper()
	i, ok := f.issue("acme/shop", number)
	if !ok {
		t.Fatalf("no issue #%d on GitHub", number)
	}
	if i.State != state || i.StateReason != reason {
		t.Errorf("issue #%d is %s (%q), want %s (%q)", number, i.State, i.StateReason, state, reason)
	}
	want, err := renderProductionIssue(watch(number, findings...))
	if err != nil {
		t.Fatal(err)
	}
	if i.Body != want {
		t.Errorf("issue #%d's body:\n%s\nwant:\n%s", number, i.Body, want)
	}
	return i
}

// TestProductionIssueLifecycle: the issue opens when drift appears, follows
// the findings in place, stays untouched while they do not change, closes
// when production matches its module, and reopens when the drift comes back.
func TestProductionIssueLifecycle(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)

	if n := syncIssue(t, c, watch(0)); n != 0 {
		t.Errorf("no drift, no issue: got #%d", n)
	}
	seen := wantNewRequests(t, f, 0)

	n := syncIssue(t, c, watch(0, hotfix))
	seen = wantNewRequests(t, f, seen, "POST /repos/acme/shop/issues")
	i := wantIssue(t, f, n, "open", "", hotfix)
	if i.Title != "Production drift: acme/shop" || !strings.HasPrefix(i.Body, "<!-- previewd:production-drift acme/shop -->\n") {
		t.Errorf("issue #%d titled %q, body %q…; want the title and the marker", n, i.Title, i.Body[:min(60, len(i.Body))])
	}
	for _, want := range []string{"| changed outside Terraform | `postgresql_role.app.connection_limit` | `400` | `200` | `main.tf:31` |",
		"`git::https://github.com/acme/infra.git//shop` at `main` (commit `" + prodCommit + "`)", "1 attribute listed in `production.ignore`"} {
		if !strings.Contains(i.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, i.Body)
		}
	}

	// The same drift, a later watch: read, nothing written.
	if got := syncIssue(t, c, watch(n, hotfix)); got != n {
		t.Errorf("unchanged: issue #%d, want #%d", got, n)
	}
	path := fmt.Sprintf("/repos/acme/shop/issues/%d", n)
	seen = wantNewRequests(t, f, seen, "GET "+path)

	// The findings change: the body, in place.
	syncIssue(t, c, watch(n, deleted, hotfix))
	seen = wantNewRequests(t, f, seen, "GET "+path, "PATCH "+path)
	wantIssue(t, f, n, "open", "", deleted, hotfix)

	// Production matches its module again: closed as completed.
	syncIssue(t, c, watch(n))
	seen = wantNewRequests(t, f, seen, "GET "+path, "PATCH "+path)
	closed := wantIssue(t, f, n, "closed", "completed")
	if !strings.Contains(closed.Body, "Production matches its module again") {
		t.Errorf("closing body:\n%s", closed.Body)
	}
	syncIssue(t, c, watch(n))
	seen = wantNewRequests(t, f, seen, "GET "+path)

	// The drift comes back: the same issue, reopened.
	if got := syncIssue(t, c, watch(n, hotfix)); got != n {
		t.Errorf("drift back: issue #%d, want #%d", got, n)
	}
	wantNewRequests(t, f, seen, "GET "+path, "PATCH "+path)
	reopened := wantIssue(t, f, n, "open", "reopened", hotfix)
	if reopened.Writes != 4 || len(f.issuesOf("acme/shop")) != 1 {
		t.Errorf("issue written %d times, %d issues; want 4 writes of one issue", reopened.Writes, len(f.issuesOf("acme/shop")))
	}
}

// TestProductionIssueGoneIsOpenedAgain: an issue deleted (410), unknown
// (404) or transferred to another repository (301) is forgotten, and a
// new one opened while production drifts; the moved one is left alone.
func TestProductionIssueGoneIsOpenedAgain(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	first := syncIssue(t, c, watch(0, hotfix))

	f.editIssue("acme/shop", first, func(i *fakeIssue) { i.Deleted = true })
	second := syncIssue(t, c, watch(first, hotfix))
	if second == first || second == 0 {
		t.Fatalf("deleted #%d: got #%d, want a new issue", first, second)
	}
	wantIssue(t, f, second, "open", "", hotfix)

	third := syncIssue(t, c, watch(999, hotfix))
	if third == 999 || third == second {
		t.Errorf("unknown #999: got #%d, want a new issue", third)
	}

	f.transferIssue("acme/shop", third, "acme/elsewhere")
	seen := len(f.methods())
	fourth := syncIssue(t, c, watch(third, deleted))
	if fourth == third || fourth == 0 {
		t.Fatalf("transferred #%d: got #%d, want a new issue", third, fourth)
	}
	wantNewRequests(t, f, seen, fmt.Sprintf("GET /repos/acme/shop/issues/%d", third), "GET /repos/acme/elsewhere/issues/100", "POST /repos/acme/shop/issues")
	if moved, _ := f.issue("acme/elsewhere", 100); moved.Writes != 0 || moved.State != "open" {
		t.Errorf("the transferred issue was written: %+v", moved)
	}

	// Gone while production matches: forgotten, nothing opened.
	f.editIssue("acme/shop", fourth, func(i *fakeIssue) { i.Deleted = true })
	seen = len(f.methods())
	if got := syncIssue(t, c, watch(fourth)); got != 0 {
		t.Errorf("deleted, no drift: #%d, want 0", got)
	}
	wantNewRequests(t, f, seen, fmt.Sprintf("GET /repos/acme/shop/issues/%d", fourth))
}

// TestProductionIssueFailedWatchWritesNothing: a watch that could not look
// at production sends nothing, whatever the issue shows.
func TestProductionIssueFailedWatchWritesNothing(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	failed := watch(7)
	failed.Error = "state backend: connection refused"
	if got := syncIssue(t, c, failed); got != 7 {
		t.Errorf("failed watch: #%d, want #7", got)
	}
	failed.Issue = 0
	if got := syncIssue(t, c, failed); got != 0 {
		t.Errorf("failed watch: #%d, want 0", got)
	}
	wantNewRequests(t, f, 0)
}

// TestProductionIssuePeopleAreNotOverruled: a person who closes the issue
// while the drift stays the same, or reopens it once production matched,
// is not undone until the drift changes.
func TestProductionIssuePeopleAreNotOverruled(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	n := syncIssue(t, c, watch(0, hotfix))

	f.editIssue("acme/shop", n, func(i *fakeIssue) { i.State, i.StateReason = "closed", "not_planned" })
	syncIssue(t, c, watch(n, hotfix))
	wantIssue(t, f, n, "closed", "not_planned", hotfix)
	syncIssue(t, c, watch(n, hotfix, deleted))
	wantIssue(t, f, n, "open", "reopened", hotfix, deleted)

	syncIssue(t, c, watch(n))
	f.editIssue("acme/shop", n, func(i *fakeIssue) { i.State, i.StateReason = "open", "reopened" })
	syncIssue(t, c, watch(n))
	wantIssue(t, f, n, "open", "reopened")
	if i, _ := f.issue("acme/shop", n); i.Writes != 3 {
		t.Errorf("issue written %d times, want 3 (open, reopen, close)", i.Writes)
	}
}

// TestProductionIssueInAppMode: an installation that granted issues: write
// gets the issue; one that did not (issues: read, as before production
// watches) is refused with 403, which SyncProductionIssue returns as an
// unauthorized error naming the permission, for the caller to log.
func TestProductionIssueInAppMode(t *testing.T) {
	f := newFakeGitHub(t, "/api/v3")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}, 102: {"globex/site"}}, newFakeClock())
	f.mu.Lock()
	f.app.grants = map[int64]Grant{
		101: GrantOf(AppPermissions(allFeatures)),
		102: GrantOf(AppPermissions(Features{WaitForChecks: true, ModulesOnGitHub: true})),
	}
	f.mu.Unlock()

	n := syncIssue(t, c, watch(0, hotfix))
	wantIssue(t, f, n, "open", "", hotfix)

	refused := watch(0, hotfix)
	refused.Repo = "globex/site"
	got, err := c.SyncProductionIssue(context.Background(), refused)
	if got != 0 || preview.ErrorCode(err) != preview.EUNAUTHORIZED || !strings.Contains(err.Error(), "issues: write") {
		t.Errorf("without issues: write: #%d, %v; want 0 and an unauthorized error naming issues: write", got, err)
	}
	if len(f.issuesOf("globex/site")) != 0 {
		t.Errorf("an issue was opened without the permission")
	}
	reqs := f.recorded()
	if last := reqs[len(reqs)-1]; last.Method != "POST" || last.Path != "/api/v3/repos/globex/site/issues" || !last.Refused {
		t.Errorf("last request %s %s refused %v; want the refused POST", last.Method, last.Path, last.Refused)
	}
}

// TestProductionIssueRefusesABadRepository sends nothing for a repository
// that is not owner/name.
func TestProductionIssueRefusesABadRepository(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	w := watch(0, hotfix)
	w.Repo = "acme/../x"
	if _, err := c.SyncProductionIssue(context.Background(), w); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("err = %v, want invalid", err)
	}
	wantNewRequests(t, f, 0)
}

// TestOfflineProductionIssue: offline, the issue is rendered and logged
// when it changes, and nothing is sent; the watch's number comes back.
func TestOfflineProductionIssue(t *testing.T) {
	var logs bytes.Buffer
	o := NewOffline(render, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	step := func(w preview.ProductionWatch) string {
		t.Helper()
		logs.Reset()
		if got := syncIssue(t, o, w); got != w.Issue {
			t.Errorf("offline: #%d, want #%d", got, w.Issue)
		}
		return logs.String()
	}
	if logged := step(watch(0)); logged != "" {
		t.Errorf("no drift yet, logged:\n%s", logged)
	}
	logged := step(watch(0, hotfix))
	for _, want := range []string{`msg="offline: production drift issue not sent" component=github repo=acme/shop state=open findings=1 ignored=1`,
		"offline: production drift issue body", "previewd:production-drift acme/shop"} {
		if !strings.Contains(logged, want) {
			t.Errorf("logs lack %q:\n%s", want, logged)
		}
	}
	if logged := step(watch(0, hotfix)); logged != "" {
		t.Errorf("unchanged, logged:\n%s", logged)
	}
	failed := watch(0)
	failed.Error = "state backend: connection refused"
	if logged := step(failed); logged != "" {
		t.Errorf("failed watch, logged:\n%s", logged)
	}
	if logged := step(watch(0)); !strings.Contains(logged, "state=closed findings=0") {
		t.Errorf("drift gone, logged:\n%s", logged)
	}
}

// TestProductionIssueData: the issue shows each finding's attribute as
// address.path, the module's version and the ignored count.
func TestProductionIssueData(t *testing.T) {
	d := productionIssueData(watch(3, hotfix, deleted))
	want := templates.ProductionIssueData{Repo: "acme/shop", ModuleSource: "git::https://github.com/acme/infra.git//shop", ModuleRef: "main",
		ModuleCommit: prodCommit, Ignored: 1, Findings: []templates.DriftRow{
			{Kind: "changed_outside", Subject: "postgresql_role.app.connection_limit", Live: "400", Module: "200", Where: "main.tf:31"},
			{Kind: "deleted_outside", Subject: `local_file.motd["a b"]`, Where: "files.tf:4"},
		}}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("data = %+v\nwant %+v", d, want)
	}
}
