package webhooks

import (
	"context"
	"encoding/json"
	"errors"
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
		allow        []string
		wantPRs      int
		wantCommands []string // verb:user
	}{
		{"labeled records the pull request", "pull_request", func(t *testing.T) []byte { return labeledFixture(t, "preview", false) }, nil, 1, nil},
		{"approval on a fork queues an approval of its head", "pull_request", func(t *testing.T) []byte { return labeledFixture(t, preview.ApprovalLabel, true) }, nil, 1, []string{"approve:mona"}},
		{"the approval label on a same-repository pull request is just a label", "pull_request", func(t *testing.T) []byte { return labeledFixture(t, preview.ApprovalLabel, false) }, nil, 1, nil},
		{"a command is queued", "issue_comment", func(t *testing.T) []byte { return readFixture(t, "issue_comment_command.json") }, nil, 0, []string{"extend:hubot"}},
		{"a bot's comment is ignored", "issue_comment", func(t *testing.T) []byte { return readFixture(t, "issue_comment_bot.json") }, nil, 0, nil},
		{"a repository outside the allowlist is ignored", "pull_request", func(t *testing.T) []byte { return labeledFixture(t, "preview", false) }, []string{"other/*"}, 0, nil},
		{"an owner pattern allows", "pull_request", func(t *testing.T) []byte { return labeledFixture(t, "preview", false) }, []string{"ACME/*"}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &fakeRecorder{}
			in := NewIntake(secret, rec, tt.allow...)
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

func TestIntakeStoreFailure(t *testing.T) {
	secret := []byte("intake-secret")
	boom := errors.New("disk full")
	in := NewIntake(secret, &fakeRecorder{err: boom})
	body := readFixture(t, "issue_comment_command.json")
	_, err := in.Receive(context.Background(), preview.Delivery{ID: "d-2", Event: "issue_comment", Signature: Signature(secret, body), Body: body})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "delivery d-2") {
		t.Errorf("err = %v, want the store's error, naming the delivery", err)
	}
}
