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
