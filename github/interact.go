package github

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// Permissions are the answers of Permission, strongest first.
var Permissions = []string{"admin", "maintain", "write", "triage", "read", "none"}

// Reactions are the reaction contents GitHub accepts on a comment.
var Reactions = []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}

// login matches a GitHub login, an App's bot ("name[bot]") and an
// Enterprise Managed User ("mona_acme") included.
var login = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,38})(?:\[bot\])?$`)

// Permission returns user's permission on repo ("owner/name"), one of
// Permissions: GET /repos/{owner}/{repo}/collaborators/{user}/permission.
// GitHub's role_name gives "maintain" and "triage", which its older
// "permission" field folds into write and read; a custom role falls back to
// that field. A user GitHub does not know (404) has "none". It blocks for
// one request; an invalid user or repo is an invalid error.
func (c *Client) Permission(ctx context.Context, repo, user string) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", fmt.Errorf("permission of %q: %w", user, err)
	}
	if !login.MatchString(user) {
		return "", preview.Errorf(preview.EINVALID, "permission on %s: %q is not a GitHub login", repo, truncateRunes(user, 60))
	}
	ep, err := c.endpointFor(ctx, repo, 0)
	if err != nil {
		return "", fmt.Errorf("permission of %s on %s: %w", user, repo, err)
	}
	var level *gh.RepositoryPermissionLevel
	err = ep.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
		level, _, err = api.Repositories.GetPermissionLevel(ctx, owner, name, user)
		return err
	})
	if isNotFound(err) {
		return "none", nil
	} else if err != nil {
		return "", fmt.Errorf("permission of %s on %s: %w", user, repo, classify(err))
	}
	// go-github v60 has no role_name; GitHub maps maintain to "write" and
	// triage to "read" in permission, which is what the check needs.
	return permissionOf("", level.GetPermission()), nil
}

// permissionOf maps GitHub's role_name and permission to one of
// Permissions; anything unknown is "none".
func permissionOf(role, permission string) string {
	for _, p := range Permissions {
		if strings.EqualFold(role, p) {
			return p
		}
	}
	for _, p := range Permissions {
		if strings.EqualFold(permission, p) {
			return p
		}
	}
	return "none"
}

// React adds the reaction content (one of Reactions) to issue comment
// commentID of repo: POST /repos/{owner}/{repo}/issues/comments/{id}/reactions.
// Reacting twice is harmless: GitHub keeps one. It blocks for one request.
func (c *Client) React(ctx context.Context, repo string, commentID int64, content string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return fmt.Errorf("react to comment %d: %w", commentID, err)
	}
	if err := checkReaction(content, commentID); err != nil {
		return err
	}
	ep, err := c.endpointFor(ctx, repo, 0)
	if err != nil {
		return fmt.Errorf("react to comment %d on %s: %w", commentID, repo, err)
	}
	err = ep.do(ctx, write, func(ctx context.Context, api *gh.Client) error {
		_, _, err := api.Reactions.CreateIssueCommentReaction(ctx, owner, name, commentID, content)
		return err
	})
	if err != nil {
		return fmt.Errorf("react %s to comment %d on %s: %w", content, commentID, repo, classify(err))
	}
	c.logger.Debug("reaction added", "repo", repo, "comment_id", commentID, "content", content)
	return nil
}

func checkReaction(content string, commentID int64) error {
	for _, r := range Reactions {
		if content == r {
			if commentID <= 0 {
				return preview.Errorf(preview.EINVALID, "react to comment %d: not a comment ID", commentID)
			}
			return nil
		}
	}
	return preview.Errorf(preview.EINVALID, "react to comment %d: %q is not a GitHub reaction", commentID, truncateRunes(content, 20))
}

// Reply posts body as a new comment on pull request (or issue) number of
// repo: a short answer, such as a refused command or a fork notice. It is
// never sent twice, even after a 5xx answer. A body that is empty, over
// MaxCommentLength characters, or whose first line starts with "/preview"
// (previewd would read its own reply as a command in token mode) is
// refused with an invalid error before anything is sent. It blocks for one
// request.
func (c *Client) Reply(ctx context.Context, repo string, number int, body string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return fmt.Errorf("reply on #%d: %w", number, err)
	}
	if err := checkReply(repo, number, body); err != nil {
		return err
	}
	ep, err := c.endpointFor(ctx, repo, 0)
	if err != nil {
		return fmt.Errorf("reply on %s#%d: %w", repo, number, err)
	}
	comment, err := c.postComment(ctx, ep, owner, name, number, body)
	if err != nil {
		return err
	}
	c.logger.Debug("reply posted", "repo", repo, "pr", number, "comment_id", comment.GetID())
	return nil
}

func checkReply(repo string, number int, body string) error {
	first, _, _ := strings.Cut(strings.TrimLeft(body, " \t"), "\n")
	switch {
	case number <= 0:
		return preview.Errorf(preview.EINVALID, "reply on %s#%d: not a pull request number", repo, number)
	case strings.TrimSpace(body) == "":
		return preview.Errorf(preview.EINVALID, "reply on %s#%d: empty body", repo, number)
	case utf8.RuneCountInString(body) > MaxCommentLength:
		return preview.Errorf(preview.EINVALID, "reply on %s#%d is %d characters, over GitHub's limit of %d", repo, number, utf8.RuneCountInString(body), MaxCommentLength)
	case strings.HasPrefix(first, "/preview"):
		return preview.Errorf(preview.EINVALID, "reply on %s#%d starts with /preview and would be read as a command", repo, number)
	}
	return nil
}
