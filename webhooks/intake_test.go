package webhooks

import (
	"context"
	"errors"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

// recorderFunc and commandRecorderFunc are fakes of the two recorders.
type recorderFunc func(delivery string, pr preview.PullRequest) (preview.RecordResult, error)

func (f recorderFunc) RecordPullRequest(_ context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error) {
	return f(delivery, pr)
}

type commandRecorderFunc func(delivery string, cmd preview.Command) (preview.RecordResult, error)

func (f commandRecorderFunc) RecordCommand(_ context.Context, delivery string, cmd preview.Command) (preview.RecordResult, error) {
	return f(delivery, cmd)
}

func TestIntakeRoutesEvents(t *testing.T) {
	secret := []byte("intake-secret")
	tests := []struct {
		name         string
		event        string
		fixture      string
		withCommands bool
		wantPRs      int
		wantCommands int
	}{
		{"labeled records the pull request", "pull_request", "pull_request_labeled.json", true, 1, 0},
		{"a command is recorded", "issue_comment", "issue_comment_command.json", true, 0, 1},
		{"a command is dropped without a command recorder", "issue_comment", "issue_comment_command.json", false, 0, 0},
		{"a bot's comment is ignored", "issue_comment", "issue_comment_bot.json", true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prs, cmds int
			in := NewIntake(secret, recorderFunc(func(delivery string, pr preview.PullRequest) (preview.RecordResult, error) {
				prs++
				return preview.RecordResult{Changed: true}, nil
			}))
			if tt.withCommands {
				in = in.WithCommands(commandRecorderFunc(func(delivery string, cmd preview.Command) (preview.RecordResult, error) {
					cmds++
					if delivery != "d-1" || cmd.Verb != "extend" || cmd.User != "hubot" {
						t.Errorf("RecordCommand(%q, %+v), want delivery d-1, extend by hubot", delivery, cmd)
					}
					return preview.RecordResult{Changed: true}, nil
				}))
			}
			body := readFixture(t, tt.fixture)
			_, err := in.Receive(context.Background(), preview.Delivery{ID: "d-1", Event: tt.event, Signature: Signature(secret, body), Body: body})
			if err != nil {
				t.Fatalf("Receive: %v", err)
			}
			if prs != tt.wantPRs || cmds != tt.wantCommands {
				t.Errorf("recorded %d pull requests and %d commands, want %d and %d", prs, cmds, tt.wantPRs, tt.wantCommands)
			}
		})
	}
}

func TestIntakeCommandStoreFailure(t *testing.T) {
	secret := []byte("intake-secret")
	boom := errors.New("disk full")
	in := NewIntake(secret, nil).WithCommands(commandRecorderFunc(func(string, preview.Command) (preview.RecordResult, error) {
		return preview.RecordResult{}, boom
	}))
	body := readFixture(t, "issue_comment_command.json")
	_, err := in.Receive(context.Background(), preview.Delivery{ID: "d-2", Event: "issue_comment", Signature: Signature(secret, body), Body: body})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "delivery d-2") {
		t.Errorf("err = %v, want the store's error, naming the delivery", err)
	}
}
