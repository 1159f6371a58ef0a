package github

import (
	"context"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/templates"
)

// SyncProductionIssue makes the GitHub issue that reports repository
// w.Repo's production drift show w, and returns the issue's number, which
// the caller keeps with the watch and passes back in w.Issue next time, so
// the issue is updated in place and never duplicated. The issue is titled
// by the repository ("Production drift: owner/name", templates.ProductionIssueTitle),
// whose production has one module; its body names the module's source,
// ref and commit. The title is written only when the issue is opened.
//
//   - A failed watch (w.Failed) writes nothing and returns w.Issue: a
//     watch that cannot look at production never touches the issue.
//   - With no issue yet (w.Issue zero), a drifted watch opens one (POST
//     /repos/{owner}/{repo}/issues); a watch without drift does nothing.
//   - With an issue, it is read (GET), then written (one PATCH) only when
//     the body previewd would show differs from the issue's. While
//     production drifts, the body follows the findings, and a closed issue
//     is reopened with the new body. Once production matches its module, an
//     open issue is closed as completed with a body saying so. A person who
//     closes the issue while the drift stays the same, or reopens it after
//     production matched, is not overruled: the issue changes again when
//     the drift does.
//   - An issue that was deleted (404, 410), transferred to another
//     repository, or is a pull request is forgotten: a drifted watch opens
//     a new one, and a watch without drift returns 0.
//
// It blocks for a read and at most one write (and, in App mode, the
// look-up of the repository's installation the first time). Errors say
// what was being done; preview.ErrorCode gives not_found, unauthorized,
// invalid or unavailable for GitHub's answers, and the number returned
// with an error is w.Issue. An installation without issues: write is
// refused with 403: an unauthorized error naming the permission to grant,
// for the caller to log; the watch's own record is unaffected.
func (c *Client) SyncProductionIssue(ctx context.Context, w preview.ProductionWatch) (issue int, err error) {
	if w.Failed() || (w.Issue == 0 && !w.Drifted()) {
		return w.Issue, nil
	}
	body, err := renderProductionIssue(w)
	if err != nil {
		return w.Issue, err
	}
	owner, repo, err := splitRepo(w.Repo)
	if err != nil {
		return w.Issue, fmt.Errorf("sync the production drift issue of %s: %w", w.Repo, err)
	}
	ep, err := c.endpointFor(ctx, w.Repo, 0)
	if err != nil {
		return w.Issue, fmt.Errorf("sync the production drift issue of %s: %w", w.Repo, err)
	}
	if w.Issue != 0 {
		found, err := c.getIssue(ctx, ep, owner, repo, w.Issue)
		if err != nil {
			return w.Issue, err
		}
		if found != nil {
			return w.Issue, c.updateProductionIssue(ctx, ep, owner, repo, found, body, w.Drifted())
		}
		c.logger.Debug("production drift issue gone", "repo", w.Repo, "issue", w.Issue)
		if !w.Drifted() {
			return 0, nil
		}
	}
	number, err := c.openProductionIssue(ctx, ep, owner, repo, body)
	if err != nil {
		return w.Issue, err
	}
	return number, nil
}

// renderProductionIssue renders the body of w's issue.
func renderProductionIssue(w preview.ProductionWatch) (string, error) {
	body, err := templates.RenderProductionIssue(productionIssueData(w))
	if err != nil {
		return "", fmt.Errorf("render the production drift issue of %s: %w", w.Repo, err)
	}
	return body, nil
}

// productionIssueData is what the production drift issue shows of w:
// its findings in w's order, and the module's version compared with.
func productionIssueData(w preview.ProductionWatch) templates.ProductionIssueData {
	d := templates.ProductionIssueData{Repo: w.Repo, ModuleSource: w.Module.Source, ModuleRef: w.Module.Ref,
		ModuleCommit: w.Module.Commit, Ignored: w.Ignored}
	for _, f := range w.Findings {
		d.Findings = append(d.Findings, templates.DriftRow{Kind: f.Kind, Subject: f.Subject(), Live: f.Live, Module: f.Module, Where: f.Where})
	}
	return d
}

// getIssue returns issue number of owner/repo, or nil when it is no
// longer there: deleted (404, 410), transferred to another repository
// (GitHub's 301 leads there), or a pull request.
func (c *Client) getIssue(ctx context.Context, ep *endpoint, owner, repo string, number int) (*gh.Issue, error) {
	var issue *gh.Issue
	err := ep.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
		issue, _, err = api.Issues.Get(ctx, owner, repo, number)
		return err
	})
	switch {
	case isNotFound(err):
		return nil, nil
	case err != nil:
		return nil, issueError("read issue", owner, repo, number, err)
	case issue.IsPullRequest() || movedFrom(issue, owner, repo):
		return nil, nil
	}
	return issue, nil
}

// movedFrom reports whether issue, asked for in owner/repo, is in another
// repository: GitHub answers for a transferred issue with a redirect.
func movedFrom(issue *gh.Issue, owner, repo string) bool {
	u := issue.GetRepositoryURL()
	return u != "" && !strings.HasSuffix(strings.ToLower(u), "/repos/"+strings.ToLower(owner+"/"+repo))
}

// updateProductionIssue makes issue show body: a drifted body on an open
// issue, the closing body on a closed one. It sends one PATCH, and only
// when the body differs.
func (c *Client) updateProductionIssue(ctx context.Context, ep *endpoint, owner, repo string, issue *gh.Issue, body string, drifted bool) error {
	if normalizeBody(issue.GetBody()) == body {
		return nil
	}
	open := issue.GetState() == "open"
	req := &gh.IssueRequest{Body: ptr(body)}
	switch {
	case drifted && !open:
		req.State, req.StateReason = ptr("open"), ptr("reopened")
	case !drifted && !open:
		return nil // closed already: by previewd, or by a person
	case !drifted:
		req.State, req.StateReason = ptr("closed"), ptr("completed")
	}
	number := issue.GetNumber()
	err := ep.do(ctx, write, func(ctx context.Context, api *gh.Client) error {
		_, _, err := api.Issues.Edit(ctx, owner, repo, number, req)
		return err
	})
	if err != nil {
		return issueError("update issue", owner, repo, number, err)
	}
	c.logger.Debug("production drift issue updated", "repo", owner+"/"+repo, "issue", number, "state", ptrOr(req.State, issue.GetState()))
	return nil
}

// openProductionIssue opens the issue and returns its number. It is never
// sent twice: a lost answer leaves an issue previewd does not know, which
// its marker line lets a person find.
func (c *Client) openProductionIssue(ctx context.Context, ep *endpoint, owner, repo, body string) (int, error) {
	var issue *gh.Issue
	req := &gh.IssueRequest{Title: ptr(templates.ProductionIssueTitle(owner + "/" + repo)), Body: ptr(body)}
	err := ep.do(ctx, create, func(ctx context.Context, api *gh.Client) (err error) {
		issue, _, err = api.Issues.Create(ctx, owner, repo, req)
		return err
	})
	if err != nil {
		return 0, issueError("open the production drift issue", owner, repo, 0, err)
	}
	if issue.GetNumber() == 0 {
		return 0, preview.Errorf(preview.EINTERNAL, "open the production drift issue on %s/%s: GitHub named no issue number", owner, repo)
	}
	c.logger.Debug("production drift issue opened", "repo", owner+"/"+repo, "issue", issue.GetNumber())
	return issue.GetNumber(), nil
}

// issueError wraps GitHub's answer to an issue request. A refusal (401,
// 403) says which permission previewd needs.
func issueError(doing, owner, repo string, number int, err error) error {
	at := owner + "/" + repo
	if number != 0 {
		at = fmt.Sprintf("%s#%d", at, number)
	}
	err = classify(err)
	if preview.ErrorCode(err) == preview.EUNAUTHORIZED {
		return fmt.Errorf("%s on %s: %w; the production drift issue needs issues: write (an App: grant it in the App's settings, and previewd check names each installation that lacks it; a token: Issues read and write)", doing, at, err)
	}
	return fmt.Errorf("%s on %s: %w", doing, at, err)
}

// ptrOr returns *p, or or when p is nil.
func ptrOr(p *string, or string) string {
	if p == nil {
		return or
	}
	return *p
}
