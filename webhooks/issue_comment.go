package webhooks

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	preview "github.com/previewd/previewd"
)

// CommandPrefix starts the first line of every comment command.
const CommandPrefix = "/preview"

// Verbs are the verbs a comment may name (preview.Verb.Comment). Any
// other verb, or none, parses as "help".
var Verbs = commentVerbs()

func commentVerbs() []string {
	var names []string
	for _, v := range preview.Verbs() {
		if v.Comment {
			names = append(names, v.Name)
		}
	}
	return names
}

// maxArgLength bounds Command.Arg, in bytes.
const maxArgLength = 100

// issueCommentPayload is the part of GitHub's issue_comment webhook
// payload previewd reads.
type issueCommentPayload struct {
	Action       *string       `json:"action"`
	Issue        *issueField   `json:"issue"`
	Comment      *commentField `json:"comment"`
	Repository   *repository   `json:"repository"`
	Sender       *author       `json:"sender"`
	Installation *installation `json:"installation"`
}

// issueField is the payload's issue. PullRequest is present (an object)
// only when the issue is a pull request.
type issueField struct {
	Number      int             `json:"number"`
	PullRequest json.RawMessage `json:"pull_request"`
}

type commentField struct {
	ID   int64   `json:"id"`
	Body string  `json:"body"`
	User *author `json:"user"`
}

// author is a user with its type: "User", "Bot" or "Organization".
type author struct {
	Login string `json:"login"`
	Type  string `json:"type"`
}

// parseIssueComment decodes an issue_comment event and returns KindCommand
// for a command, KindIgnored for anything else. body is known to start
// like a JSON object.
func parseIssueComment(body []byte) (Event, error) {
	var p issueCommentPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, decodeError(err)
	}
	if p.Action == nil || *p.Action == "" {
		return Event{}, invalid("issue_comment payload has no action")
	}
	ev := Event{Kind: KindIgnored, Action: *p.Action}
	if ev.Action != "created" || p.Issue == nil || !isObject(p.Issue.PullRequest) || p.Comment == nil || p.fromBot() {
		return ev, nil
	}
	rest, ok := commandLine(p.Comment.Body)
	if !ok {
		return ev, nil
	}
	cmd, err := p.command(rest)
	if err != nil {
		return Event{}, err
	}
	ev.Kind, ev.Command, ev.Sender = KindCommand, cmd, cmd.User
	if p.Sender != nil && p.Sender.Login != "" {
		ev.Sender = p.Sender.Login
	}
	return ev, nil
}

// isObject reports whether raw is a JSON object (not absent, not null).
func isObject(raw json.RawMessage) bool {
	trimmed := strings.TrimLeft(string(raw), " \t\r\n")
	return strings.HasPrefix(trimmed, "{")
}

// fromBot reports whether a bot wrote the comment, previewd itself
// included: previewd never acts on a bot's comment.
func (p *issueCommentPayload) fromBot() bool {
	a := p.Comment.User
	if a == nil {
		a = p.Sender
	}
	return a != nil && (a.Type == "Bot" || strings.HasSuffix(a.Login, "[bot]"))
}

// commandLine returns what follows CommandPrefix on body's first line, and
// false when that line is no command ("/previewer" is not one).
func commandLine(body string) (string, bool) {
	line, _, _ := strings.Cut(body, "\n")
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), CommandPrefix)
	if !ok {
		return "", false
	}
	if r, _ := utf8.DecodeRuneInString(rest); rest != "" && !unicode.IsSpace(r) {
		return "", false
	}
	return rest, true
}

// command checks the fields a command needs and builds it from rest, the
// text after CommandPrefix.
func (p *issueCommentPayload) command(rest string) (preview.Command, error) {
	switch {
	case p.Issue.Number <= 0:
		return preview.Command{}, invalid("issue_comment payload: issue.number must be a positive integer, got %d", p.Issue.Number)
	case p.Comment.ID <= 0:
		return preview.Command{}, invalid("issue_comment payload: comment.id must be a positive integer, got %d", p.Comment.ID)
	case p.Comment.User == nil || p.Comment.User.Login == "":
		return preview.Command{}, invalid("issue_comment payload has no comment.user.login")
	case p.Repository == nil || p.Repository.FullName == "":
		return preview.Command{}, invalid("issue_comment payload has no repository.full_name")
	case p.Installation != nil && p.Installation.ID <= 0:
		return preview.Command{}, invalid("issue_comment payload: installation.id must be a positive integer, got %d", p.Installation.ID)
	}
	verb, arg := parseVerb(rest)
	cmd := preview.Command{
		Repo: p.Repository.FullName, Number: p.Issue.Number, User: p.Comment.User.Login,
		CommentID: p.Comment.ID, Verb: verb, Arg: arg,
	}
	if p.Installation != nil {
		cmd.InstallationID = p.Installation.ID
	}
	return cmd, nil
}

// parseVerb splits the text after CommandPrefix into a known verb, in lower
// case, and the rest of the line, spaces collapsed and at most
// maxArgLength bytes. An unknown verb, or none, is "help" with no
// argument.
func parseVerb(rest string) (verb, arg string) {
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return preview.VerbHelp, ""
	}
	verb = strings.ToLower(fields[0])
	if v, ok := preview.LookupVerb(verb); !ok || !v.Comment {
		return preview.VerbHelp, ""
	}
	arg = strings.Join(fields[1:], " ")
	if len(arg) > maxArgLength {
		cut := maxArgLength
		for cut > 0 && !utf8.RuneStart(arg[cut]) {
			cut--
		}
		arg = arg[:cut]
	}
	return verb, arg
}
