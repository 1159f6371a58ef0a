package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

// fakeRecorder records what the intake asks to store.
type fakeRecorder struct {
	prs  []preview.PullRequest
	cmds []preview.Command
	err  error
}

func (f *fakeRecorder) RecordPullRequest(_ context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error) {
	f.prs = append(f.prs, pr)
	return preview.RecordResult{Changed: true}, f.err
}

func (f *fakeRecorder) RecordCommand(_ context.Context, delivery string, cmd preview.Command) (bool, error) {
	f.cmds = append(f.cmds, cmd)
	return f.err == nil, f.err
}

// labeledFixture is pull_request_labeled.json with the label name and,
// when fork is set, the head in another repository.
func labeledFixture(t *testing.T, label string, fork bool) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(readFixture(t, "pull_request_labeled.json"), &d); err != nil {
		t.Fatal(err)
	}
	d["label"].(map[string]any)["name"] = label
	if fork {
		d["pull_request"].(map[string]any)["head"].(map[string]any)["repo"].(map[string]any)["full_name"] = "stranger/widgets"
	}
	out, _ := json.Marshal(d)
	return out
}

func TestIntakeRoutesEvents(t *testing.T) {
	secret := []byte("intake-secret")
	tests := []struct {
		name         string
		event        string
		body         func(t *testing.T) []byte
		serves       func(repo string) bool
		wantPRs      int
		wantCommands []string // verb:user
	}{
		{"labeled records the pull request", "pull_request", func(t *testing.T) []byte { return labeledFixture(t, "preview", false) }, nil, 1, nil},
		{"approval on a fork queues an approval of its head", "pull_request", func(t *testing.T) []byte { return labeledFixture(t, preview.ApprovalLabel, true) }, nil, 1, []string{"approve:mona"}},
		{"the approval label on a same-repository pull request is just a label", "pull_request", func(t *testing.T) []byte { return labeledFixture(t, preview.ApprovalLabel, false) }, nil, 1, nil},
		{"a command is queued", "issue_comment", func(t *testing.T) []byte { return readFixture(t, "issue_comment_command.json") }, nil, 0, []string{"extend:hubot"}},
		{"a bot's comment is ignored", "issue_comment", func(t *testing.T) []byte { return readFixture(t, "issue_comment_bot.json") }, nil, 0, nil},
		{"a served repository is recorded", "pull_request", func(t *testing.T) []byte { return labeledFixture(t, "preview", false) }, only("acme/widgets"), 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &fakeRecorder{}
			in := NewIntake(secret, rec, tt.serves)
			body := tt.body(t)
			res, err := in.Receive(context.Background(), preview.Delivery{ID: "d-1", Event: tt.event, Signature: Signature(secret, body), Body: body})
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			var got []string
			for _, c := range rec.cmds {
				got = append(got, c.Verb+":"+c.User)
				if c.Verb == "approve" && c.HeadSHA != "9f3c1e2b7a4d5c6e8f90a1b2c3d4e5f6a7b8c9d0" {
					t.Errorf("approval of head %q, want the labeled head", c.HeadSHA)
				}
			}
			if len(rec.prs) != tt.wantPRs || strings.Join(got, ",") != strings.Join(tt.wantCommands, ",") {
				t.Errorf("recorded %d pull requests and commands %v, want %d and %v", len(rec.prs), got, tt.wantPRs, tt.wantCommands)
			}
			if res.CommandQueued != (len(tt.wantCommands) > 0) {
				t.Errorf("CommandQueued = %v", res.CommandQueued)
			}
		})
	}
}

// only serves the repositories named.
func only(repos ...string) func(string) bool {
	return func(repo string) bool { return slices.Contains(repos, repo) }
}

func TestIntakeIgnoresUnservedRepositories(t *testing.T) {
	secret := []byte("intake-secret")
	tests := []struct {
		name  string
		event string
		body  func(t *testing.T) []byte
	}{
		{"an opened pull request", "pull_request", func(t *testing.T) []byte { return readFixture(t, "pull_request_opened.json") }},
		{"the approval label on a fork", "pull_request", func(t *testing.T) []byte { return labeledFixture(t, preview.ApprovalLabel, true) }},
		{"a command", "issue_comment", func(t *testing.T) []byte { return readFixture(t, "issue_comment_command.json") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &fakeRecorder{}
			var asked []string
			serves := func(repo string) bool { asked = append(asked, repo); return false }
			body := tt.body(t)
			res, err := NewIntake(secret, rec, serves).Receive(context.Background(), preview.Delivery{ID: "d-3", Event: tt.event, Signature: Signature(secret, body), Body: body})
			if err != nil || !reflect.DeepEqual(res, preview.Receipt{}) {
				t.Errorf("got %+v, %v; want a zero result and no error", res, err)
			}
			if len(rec.prs) != 0 || len(rec.cmds) != 0 {
				t.Errorf("recorded %d pull requests and %d commands, want the recorder never called", len(rec.prs), len(rec.cmds))
			}
			if want := []string{"acme/widgets"}; !slices.Equal(asked, want) {
				t.Errorf("asked whether %v is served, want %v", asked, want)
			}
		})
	}
}

func TestIntakeStoreFailure(t *testing.T) {
	secret := []byte("intake-secret")
	boom := errors.New("disk full")
	in := NewIntake(secret, &fakeRecorder{err: boom}, nil)
	body := readFixture(t, "issue_comment_command.json")
	_, err := in.Receive(context.Background(), preview.Delivery{ID: "d-2", Event: "issue_comment", Signature: Signature(secret, body), Body: body})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "delivery d-2") {
		t.Errorf("err = %v, want the store's error, naming the delivery", err)
	}
}
