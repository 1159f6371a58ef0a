package webhooks

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

// readFixture returns the contents of testdata/name.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mustTime parses an RFC 3339 time for a want value.
func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestParseFixtures(t *testing.T) {
	const installationID = 48213671
	tests := []struct {
		fixture   string
		eventType string
		want      Event
	}{
		{"pull_request_opened.json", "pull_request", Event{Kind: KindPullRequest, Action: "opened", PullRequest: preview.PullRequest{
			Repo: "acme/widgets", Number: 42, Open: true, HeadSHA: "9f3c1e2b7a4d5c6e8f90a1b2c3d4e5f6a7b8c9d0",
			Branch: "feature/widget-cache", BaseBranch: "main", Author: "mona", UpdatedAt: mustTime(t, "2024-03-12T09:14:27Z"),
			InstallationID: installationID,
		}}},
		{"pull_request_synchronize.json", "pull_request", Event{Kind: KindPullRequest, Action: "synchronize", PullRequest: preview.PullRequest{
			Repo: "acme/widgets", Number: 42, Open: true, HeadSHA: "c0ffee4b1d2e3f40516273849a0b1c2d3e4f5061",
			Branch: "feature/widget-cache", BaseBranch: "main", Labels: []string{"preview", "area/api"}, Author: "mona",
			UpdatedAt: mustTime(t, "2024-03-12T11:40:03Z"), InstallationID: installationID,
		}}},
		{"pull_request_synchronize_full.json", "pull_request", Event{Kind: KindPullRequest, Action: "synchronize", PullRequest: preview.PullRequest{
			Repo: "acme/widgets", Number: 42, Open: true, HeadSHA: "c0ffee4b1d2e3f40516273849a0b1c2d3e4f5061",
			Branch: "feature/widget-cache", BaseBranch: "main", Labels: []string{"preview", "area/api"}, Author: "mona",
			UpdatedAt: mustTime(t, "2024-03-12T11:40:03Z"), InstallationID: installationID,
		}}},
		{"pull_request_closed_merged.json", "pull_request", Event{Kind: KindPullRequest, Action: "closed", PullRequest: preview.PullRequest{
			Repo: "acme/widgets", Number: 42, Open: false, HeadSHA: "c0ffee4b1d2e3f40516273849a0b1c2d3e4f5061",
			Branch: "feature/widget-cache", BaseBranch: "main", Labels: []string{"preview"}, Author: "mona",
			UpdatedAt: mustTime(t, "2024-03-13T08:05:44Z"), InstallationID: installationID,
		}}},
		{"pull_request_reopened.json", "pull_request", Event{Kind: KindPullRequest, Action: "reopened", PullRequest: preview.PullRequest{
			Repo: "acme/widgets", Number: 17, Open: true, HeadSHA: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
			Branch: "fix/login-redirect", BaseBranch: "main", Author: "mona", UpdatedAt: mustTime(t, "2024-04-02T14:21:09Z"),
			InstallationID: installationID,
		}}},
		{"pull_request_ready_for_review.json", "pull_request", Event{Kind: KindPullRequest, Action: "ready_for_review", PullRequest: preview.PullRequest{
			Repo: "acme/widgets", Number: 51, Open: true, HeadSHA: "77aa1e0c5b3f2d4e6a8c0b1d3f5e7a9c2b4d6f80",
			Branch: "spike/queue", BaseBranch: "main", Author: "mona", UpdatedAt: mustTime(t, "2024-04-05T10:00:12Z"),
			InstallationID: installationID,
		}}},
		{"pull_request_opened_draft.json", "pull_request", Event{Kind: KindPullRequest, Action: "opened", PullRequest: preview.PullRequest{
			Repo: "acme/widgets", Number: 60, Open: true, HeadSHA: "0a4d55a8d778e5022fab701977c5d840bbc486d0",
			Branch: "wip/billing", BaseBranch: "main", Author: "mona", Draft: true, UpdatedAt: mustTime(t, "2024-04-10T12:00:00Z"),
			InstallationID: installationID,
		}}},
		{"pull_request_opened_fork.json", "pull_request", Event{Kind: KindPullRequest, Action: "opened", PullRequest: preview.PullRequest{
			Repo: "acme/widgets", Number: 58, Open: true, HeadSHA: "5d41402abc4b2a76b9719d911017c592ae1f3b2c",
			Branch: "main", BaseBranch: "main", Author: "contributor", Fork: true, UpdatedAt: mustTime(t, "2024-04-09T19:33:50Z"),
			InstallationID: installationID,
		}}},
		{"pull_request_closed_deleted_fork.json", "pull_request", Event{Kind: KindPullRequest, Action: "closed", PullRequest: preview.PullRequest{
			Repo: "acme/widgets", Number: 12, Open: false, HeadSHA: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
			Branch: "patch-1", BaseBranch: "main", Author: "ghost", Fork: true, UpdatedAt: mustTime(t, "2024-05-20T07:45:00Z"),
			InstallationID: installationID,
		}}},
		{"pull_request_labeled.json", "pull_request", Event{Kind: KindPullRequest, Action: "labeled", Sender: "mona", Label: "preview",
			PullRequest: preview.PullRequest{
				Repo: "acme/widgets", Number: 42, Open: true, HeadSHA: "9f3c1e2b7a4d5c6e8f90a1b2c3d4e5f6a7b8c9d0",
				Branch: "feature/widget-cache", BaseBranch: "main", Labels: []string{"preview"}, Author: "mona",
				UpdatedAt: mustTime(t, "2024-03-12T09:20:31Z"), InstallationID: installationID,
			}}},
		{"pull_request_unlabeled.json", "pull_request", Event{Kind: KindPullRequest, Action: "unlabeled", Sender: "hubot", Label: "preview:keep",
			PullRequest: preview.PullRequest{
				Repo: "acme/widgets", Number: 42, Open: true, HeadSHA: "9f3c1e2b7a4d5c6e8f90a1b2c3d4e5f6a7b8c9d0",
				Branch: "feature/widget-cache", BaseBranch: "main", Labels: []string{"preview"}, Author: "mona",
				UpdatedAt: mustTime(t, "2024-03-12T09:25:10Z"), InstallationID: installationID,
			}}},
		{"issue_comment_command.json", "issue_comment", Event{Kind: KindCommand, Action: "created", Sender: "hubot", Command: preview.Command{
			Repo: "acme/widgets", Number: 42, User: "hubot", CommentID: 2011223344, Verb: "extend", Arg: "48h", InstallationID: installationID,
		}}},
		{"issue_comment_plain.json", "issue_comment", Event{Kind: KindIgnored, Action: "created"}},
		{"issue_comment_bot.json", "issue_comment", Event{Kind: KindIgnored, Action: "created"}},
		{"issue_comment_on_issue.json", "issue_comment", Event{Kind: KindIgnored, Action: "created"}},
		{"issue_comment_edited.json", "issue_comment", Event{Kind: KindIgnored, Action: "edited"}},
		{"issue_comment_command.json", "pull_request_review_comment", Event{Kind: KindIgnored, Action: "created"}},
		{"ping.json", "ping", Event{Kind: KindIgnored}},
		{"installation_created.json", "installation", Event{Kind: KindIgnored, Action: "created"}},
		// A pull_request body under another event type is not read as one.
		{"pull_request_opened.json", "pull_request_review", Event{Kind: KindIgnored, Action: "opened"}},
		{"pull_request_opened.json", "push", Event{Kind: KindIgnored, Action: "opened"}},
	}
	for _, tt := range tests {
		t.Run(tt.eventType+"/"+tt.fixture, func(t *testing.T) {
			got, err := Parse(tt.eventType, readFixture(t, tt.fixture))
			if err != nil {
				t.Fatalf("Parse() error = %v, want nil", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// mutate decodes the fixture, applies edit to it and encodes it again.
func mutate(t *testing.T, fixture string, edit func(p map[string]any)) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(readFixture(t, fixture), &p); err != nil {
		t.Fatal(err)
	}
	edit(p)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// obj returns the object at the dotted path in p.
func obj(p map[string]any, path string) map[string]any {
	for _, k := range strings.Split(path, ".") {
		p = p[k].(map[string]any)
	}
	return p
}

func TestParseMapping(t *testing.T) {
	const fixture = "pull_request_opened.json"
	tests := []struct {
		name  string
		edit  func(p map[string]any)
		check func(pr preview.PullRequest) bool
		want  string
	}{
		{"repository falls back to base.repo", func(p map[string]any) { delete(p, "repository") },
			func(pr preview.PullRequest) bool { return pr.Repo == "acme/widgets" }, "Repo acme/widgets"},
		{"fork compares case-insensitively", func(p map[string]any) {
			obj(p, "pull_request.head.repo")["full_name"] = "ACME/Widgets"
		}, func(pr preview.PullRequest) bool { return !pr.Fork }, "Fork false"},
		{"closed state with an opening action is not open", func(p map[string]any) {
			obj(p, "pull_request")["state"] = "closed"
		}, func(pr preview.PullRequest) bool { return !pr.Open }, "Open false"},
		{"no installation", func(p map[string]any) { delete(p, "installation") },
			func(pr preview.PullRequest) bool { return pr.InstallationID == 0 }, "InstallationID 0"},
		{"null user", func(p map[string]any) { obj(p, "pull_request")["user"] = nil },
			func(pr preview.PullRequest) bool { return pr.Author == "" }, "Author empty"},
		{"updated_at with offset is UTC", func(p map[string]any) {
			obj(p, "pull_request")["updated_at"] = "2024-03-12T11:14:27+02:00"
		}, func(pr preview.PullRequest) bool {
			return pr.UpdatedAt.Equal(time.Date(2024, 3, 12, 9, 14, 27, 0, time.UTC)) && pr.UpdatedAt.Location() == time.UTC
		}, "UpdatedAt 2024-03-12T09:14:27Z in UTC"},
		{"unknown fields tolerated", func(p map[string]any) {
			p["brand_new_field"] = map[string]any{"x": []any{1, 2}}
			obj(p, "pull_request")["future"] = true
		}, func(pr preview.PullRequest) bool { return pr.Number == 42 }, "Number 42"},
		{"empty label names skipped", func(p map[string]any) {
			obj(p, "pull_request")["labels"] = []any{map[string]any{"name": ""}, map[string]any{"name": "preview"}}
		}, func(pr preview.PullRequest) bool { return reflect.DeepEqual(pr.Labels, []string{"preview"}) }, "Labels [preview]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("pull_request", mutate(t, fixture, tt.edit))
			if err != nil {
				t.Fatalf("Parse() error = %v, want nil", err)
			}
			if !tt.check(got.PullRequest) {
				t.Errorf("Parse().PullRequest = %+v, want %s", got.PullRequest, tt.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	const fixture = "pull_request_synchronize.json"
	edit := func(f func(p map[string]any)) []byte { return mutate(t, fixture, f) }
	tests := []struct {
		name      string
		eventType string
		body      []byte
		wantMsg   string // a substring of the message
	}{
		{"missing event type", "", readFixture(t, fixture), "X-GitHub-Event"},
		{"not JSON", "pull_request", []byte("hello"), "not JSON"},
		{"truncated JSON", "pull_request", readFixture(t, fixture)[:100], "not valid JSON"},
		{"trailing garbage", "pull_request", append(readFixture(t, fixture), '}'), "not valid JSON"},
		{"empty body", "pull_request", nil, "empty"},
		{"blank body", "ping", []byte(" \n"), "empty"},
		{"form-encoded", "pull_request", []byte("payload=%7B%22action%22%3A%22opened%22%7D"), "application/json"},
		{"JSON array", "pull_request", []byte(`[{"action":"opened"}]`), "JSON array"},
		{"JSON null", "pull_request", []byte(`null`), "JSON null"},
		{"JSON string", "ping", []byte(`"zen"`), "JSON string"},
		{"JSON boolean", "ping", []byte(`true`), "JSON boolean"},
		{"JSON number", "installation", []byte(`-1.5e3`), "JSON number"},
		{"ping not JSON", "ping", []byte("{zen}"), "not valid JSON"},
		{"unknown event array", "star", []byte(`[]`), "JSON array"},
		{"no action", "pull_request", edit(func(p map[string]any) { delete(p, "action") }), "no action"},
		{"action not a string", "pull_request", edit(func(p map[string]any) { p["action"] = 1 }), "action is a JSON number, want a string"},
		{"no pull_request", "pull_request", edit(func(p map[string]any) { delete(p, "pull_request") }), "no pull_request object"},
		{"pull_request is an array", "pull_request", edit(func(p map[string]any) { p["pull_request"] = []any{} }), "pull_request is a JSON array, want an object"},
		{"missing head.sha", "pull_request", edit(func(p map[string]any) { delete(obj(p, "pull_request.head"), "sha") }), "pull_request.head.sha"},
		{"missing head.ref", "pull_request", edit(func(p map[string]any) { obj(p, "pull_request.head")["ref"] = "" }), "pull_request.head.ref"},
		{"null head", "pull_request", edit(func(p map[string]any) { obj(p, "pull_request")["head"] = nil }), "pull_request.head"},
		{"missing base.repo", "pull_request", edit(func(p map[string]any) { obj(p, "pull_request.base")["repo"] = nil }), "pull_request.base.repo.full_name"},
		{"missing base", "pull_request", edit(func(p map[string]any) { delete(obj(p, "pull_request"), "base") }), "pull_request.base.repo.full_name"},
		{"number 0", "pull_request", edit(func(p map[string]any) { p["number"] = 0 }), "number must be a positive integer, got 0"},
		{"number missing", "pull_request", edit(func(p map[string]any) { delete(p, "number") }), "number must be a positive integer"},
		{"number negative", "pull_request", edit(func(p map[string]any) { p["number"] = -3 }), "got -3"},
		{"number fractional", "pull_request", edit(func(p map[string]any) { p["number"] = 4.5 }), "number is a JSON number, want an integer"},
		{"number a string", "pull_request", edit(func(p map[string]any) { p["number"] = "42" }), "number is a JSON string, want an integer"},
		{"numbers disagree", "pull_request", edit(func(p map[string]any) { obj(p, "pull_request")["number"] = 43 }), "does not match pull_request.number 43"},
		{"updated_at missing", "pull_request", edit(func(p map[string]any) { delete(obj(p, "pull_request"), "updated_at") }), "no pull_request.updated_at"},
		{"updated_at malformed", "pull_request", edit(func(p map[string]any) { obj(p, "pull_request")["updated_at"] = "12/03/2024 11:40" }), `pull_request.updated_at "12/03/2024 11:40" is not an RFC 3339 time`},
		{"updated_at long and malformed", "pull_request", edit(func(p map[string]any) {
			obj(p, "pull_request")["updated_at"] = strings.Repeat("x", 1000)
		}), `"` + strings.Repeat("x", 40) + `…" is not an RFC 3339 time`},
		{"updated_at a number", "pull_request", edit(func(p map[string]any) { obj(p, "pull_request")["updated_at"] = 1710243603 }), "pull_request.updated_at is a JSON number, want a string"},
		{"labels not an array", "pull_request", edit(func(p map[string]any) { obj(p, "pull_request")["labels"] = "preview" }), "pull_request.labels is a JSON string, want an array"},
		{"installation id 0", "pull_request", edit(func(p map[string]any) { obj(p, "installation")["id"] = 0 }), "installation.id"},
		{"labeled without a label", "pull_request", mutate(t, "pull_request_labeled.json", func(p map[string]any) { delete(p, "label") }), "labeled payload has no label.name"},
		{"unlabeled with an empty label", "pull_request", mutate(t, "pull_request_unlabeled.json", func(p map[string]any) {
			obj(p, "label")["name"] = ""
		}), "unlabeled payload has no label.name"},
		{"label name not a string", "pull_request", mutate(t, "pull_request_labeled.json", func(p map[string]any) { obj(p, "label")["name"] = 7 }),
			"label.name is a JSON number, want a string"},
		{"comment without action", "issue_comment", mutate(t, "issue_comment_command.json", func(p map[string]any) { delete(p, "action") }), "issue_comment payload has no action"},
		{"command without issue number", "issue_comment", mutate(t, "issue_comment_command.json", func(p map[string]any) { delete(obj(p, "issue"), "number") }),
			"issue.number must be a positive integer"},
		{"command without comment id", "issue_comment", mutate(t, "issue_comment_command.json", func(p map[string]any) { obj(p, "comment")["id"] = 0 }),
			"comment.id must be a positive integer"},
		{"command without user", "issue_comment", mutate(t, "issue_comment_command.json", func(p map[string]any) { obj(p, "comment")["user"] = nil; p["sender"] = nil }),
			"no comment.user.login"},
		{"command without repository", "issue_comment", mutate(t, "issue_comment_command.json", func(p map[string]any) { delete(p, "repository") }),
			"no repository.full_name"},
		{"command with installation id 0", "issue_comment", mutate(t, "issue_comment_command.json", func(p map[string]any) { obj(p, "installation")["id"] = 0 }),
			"installation.id"},
		{"comment body not a string", "issue_comment", mutate(t, "issue_comment_plain.json", func(p map[string]any) { obj(p, "comment")["body"] = 1 }),
			"comment.body is a JSON number, want a string"},
		{"issue an array", "issue_comment", mutate(t, "issue_comment_plain.json", func(p map[string]any) { p["issue"] = []any{} }),
			"issue is a JSON array, want an object"},
		// Ignored actions are still type-checked: they claim to be pull_request events.
		{"ignored action, wrong type", "pull_request", mutate(t, "pull_request_labeled.json", func(p map[string]any) {
			obj(p, "pull_request")["draft"] = "no"
		}), "pull_request.draft is a JSON string, want a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.eventType, tt.body)
			var perr *preview.Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse() = %+v, %v; want a *preview.Error", got, err)
			}
			if perr.Code != preview.EINVALID {
				t.Errorf("Parse() code = %q, want %q", perr.Code, preview.EINVALID)
			}
			if !strings.Contains(perr.Message, tt.wantMsg) {
				t.Errorf("Parse() message = %q, want it to contain %q", perr.Message, tt.wantMsg)
			}
			if !reflect.DeepEqual(got, Event{}) {
				t.Errorf("Parse() event = %+v, want the zero Event", got)
			}
		})
	}
}

func TestParseIgnoredActionsNeedNoFields(t *testing.T) {
	// GitHub always sends the whole pull request, but previewd has no use
	// for an ignored action's fields, so it does not insist on them.
	body := []byte(`{"action":"assigned","number":0,"pull_request":{}}`)
	got, err := Parse("pull_request", body)
	want := Event{Kind: KindIgnored, Action: "assigned"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Parse() = %+v, %v; want %+v, nil", got, err, want)
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		kind Kind
		want string
	}{
		{KindIgnored, "ignored"},
		{KindPullRequest, "pull_request"},
		{KindCommand, "command"},
		{Kind(9), "Kind(9)"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(tt.kind), got, tt.want)
		}
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		userType string
		login    string
		want     Kind
		verb     string
		arg      string
	}{
		{"redeploy", "/preview redeploy", "User", "hubot", KindCommand, "redeploy", ""},
		{"destroy", "/preview destroy", "User", "hubot", KindCommand, "destroy", ""},
		{"extend", "/preview extend 3d", "User", "hubot", KindCommand, "extend", "3d"},
		{"keep", "/preview keep", "User", "hubot", KindCommand, "keep", ""},
		{"unkeep", "/preview unkeep", "User", "hubot", KindCommand, "unkeep", ""},
		{"help", "/preview help", "User", "hubot", KindCommand, "help", ""},
		{"bare prefix is help", "/preview", "User", "hubot", KindCommand, "help", ""},
		{"unknown verb is help", "/preview launch rockets", "User", "hubot", KindCommand, "help", ""},
		{"verb case ignored", "/preview ReDeploy", "User", "hubot", KindCommand, "redeploy", ""},
		{"spaces around", "   /preview   extend    2h   \r\nsecond line /preview destroy", "User", "hubot", KindCommand, "extend", "2h"},
		{"tab after the prefix", "/preview\tkeep", "User", "hubot", KindCommand, "keep", ""},
		{"long argument cut", "/preview extend " + strings.Repeat("é", 80), "User", "hubot", KindCommand, "extend", strings.Repeat("é", 50)},
		{"a longer word is no command", "/previewer redeploy", "User", "hubot", KindIgnored, "", ""},
		{"not on the first line", "thanks!\n/preview destroy", "User", "hubot", KindIgnored, "", ""},
		{"quoted", "> /preview destroy", "User", "hubot", KindIgnored, "", ""},
		{"in code", "`/preview destroy`", "User", "hubot", KindIgnored, "", ""},
		{"a bot", "/preview destroy", "Bot", "renovate[bot]", KindIgnored, "", ""},
		{"a bot by its login", "/preview destroy", "User", "previewd[bot]", KindIgnored, "", ""},
		{"an empty comment", "", "User", "hubot", KindIgnored, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := mutate(t, "issue_comment_command.json", func(p map[string]any) {
				c := obj(p, "comment")
				c["body"] = tt.body
				obj(c, "user")["type"] = tt.userType
				obj(c, "user")["login"] = tt.login
			})
			got, err := Parse("issue_comment", body)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if got.Kind != tt.want || got.Command.Verb != tt.verb || got.Command.Arg != tt.arg {
				t.Errorf("Parse() = %v %q %q, want %v %q %q", got.Kind, got.Command.Verb, got.Command.Arg, tt.want, tt.verb, tt.arg)
			}
			if tt.want == KindCommand && (got.Command.User != tt.login || got.Command.CommentID != 2011223344 || got.Command.Number != 42) {
				t.Errorf("Command = %+v, want user %s, comment 2011223344, number 42", got.Command, tt.login)
			}
			if tt.want == KindIgnored && !reflect.DeepEqual(got, Event{Kind: KindIgnored, Action: "created"}) {
				t.Errorf("Parse() = %+v, want a bare ignored event", got)
			}
		})
	}
}

func TestParseIgnoredCommentsNeedNoFields(t *testing.T) {
	for _, body := range []string{
		`{"action":"deleted","issue":{},"comment":{}}`,
		`{"action":"created","issue":{"number":3,"pull_request":null},"comment":{"body":"/preview destroy"}}`,
		`{"action":"created","issue":{"number":3,"pull_request":{}}}`,
	} {
		got, err := Parse("issue_comment", []byte(body))
		if err != nil || got.Kind != KindIgnored {
			t.Errorf("Parse(%s) = %+v, %v; want ignored", body, got, err)
		}
	}
}
