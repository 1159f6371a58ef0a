package webhooks

import (
	"context"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

// Payloads shaped as GitHub sends them (trimmed to the fields around those
// previewd reads).
const (
	checkRunCompleted   = `{"action":"completed","check_run":{"id":4,"name":"build-image","head_sha":"ce587453ced02b1526dfb4cb910479d431683101","status":"completed","conclusion":"success","check_suite":{"id":5,"head_branch":"feature"}},"repository":{"id":1,"full_name":"acme/shop"},"sender":{"login":"github-actions[bot]"},"installation":{"id":99}}`
	checkSuiteCompleted = `{"action":"completed","check_suite":{"id":5,"head_branch":"feature","head_sha":"ce587453ced02b1526dfb4cb910479d431683101","status":"completed","conclusion":"failure"},"repository":{"id":1,"full_name":"acme/shop"},"sender":{"login":"octocat"}}`
	statusFailure       = `{"id":6,"sha":"ce587453ced02b1526dfb4cb910479d431683101","name":"acme/shop","context":"ci/build-image","state":"failure","repository":{"id":1,"full_name":"acme/shop"},"sender":{"login":"jenkins"}}`
)

func TestParseChecks(t *testing.T) {
	want := preview.Commit{Repo: "acme/shop", SHA: "ce587453ced02b1526dfb4cb910479d431683101"}
	for event, body := range map[string]string{"check_run": checkRunCompleted, "check_suite": checkSuiteCompleted, "status": statusFailure} {
		ev, err := Parse(event, []byte(body))
		if err != nil || ev.Kind != KindChecks || ev.Checks != want {
			t.Errorf("%s: got %+v, %v; want the commit %+v", event, ev, err, want)
		}
	}
	bad := []struct{ event, body, want string }{
		{"check_run", `{"action":"completed","repository":{"full_name":"acme/shop"}}`, "check_run event without check_run"},
		{"check_suite", `{"action":"completed","check_suite":{"head_sha":""},"repository":{"full_name":"acme/shop"}}`, "check_suite event without a head commit"},
		{"status", `{"sha":"abc","state":"success"}`, "status event without repository.full_name"},
		{"status", `{"sha":12,"repository":{"full_name":"acme/shop"}}`, "sha"},
	}
	for _, b := range bad {
		_, err := Parse(b.event, []byte(b.body))
		if preview.ErrorCode(err) != preview.EINVALID || !strings.Contains(preview.ErrorMessage(err), b.want) {
			t.Errorf("%s %s: got %v, want EINVALID saying %q", b.event, b.body, err, b.want)
		}
	}
}

// TestIntakeChecks acknowledges a check event of a served repository with
// the commit to read again, records nothing, and ignores one of another.
func TestIntakeChecks(t *testing.T) {
	rec := &countingRecorder{}
	in := NewIntake([]byte("s3cret"), rec, func(repo string) bool { return repo == "acme/shop" })
	body := []byte(checkRunCompleted)
	res, err := in.Receive(context.Background(), preview.Delivery{ID: "d-1", Event: "check_run", Signature: Signature([]byte("s3cret"), body), Body: body})
	if err != nil || res.ChecksOf.SHA != "ce587453ced02b1526dfb4cb910479d431683101" || res.ChecksOf.Repo != "acme/shop" {
		t.Errorf("got %+v, %v", res, err)
	}
	other := []byte(strings.ReplaceAll(checkRunCompleted, "acme/shop", "acme/other"))
	res, err = in.Receive(context.Background(), preview.Delivery{ID: "d-2", Event: "check_run", Signature: Signature([]byte("s3cret"), other), Body: other})
	if err != nil || res.ChecksOf != (preview.Commit{}) {
		t.Errorf("another repository: got %+v, %v; want it ignored", res, err)
	}
	if rec.calls != 0 {
		t.Errorf("check events recorded %d things; want none", rec.calls)
	}
}

// countingRecorder counts what is recorded.
type countingRecorder struct{ calls int }

func (r *countingRecorder) RecordPullRequest(context.Context, string, preview.PullRequest) (preview.RecordResult, error) {
	r.calls++
	return preview.RecordResult{}, nil
}
func (r *countingRecorder) RecordCommand(context.Context, string, preview.Command) (bool, error) {
	r.calls++
	return false, nil
}

func TestParsePush(t *testing.T) {
	ev, err := Parse("push", []byte(`{"ref":"refs/heads/main","before":"0a","after":"1b","deleted":false,"repository":{"full_name":"acme/infra"},"pusher":{"name":"octocat"}}`))
	if err != nil || ev.Kind != KindPush || ev.Pushed != (preview.Commit{Repo: "acme/infra", SHA: "1b"}) {
		t.Errorf("a push to main: %+v, %v", ev, err)
	}
	for _, body := range []string{
		`{"ref":"refs/tags/v1","after":"1b","repository":{"full_name":"acme/infra"}}`,
		`{"ref":"refs/heads/old","after":"0000000000000000000000000000000000000000","deleted":true,"repository":{"full_name":"acme/infra"}}`,
	} {
		if ev, err := Parse("push", []byte(body)); err != nil || ev.Kind != KindIgnored {
			t.Errorf("%s: %+v, %v; want it ignored", body, ev, err)
		}
	}
	if _, err := Parse("push", []byte(`{"ref":"refs/heads/main"}`)); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("a push without its repository: %v, want EINVALID", err)
	}
}

// TestButtonsAndReRunsAreCommands: a button on previewd's own check runs,
// or "Re-run" in GitHub's interface, is a command of the sender's, to be
// permission-checked like a comment's; the same actions on another App's
// run, an unknown button, or a fork's pull request (which GitHub does not
// name) are not.
func TestButtonsAndReRunsAreCommands(t *testing.T) {
	run := func(action, name, extra, prs string) string {
		return `{"action":"` + action + `","check_run":{"id":77,"name":"` + name + `","head_sha":"ce587453ced02b1526dfb4cb910479d431683101","pull_requests":` + prs +
			`},"repository":{"full_name":"acme/shop"},"sender":{"login":"octocat"},"installation":{"id":99}` + extra + `}`
	}
	pr := `[{"number":42,"head":{"sha":"ce58745"}}]`
	tests := []struct {
		name, event, body string
		want              *preview.Command
	}{
		{"Redeploy button", "check_run", run("requested_action", "previewd", `,"requested_action":{"identifier":"redeploy"}`, pr),
			&preview.Command{Repo: "acme/shop", Number: 42, User: "octocat", Verb: "redeploy", InstallationID: 99, CheckRun: "previewd", CheckRunID: 77}},
		{"Re-check button", "check_run", run("requested_action", "previewd/parity", `,"requested_action":{"identifier":"recheck"}`, pr),
			&preview.Command{Repo: "acme/shop", Number: 42, User: "octocat", Verb: "recheck", InstallationID: 99, CheckRun: "previewd/parity", CheckRunID: 77}},
		{"Re-run of previewd", "check_run", run("rerequested", "previewd", "", pr),
			&preview.Command{Repo: "acme/shop", Number: 42, User: "octocat", Verb: "redeploy", InstallationID: 99, CheckRun: "previewd", CheckRunID: 77}},
		{"Re-run of previewd/parity", "check_run", run("rerequested", "previewd/parity", "", pr),
			&preview.Command{Repo: "acme/shop", Number: 42, User: "octocat", Verb: "recheck", InstallationID: 99, CheckRun: "previewd/parity", CheckRunID: 77}},
		{"Re-run all", "check_suite", `{"action":"rerequested","check_suite":{"id":5,"head_sha":"ce587453ced02b1526dfb4cb910479d431683101","pull_requests":` + pr +
			`},"repository":{"full_name":"acme/shop"},"sender":{"login":"octocat"},"installation":{"id":99}}`,
			&preview.Command{Repo: "acme/shop", Number: 42, User: "octocat", Verb: "redeploy", InstallationID: 99}},
		{"an unknown button", "check_run", run("requested_action", "previewd", `,"requested_action":{"identifier":"destroy"}`, pr), nil},
		{"another App's run", "check_run", run("rerequested", "build-image", "", pr), nil},
		{"a fork's pull request", "check_run", run("rerequested", "previewd", "", "[]"), nil},
	}
	for _, tt := range tests {
		ev, err := Parse(tt.event, []byte(tt.body))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		switch {
		case tt.want != nil && (ev.Kind != KindCommand || ev.Command != *tt.want || ev.Sender != "octocat"):
			t.Errorf("%s: got %+v, want the command %+v", tt.name, ev, *tt.want)
		case tt.want == nil && ev.Kind == KindCommand:
			t.Errorf("%s: got the command %+v, want none", tt.name, ev.Command)
		}
	}
	if _, err := Parse("check_run", []byte(`{"action":"rerequested","check_run":{"id":7,"name":"previewd","head_sha":"abc","pull_requests":[{"number":4}]},"repository":{"full_name":"acme/shop"}}`)); preview.ErrorCode(err) != preview.EINVALID || !strings.Contains(err.Error(), "sender.login") {
		t.Errorf("a re-run without a sender: %v, want EINVALID naming sender.login", err)
	}
}
