package webhooks

import (
	"encoding/json"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
)

// pullRequestActions are the pull_request actions that change a preview's
// desired state. The others (edited, assigned, …) are ignored; the resync
// loop picks up what they change.
var pullRequestActions = map[string]bool{
	"opened":           true,
	"reopened":         true,
	"synchronize":      true,
	"ready_for_review": true,
	"closed":           true,
	"labeled":          true,
	"unlabeled":        true,
}

// labelActions are the pull_request actions that carry a label.
var labelActions = map[string]bool{"labeled": true, "unlabeled": true}

// pullRequestPayload is the part of GitHub's pull_request webhook payload
// previewd reads. GitHub sends much more; encoding/json skips the rest.
type pullRequestPayload struct {
	Action       *string           `json:"action"`
	Number       int               `json:"number"`
	PullRequest  *pullRequestField `json:"pull_request"`
	Repository   *repository       `json:"repository"`
	Installation *installation     `json:"installation"`
	Label        *label            `json:"label"`
	Sender       *user             `json:"sender"`
}

// pullRequestField is the payload's pull_request object.
type pullRequestField struct {
	Number    int     `json:"number"`
	State     string  `json:"state"`
	User      *user   `json:"user"`
	Head      *branch `json:"head"`
	Base      *branch `json:"base"`
	Labels    []label `json:"labels"`
	Draft     bool    `json:"draft"`
	UpdatedAt *string `json:"updated_at"`
}

// branch is pull_request.head or pull_request.base. Repo is null in head
// when the fork the pull request came from has been deleted.
type branch struct {
	Ref  string      `json:"ref"`
	SHA  string      `json:"sha"`
	Repo *repository `json:"repo"`
}

type repository struct {
	FullName string `json:"full_name"`
}

type user struct {
	Login string `json:"login"`
}

type label struct {
	Name string `json:"name"`
}

type installation struct {
	ID int64 `json:"id"`
}

// parsePullRequest decodes and checks a pull_request event. body is known to
// start like a JSON object.
func parsePullRequest(body []byte) (Event, error) {
	var p pullRequestPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, decodeError(err)
	}
	if p.Action == nil || *p.Action == "" {
		return Event{}, invalid("pull_request payload has no action")
	}
	ev := Event{Kind: KindIgnored, Action: *p.Action}
	if !pullRequestActions[ev.Action] {
		return ev, nil
	}
	pr, err := p.pullRequest()
	if err != nil {
		return Event{}, err
	}
	if labelActions[ev.Action] {
		if p.Label == nil || p.Label.Name == "" {
			return Event{}, invalid("pull_request %s payload has no label.name", ev.Action)
		}
		ev.Label = p.Label.Name
		if p.Sender != nil {
			ev.Sender = p.Sender.Login
		}
	}
	ev.Kind, ev.PullRequest = KindPullRequest, pr
	return ev, nil
}

// pullRequest checks the fields previewd needs and maps the payload to the
// domain's PullRequest.
func (p *pullRequestPayload) pullRequest() (preview.PullRequest, error) {
	if err := p.check(); err != nil {
		return preview.PullRequest{}, err
	}
	f := p.PullRequest
	updated, err := time.Parse(time.RFC3339, *f.UpdatedAt)
	if err != nil {
		return preview.PullRequest{}, invalid("pull_request.updated_at %q is not an RFC 3339 time", truncate(*f.UpdatedAt, 40))
	}
	pr := preview.PullRequest{
		Repo:       f.Base.Repo.FullName,
		Number:     p.Number,
		Open:       f.State == "open" && *p.Action != "closed",
		HeadSHA:    f.Head.SHA,
		Branch:     f.Head.Ref,
		BaseBranch: f.Base.Ref,
		Labels:     labelNames(f.Labels),
		Fork:       f.Head.Repo == nil || !strings.EqualFold(f.Head.Repo.FullName, f.Base.Repo.FullName),
		Draft:      f.Draft,
		UpdatedAt:  updated.UTC(),
	}
	if p.Repository != nil && p.Repository.FullName != "" {
		pr.Repo = p.Repository.FullName
	}
	if f.User != nil {
		pr.Author = f.User.Login
	}
	if p.Installation != nil {
		pr.InstallationID = p.Installation.ID
	}
	return pr, nil
}

// check returns an EINVALID error naming the first field previewd needs that
// is missing or out of range.
func (p *pullRequestPayload) check() error {
	f := p.PullRequest
	switch {
	case f == nil:
		return invalid("pull_request payload has no pull_request object")
	case p.Number <= 0:
		return invalid("pull_request payload: number must be a positive integer, got %d", p.Number)
	case f.Number != 0 && f.Number != p.Number:
		return invalid("pull_request payload: number %d does not match pull_request.number %d", p.Number, f.Number)
	case f.Head == nil:
		return invalid("pull_request payload has no pull_request.head")
	case f.Head.SHA == "":
		return invalid("pull_request payload has no pull_request.head.sha")
	case f.Head.Ref == "":
		return invalid("pull_request payload has no pull_request.head.ref")
	case f.Base == nil || f.Base.Repo == nil || f.Base.Repo.FullName == "":
		return invalid("pull_request payload has no pull_request.base.repo.full_name")
	case f.UpdatedAt == nil || *f.UpdatedAt == "":
		return invalid("pull_request payload has no pull_request.updated_at")
	case p.Installation != nil && p.Installation.ID <= 0:
		return invalid("pull_request payload: installation.id must be a positive integer, got %d", p.Installation.ID)
	}
	return nil
}

// labelNames returns the non-empty label names in payload order, nil for none.
func labelNames(labels []label) []string {
	var names []string
	for _, l := range labels {
		if l.Name != "" {
			names = append(names, l.Name)
		}
	}
	return names
}

// truncate shortens s to at most n bytes for an error message, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
