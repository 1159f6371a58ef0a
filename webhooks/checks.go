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
//
// A button pressed on one of previewd's own check runs (requested_action:
// "redeploy" on previewd, "recheck" on previewd/parity), or "Re-run" in
// GitHub's interface (check_run rerequested: what that run ran;
// check_suite rerequested: the environment again), is KindCommand instead:
// GitHub delivers these actions only to the App that made the run, and
// the command runs only after the sender's write access is checked, like
// a comment's.
func parseChecks(eventType string, body []byte) (Event, error) {
	var p checksPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, decodeError(err)
	}
	if ev, ok, err := p.command(eventType); ok || err != nil {
		return ev, err
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

// The names of previewd's own check runs (github.StatusContext and
// ParityStatusContext), and the verb each one's re-run asks for.
var ownCheckRuns = map[string]string{"previewd": preview.VerbRedeploy, "previewd/parity": preview.VerbRecheck}

// ownActions are the buttons previewd puts on its check runs: the
// identifier is the verb.
var ownActions = map[string]bool{preview.VerbRedeploy: true, preview.VerbRecheck: true}

type checksPayload struct {
	Action     string `json:"action"`
	SHA        string `json:"sha"` // status
	Repository *struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	CheckRun *struct {
		ID           int64         `json:"id"`
		Name         string        `json:"name"`
		HeadSHA      string        `json:"head_sha"`
		PullRequests []pullRequest `json:"pull_requests"`
	} `json:"check_run"`
	CheckSuite *struct {
		HeadSHA      string        `json:"head_sha"`
		PullRequests []pullRequest `json:"pull_requests"`
	} `json:"check_suite"`
	RequestedAction *struct {
		Identifier string `json:"identifier"`
	} `json:"requested_action"`
	Sender *struct {
		Login string `json:"login"`
	} `json:"sender"`
	Installation *struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

type pullRequest struct {
	Number int `json:"number"`
}

// command is the command a button or a re-run on one of previewd's check
// runs asks for; ok is false for any other checks event. A pull request
// from a fork is not named in the event (GitHub lists only the
// repository's own): there is nothing to act on, and ok is false.
func (p checksPayload) command(eventType string) (_ Event, ok bool, _ error) {
	var cmd preview.Command
	var prs []pullRequest
	switch {
	case eventType == "check_run" && p.CheckRun != nil && p.Action == "requested_action":
		verb := ""
		if p.RequestedAction != nil {
			verb = p.RequestedAction.Identifier
		}
		if _, own := ownCheckRuns[p.CheckRun.Name]; !own || !ownActions[verb] {
			return Event{}, false, nil
		}
		cmd = preview.Command{Verb: verb, CheckRun: p.CheckRun.Name, CheckRunID: p.CheckRun.ID}
		prs = p.CheckRun.PullRequests
	case eventType == "check_run" && p.CheckRun != nil && p.Action == "rerequested":
		verb, own := ownCheckRuns[p.CheckRun.Name]
		if !own {
			return Event{}, false, nil
		}
		cmd = preview.Command{Verb: verb, CheckRun: p.CheckRun.Name, CheckRunID: p.CheckRun.ID}
		prs = p.CheckRun.PullRequests
	case eventType == "check_suite" && p.CheckSuite != nil && p.Action == "rerequested":
		cmd = preview.Command{Verb: preview.VerbRedeploy}
		prs = p.CheckSuite.PullRequests
	default:
		return Event{}, false, nil
	}
	if len(prs) == 0 || prs[0].Number <= 0 {
		return Event{Kind: KindIgnored, Action: p.Action}, true, nil
	}
	if p.Repository == nil || p.Repository.FullName == "" {
		return Event{}, true, invalid("%s event without repository.full_name", eventType)
	}
	if p.Sender == nil || p.Sender.Login == "" {
		return Event{}, true, invalid("%s event without sender.login", eventType)
	}
	cmd.Repo, cmd.Number, cmd.User = p.Repository.FullName, prs[0].Number, p.Sender.Login
	if p.Installation != nil {
		cmd.InstallationID = p.Installation.ID
	}
	return Event{Kind: KindCommand, Action: p.Action, Command: cmd, Sender: cmd.User}, true, nil
}
