package github

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// SyncComment makes the pull request's previewd comment show env and returns
// the comment's new state. It sends nothing when env.Comment already holds
// the rendered body. With a known ID it edits that comment; when GitHub
// answers 404 (a person deleted it), or when no ID is known (a restart lost
// the store), it looks for the comment by its marker line and edits it, and
// creates one only if there is none, so a pull request never gets two.
//
// It blocks on up to a few requests, plus one per 100 comments when it has
// to search. Errors say what was being done; preview.ErrorCode gives
// not_found, unauthorized, invalid or unavailable for GitHub's answers. A
// body over MaxCommentLength characters is refused with an invalid error
// before anything is sent.
func (c *Client) SyncComment(ctx context.Context, env preview.Environment) (preview.Comment, error) {
	body, err := renderBody(c.render, env)
	if err != nil {
		return preview.Comment{}, err
	}
	marker, err := markerLine(body)
	if err != nil {
		return preview.Comment{}, fmt.Errorf("sync comment for %s: %w", env.Name, err)
	}
	if env.Comment.ID != 0 && env.Comment.Body == body {
		return env.Comment, nil
	}
	owner, repo, err := splitRepo(env.Repo)
	if err != nil {
		return preview.Comment{}, fmt.Errorf("sync comment for %s: %w", env.Name, err)
	}
	ep, err := c.endpointFor(ctx, env.Repo, env.Desired.InstallationID)
	if err != nil {
		return preview.Comment{}, fmt.Errorf("sync comment for %s: %w", env.Name, err)
	}
	if env.Comment.ID != 0 {
		comment, err := c.editComment(ctx, ep, owner, repo, env.Comment.ID, body)
		if err == nil || !isNotFound(err) {
			return comment, err
		}
		c.logger.Debug("comment gone, looking for another", "environment", env.Name, "repo", env.Repo, "pr", env.PR, "comment_id", env.Comment.ID)
	}
	found, err := c.findComment(ctx, ep, owner, repo, env.PR, marker)
	if err != nil {
		return preview.Comment{}, err
	}
	if found == nil {
		return c.createComment(ctx, ep, owner, repo, env.PR, body)
	}
	if normalizeBody(found.GetBody()) == body {
		return toComment(found, body), nil
	}
	return c.editComment(ctx, ep, owner, repo, found.GetID(), body)
}

// renderBody renders env's comment and checks GitHub would accept it.
func renderBody(render func(preview.Environment) (string, error), env preview.Environment) (string, error) {
	body, err := render(env)
	if err != nil {
		return "", fmt.Errorf("render comment for %s: %w", env.Name, err)
	}
	if n := utf8.RuneCountInString(body); n > MaxCommentLength {
		return "", preview.Errorf(preview.EINVALID, "comment for %s is %d characters, over GitHub's limit of %d", env.Name, n, MaxCommentLength)
	}
	return body, nil
}

// markerLine returns the first line of body, which must be an HTML comment.
func markerLine(body string) (string, error) {
	line, _, _ := strings.Cut(body, "\n")
	line = strings.TrimRight(line, "\r")
	if !strings.HasPrefix(line, "<!--") || !strings.HasSuffix(line, "-->") {
		return "", preview.Errorf(preview.EINVALID, "rendered comment does not start with a <!-- marker --> line")
	}
	return line, nil
}

// normalizeBody undoes the CRLF line endings GitHub may store.
func normalizeBody(body string) string { return strings.ReplaceAll(body, "\r\n", "\n") }

// findComment returns the oldest comment on pull request number whose first
// line is marker, or nil if there is none.
// trustedAuthor reports whether comment may be previewd's own: written by a
// bot (App mode) or by someone with access to the repository (token mode's
// user). A marker planted by a fork's author is never adopted.
func trustedAuthor(comment *gh.IssueComment) bool {
	if comment.GetUser().GetType() == "Bot" {
		return true
	}
	switch comment.GetAuthorAssociation() {
	case "OWNER", "MEMBER", "COLLABORATOR":
		return true
	}
	return false
}

func (c *Client) findComment(ctx context.Context, ep *endpoint, owner, repo string, number int, marker string) (*gh.IssueComment, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		var (
			comments []*gh.IssueComment
			resp     *gh.Response
		)
		err := ep.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
			comments, resp, err = api.Issues.ListComments(ctx, owner, repo, number, opts)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list comments on %s/%s#%d: %w", owner, repo, number, classify(err))
		}
		for _, comment := range comments {
			if first, err := markerLine(normalizeBody(comment.GetBody())); err == nil && first == marker && trustedAuthor(comment) {
				return comment, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}

func (c *Client) editComment(ctx context.Context, ep *endpoint, owner, repo string, id int64, body string) (preview.Comment, error) {
	var comment *gh.IssueComment
	err := ep.do(ctx, write, func(ctx context.Context, api *gh.Client) (err error) {
		comment, _, err = api.Issues.EditComment(ctx, owner, repo, id, &gh.IssueComment{Body: ptr(body)})
		return err
	})
	if err != nil {
		return preview.Comment{}, fmt.Errorf("edit comment %d on %s/%s: %w", id, owner, repo, classify(err))
	}
	c.logger.Debug("comment edited", "repo", owner+"/"+repo, "comment_id", id)
	return toComment(comment, body), nil
}

func (c *Client) createComment(ctx context.Context, ep *endpoint, owner, repo string, number int, body string) (preview.Comment, error) {
	comment, err := c.postComment(ctx, ep, owner, repo, number, body)
	if err != nil {
		return preview.Comment{}, err
	}
	c.logger.Debug("comment created", "repo", owner+"/"+repo, "pr", number, "comment_id", comment.GetID())
	return toComment(comment, body), nil
}

// postComment creates an issue comment. It is never sent twice: a lost
// answer is found by the caller's next pass.
func (c *Client) postComment(ctx context.Context, ep *endpoint, owner, repo string, number int, body string) (*gh.IssueComment, error) {
	var comment *gh.IssueComment
	err := ep.do(ctx, create, func(ctx context.Context, api *gh.Client) (err error) {
		comment, _, err = api.Issues.CreateComment(ctx, owner, repo, number, &gh.IssueComment{Body: ptr(body)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create comment on %s/%s#%d: %w", owner, repo, number, classify(err))
	}
	return comment, nil
}

// toComment is what previewd stores of comment. Body is what was rendered,
// not GitHub's copy, so an unchanged environment compares equal next time.
func toComment(comment *gh.IssueComment, body string) preview.Comment {
	updated := comment.GetUpdatedAt().Time
	if updated.IsZero() {
		updated = time.Now().UTC()
	}
	return preview.Comment{ID: comment.GetID(), Body: body, UpdatedAt: updated}
}
