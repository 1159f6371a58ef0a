package webhooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	preview "github.com/previewd/previewd"
)

// Kind classifies a delivery by what previewd does with it.
type Kind int

// The kinds of Event. The zero Kind is KindIgnored.
const (
	// KindIgnored is a delivery previewd does not act on: an event it does
	// not use (ping, installation, push, …), a pull_request action that
	// does not change a preview (edited, assigned, …), or an issue_comment
	// that is no command (see KindCommand). The server answers 2xx.
	KindIgnored Kind = iota
	// KindPullRequest is a pull_request event whose action changes the
	// desired state of a preview: opened, reopened, synchronize,
	// ready_for_review, closed, labeled or unlabeled (labels drive
	// preview:keep and fork approval). Event.PullRequest is set, and for
	// labeled and unlabeled Event.Label and Event.Sender too.
	KindPullRequest
	// KindCommand is a "/preview …" command: an issue_comment created on a
	// pull request, by a user that is not a bot, whose first line starts
	// with "/preview". Event.Command and Event.Sender are set.
	KindCommand
	// KindChecks is a check_run, check_suite or status event: a check or
	// status of a commit changed. Event.Checks is set.
	KindChecks
	// KindPush is a push to a branch: production's module may have moved.
	// Event.Pushed is set.
	KindPush
)

// String returns the kind's name for logs: "ignored", "pull_request",
// "command" or "checks".
func (k Kind) String() string {
	switch k {
	case KindIgnored:
		return "ignored"
	case KindPullRequest:
		return "pull_request"
	case KindCommand:
		return "command"
	case KindChecks:
		return "checks"
	case KindPush:
		return "push"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Event is a parsed delivery.
type Event struct {
	Kind Kind
	// Action is the payload's action ("opened", "synchronize", "created", …),
	// also for ignored events that have one; "" when the event has none.
	Action string
	// PullRequest is the desired state the delivery carries; set only for
	// KindPullRequest.
	PullRequest preview.PullRequest
	// Command is the comment command; set only for KindCommand.
	Command preview.Command
	// Sender is the login of who caused the event (sender.login): set for
	// labeled and unlabeled pull_request events and for commands, so a
	// label such as preview:approved can be checked against the labeler's
	// permission.
	Sender string
	// Label is the label added or removed (label.name); set only for
	// labeled and unlabeled.
	Label string
	// Checks is the commit whose checks changed; set only for KindChecks.
	Checks preview.Commit
	// Pushed is the repository and the commit a branch now points at; set
	// only for KindPush.
	Pushed preview.Commit
}

// Parse turns a delivery, the X-GitHub-Event header value and the body, into
// an Event. It does no I/O and does not retain body.
//
// Events previewd does not use (ping, installation, push, anything unknown),
// pull_request actions other than opened, reopened, synchronize,
// ready_for_review, closed, labeled and unlabeled, and issue_comment events
// that are no command (see KindCommand) yield KindIgnored and a nil error,
// as long as the body is a JSON object. A body that is not the event it
// claims to be returns a *preview.Error with code preview.EINVALID and a
// short message naming what is wrong: an empty event type, a body that is
// not a JSON object (including a form-encoded one), a field of the wrong
// JSON type, a pull_request event without pull_request, number, head.sha,
// head.ref, base.repo.full_name or a valid updated_at (or, when labeled or
// unlabeled, label.name), or a command without issue.number, comment.id,
// comment.user.login or repository.full_name. Unknown fields are ignored.
func Parse(eventType string, body []byte) (Event, error) {
	if eventType == "" {
		return Event{}, invalid("missing event type (the X-GitHub-Event header)")
	}
	if err := checkObject(body); err != nil {
		return Event{}, err
	}
	switch eventType {
	case "pull_request":
		return parsePullRequest(body)
	case "issue_comment":
		return parseIssueComment(body)
	case "check_run", "check_suite", "status":
		return parseChecks(eventType, body)
	case "push":
		return parsePush(body)
	default:
		return parseIgnored(body)
	}
}

// parseIgnored decodes only the action of an event previewd does not use,
// checking on the way that the body is valid JSON.
func parseIgnored(body []byte) (Event, error) {
	var p struct {
		Action json.RawMessage `json:"action"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, decodeError(err)
	}
	var action string
	if json.Unmarshal(p.Action, &action) != nil {
		action = "" // not a string: an event of some other shape; not ours to judge
	}
	return Event{Kind: KindIgnored, Action: action}, nil
}

// checkObject returns an EINVALID error unless body starts like a JSON
// object. It does not validate the rest; decoding does.
func checkObject(body []byte) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return invalid("payload is empty")
	case bytes.HasPrefix(trimmed, []byte("payload=")):
		return invalid("payload is form-encoded; set the webhook's content type to application/json")
	case trimmed[0] == '{':
		return nil
	case trimmed[0] == '[':
		return invalid("payload is a JSON array, want a JSON object")
	case json.Valid(trimmed):
		return invalid("payload is a JSON %s, want a JSON object", jsonKindOf(trimmed[0]))
	default:
		return invalid("payload is not JSON")
	}
}

// jsonKindOf names the kind of the JSON value starting with c.
func jsonKindOf(c byte) string {
	switch c {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// decodeError turns an error from encoding/json into an EINVALID error that
// names the offending field or offset without echoing the payload.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return invalid("payload is not valid JSON: %s at offset %d", syntax.Error(), syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return invalid("%s is a JSON %s, want %s", typ.Field, valueKind(typ.Value), wantKind(typ.Type))
	case errors.As(err, &typ):
		return invalid("payload is a JSON %s, want %s", valueKind(typ.Value), wantKind(typ.Type))
	default:
		return invalid("payload cannot be decoded: %v", err)
	}
}

// valueKind shortens json.UnmarshalTypeError.Value ("number 1.5",
// "string", …) to the JSON kind.
func valueKind(v string) string {
	if k, _, ok := bytes.Cut([]byte(v), []byte(" ")); ok {
		return string(k)
	}
	return v
}

// wantKind says which JSON value decodes into t.
func wantKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return wantKind(t.Elem())
	default:
		return "another type"
	}
}

// invalid returns a *preview.Error with code EINVALID.
func invalid(format string, args ...any) error {
	return preview.Errorf(preview.EINVALID, format, args...)
}
