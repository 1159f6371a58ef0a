package github

import (
	"context"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// ListOpenPullRequests returns every open pull request of repo ("owner/name"),
// following pagination 100 at a time. It blocks for one request per page.
// InstallationID is left zero: GitHub does not say it here.
func (c *Client) ListOpenPullRequests(ctx context.Context, repo string) ([]preview.PullRequest, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("list open pull requests: %w", err)
	}
	opts := &gh.PullRequestListOptions{State: "open", ListOptions: gh.ListOptions{PerPage: 100}}
	var prs []preview.PullRequest
	for {
		page, resp, err := c.gh.PullRequests.List(ctx, owner, name, opts)
		if err != nil {
			return nil, fmt.Errorf("list open pull requests of %s: %w", repo, classify(err))
		}
		for _, pr := range page {
			prs = append(prs, toPullRequest(repo, pr))
		}
		if resp.NextPage == 0 {
			return prs, nil
		}
		opts.Page = resp.NextPage
	}
}

// GetPullRequest returns pull request number of repo ("owner/name"). It
// returns an error with code not_found when GitHub does not know it.
func (c *Client) GetPullRequest(ctx context.Context, repo string, number int) (preview.PullRequest, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return preview.PullRequest{}, fmt.Errorf("get pull request %d: %w", number, err)
	}
	pr, _, err := c.gh.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return preview.PullRequest{}, fmt.Errorf("get pull request %s#%d: %w", repo, number, classify(err))
	}
	return toPullRequest(repo, pr), nil
}

// toPullRequest maps GitHub's pull request to previewd's desired state. Repo
// is the base repository's full name as GitHub spells it, repo when absent. A
// pull request whose head repository is gone (a deleted fork) counts as a
// fork: previewd must not trust what it cannot see.
func toPullRequest(repo string, pr *gh.PullRequest) preview.PullRequest {
	baseRepo := pr.GetBase().GetRepo().GetFullName()
	if baseRepo == "" {
		baseRepo = repo
	}
	var labels []string
	for _, l := range pr.Labels {
		labels = append(labels, l.GetName())
	}
	head := pr.GetHead()
	return preview.PullRequest{
		Repo:      baseRepo,
		Number:    pr.GetNumber(),
		Open:      pr.GetState() == "open",
		HeadSHA:   head.GetSHA(),
		Branch:    head.GetRef(),
		Labels:    labels,
		Author:    pr.GetUser().GetLogin(),
		Fork:      head.Repo == nil || !strings.EqualFold(head.GetRepo().GetFullName(), baseRepo),
		Draft:     pr.GetDraft(),
		UpdatedAt: pr.GetUpdatedAt().Time,
	}
}
