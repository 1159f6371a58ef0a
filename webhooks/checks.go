package webhooks

import (
	"encoding/json"
	"strings"

	preview "github.com/previewd/previewd"
)

// parseChecks reads a check_run, check_suite or status event: which commit
// of which repository had a check or status change. Environments waiting
// on that commit's required checks read them again; the event's own
// verdict is never trusted on its own (a read on the next reconcile
// decides), so only the commit is taken. An event of these types without
// a commit or repository is EINVALID.
func parseChecks(eventType string, body []byte) (Event, error) {
	var p struct {
		Action     string `json:"action"`
		SHA        string `json:"sha"` // status
		Repository *struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
		CheckRun *struct {
			HeadSHA string `json:"head_sha"`
		} `json:"check_run"`
		CheckSuite *struct {
			HeadSHA string `json:"head_sha"`
		} `json:"check_suite"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, decodeError(err)
	}
	sha := p.SHA
	switch {
	case eventType == "check_run" && p.CheckRun != nil:
		sha = p.CheckRun.HeadSHA
	case eventType == "check_suite" && p.CheckSuite != nil:
		sha = p.CheckSuite.HeadSHA
	case eventType != "status":
		return Event{}, invalid("%s event without %s", eventType, eventType)
	}
	if sha == "" {
		return Event{}, invalid("%s event without a head commit", eventType)
	}
	if p.Repository == nil || p.Repository.FullName == "" {
		return Event{}, invalid("%s event without repository.full_name", eventType)
	}
	return Event{Kind: KindChecks, Action: p.Action, Checks: preview.Commit{Repo: p.Repository.FullName, SHA: sha}}, nil
}

// parsePush reads a push event: a push to a branch (refs/heads/…) is
// KindPush with the repository and the commit the branch now points at; a
// push of a tag, or a branch's deletion, is ignored.
func parsePush(body []byte) (Event, error) {
	var p struct {
		Ref        string `json:"ref"`
		After      string `json:"after"`
		Deleted    bool   `json:"deleted"`
		Repository *struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, decodeError(err)
	}
	if p.Repository == nil || p.Repository.FullName == "" {
		return Event{}, invalid("push event without repository.full_name")
	}
	if !strings.HasPrefix(p.Ref, "refs/heads/") || p.Deleted {
		return parseIgnored(body)
	}
	return Event{Kind: KindPush, Pushed: preview.Commit{Repo: p.Repository.FullName, SHA: p.After}}, nil
}
