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
// InstallationID is set in App mode, and zero in token mode.
func (c *Client) ListOpenPullRequests(ctx context.Context, repo string) ([]preview.PullRequest, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("list open pull requests: %w", err)
	}
	ep, err := c.endpointFor(ctx, repo, 0)
	if err != nil {
		return nil, fmt.Errorf("list open pull requests of %s: %w", repo, err)
	}
	opts := &gh.PullRequestListOptions{State: "open", ListOptions: gh.ListOptions{PerPage: 100}}
	var prs []preview.PullRequest
	for {
		var (
			page []*gh.PullRequest
			resp *gh.Response
		)
		err := ep.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
			page, resp, err = api.PullRequests.List(ctx, owner, name, opts)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list open pull requests of %s: %w", repo, classify(err))
		}
		for _, pr := range page {
			prs = append(prs, c.toPullRequest(repo, pr))
		}
		if resp.NextPage == 0 {
			return prs, nil
		}
		opts.Page = resp.NextPage
	}
}

// GetPullRequest returns pull request number of repo ("owner/name"). It
// returns an error with code not_found when GitHub does not know it.
// InstallationID is set in App mode, and zero in token mode.
func (c *Client) GetPullRequest(ctx context.Context, repo string, number int) (preview.PullRequest, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return preview.PullRequest{}, fmt.Errorf("get pull request %d: %w", number, err)
	}
	ep, err := c.endpointFor(ctx, repo, 0)
	if err != nil {
		return preview.PullRequest{}, fmt.Errorf("get pull request %s#%d: %w", repo, number, err)
	}
	var pr *gh.PullRequest
	err = ep.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
		pr, _, err = api.PullRequests.Get(ctx, owner, name, number)
		return err
	})
	if err != nil {
		return preview.PullRequest{}, fmt.Errorf("get pull request %s#%d: %w", repo, number, classify(err))
	}
	return c.toPullRequest(repo, pr), nil
}

// toPullRequest is toPullRequest with the installation that serves repo in
// App mode.
func (c *Client) toPullRequest(repo string, pr *gh.PullRequest) preview.PullRequest {
	out := toPullRequest(repo, pr)
	if c.app != nil {
		out.InstallationID = c.app.cachedInstallation(repo)
	}
	return out
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
		Repo:       baseRepo,
		Number:     pr.GetNumber(),
		Open:       pr.GetState() == "open",
		HeadSHA:    head.GetSHA(),
		Branch:     head.GetRef(),
		BaseBranch: pr.GetBase().GetRef(),
		Labels:     labels,
		Author:     pr.GetUser().GetLogin(),
		Fork:       head.Repo == nil || !strings.EqualFold(head.GetRepo().GetFullName(), baseRepo),
		Draft:      pr.GetDraft(),
		UpdatedAt:  pr.GetUpdatedAt().Time,
	}
}

// GitToken returns a token that reads repo ("owner/name") over git's HTTPS
// protocol: the installation's token in App mode (refreshed before it
// expires), the configured token in token mode. It is for fetching modules,
// and must only ever reach git through its environment.
func (c *Client) GitToken(ctx context.Context, repo string) (string, error) {
	ep, err := c.endpointFor(ctx, repo, 0)
	if err != nil {
		return "", fmt.Errorf("token for %s: %w", repo, err)
	}
	if ep.token == nil {
		return "", nil
	}
	token, err := ep.token(ctx)
	if err != nil {
		return "", fmt.Errorf("token for %s: %w", repo, classify(err))
	}
	return token, nil
}
