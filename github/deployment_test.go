package github

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	preview "github.com/previewd/previewd"
)

func TestLogURL(t *testing.T) {
	tests := []struct{ public, run, want string }{
		{"https://previewd.example.com", "feature-login/3", "https://previewd.example.com/api/v1/environments/feature-login/runs/3/log"},
		{"https://previewd.example.com/base/", "feature-login/3", "https://previewd.example.com/base/api/v1/environments/feature-login/runs/3/log"},
		{"", "feature-login/3", ""},
		{"https://previewd.example.com", "", ""},
		{"https://previewd.example.com", "no-seq", ""},
		{"https://previewd.example.com", "a/b/c", ""},
		{"https://previewd.example.com", "/3", ""},
	}
	for _, tt := range tests {
		if got := LogURL(tt.public, tt.run); got != tt.want {
			t.Errorf("LogURL(%q, %q) = %q, want %q", tt.public, tt.run, got, tt.want)
		}
	}
}

func TestPlanDeployment(t *testing.T) {
	const a, b = "aaaa111aaaa", "bbbb222bbbb"
	wanted := preview.Desired{Present: true, PROpen: true}
	env := func(status preview.Status, head, applied string, dep preview.Deployment) preview.Environment {
		return preview.Environment{Status: status, HeadSHA: head, AppliedSHA: applied, Deployment: dep, Desired: wanted}
	}
	tests := []struct {
		name string
		env  preview.Environment
		want deploymentPlan
	}{
		{"queued without a deployment: nothing yet", env(preview.StatusQueued, a, "", preview.Deployment{}),
			deploymentPlan{}},
		{"provisioning creates one", env(preview.StatusProvisioning, a, "", preview.Deployment{}),
			deploymentPlan{create: a, state: "in_progress", next: preview.Deployment{SHA: a, State: "in_progress"}}},
		{"ready on the same SHA posts success", env(preview.StatusReady, a, a, preview.Deployment{ID: 1, SHA: a, State: "in_progress"}),
			deploymentPlan{state: "success", next: preview.Deployment{ID: 1, SHA: a, State: "success"}}},
		{"already shown: nothing", env(preview.StatusReady, a, a, preview.Deployment{ID: 1, SHA: a, State: "success"}),
			deploymentPlan{next: preview.Deployment{ID: 1, SHA: a, State: "success"}}},
		{"a redeploy of the same SHA goes back to in_progress", env(preview.StatusQueued, a, a, preview.Deployment{ID: 1, SHA: a, State: "success"}),
			deploymentPlan{state: "in_progress", next: preview.Deployment{ID: 1, SHA: a, State: "in_progress"}}},
		{"a new head retires the old deployment", env(preview.StatusProvisioning, b, a, preview.Deployment{ID: 1, SHA: a, State: "success"}),
			deploymentPlan{retire: true, create: b, state: "in_progress", next: preview.Deployment{SHA: b, State: "in_progress"}}},
		{"a new head queued keeps the old deployment", env(preview.StatusQueued, b, a, preview.Deployment{ID: 1, SHA: a, State: "success"}),
			deploymentPlan{next: preview.Deployment{ID: 1, SHA: a, State: "success"}}},
		{"ready is about the applied SHA", env(preview.StatusReady, b, a, preview.Deployment{ID: 1, SHA: a, State: "in_progress"}),
			deploymentPlan{state: "success", next: preview.Deployment{ID: 1, SHA: a, State: "success"}}},
		{"failed without a deployment creates one", env(preview.StatusFailed, a, "", preview.Deployment{}),
			deploymentPlan{create: a, state: "failure", next: preview.Deployment{SHA: a, State: "failure"}}},
		{"destroying: nothing", env(preview.StatusDestroying, a, a, preview.Deployment{ID: 1, SHA: a, State: "success"}),
			deploymentPlan{next: preview.Deployment{ID: 1, SHA: a, State: "success"}}},
		{"destroyed makes the last one inactive", env(preview.StatusDestroyed, a, a, preview.Deployment{ID: 1, SHA: a, State: "success"}),
			deploymentPlan{retire: true, next: preview.Deployment{ID: 1, SHA: a, State: "inactive"}}},
		{"destroyed twice: nothing", env(preview.StatusDestroyed, a, a, preview.Deployment{ID: 1, SHA: a, State: "inactive"}),
			deploymentPlan{next: preview.Deployment{ID: 1, SHA: a, State: "inactive"}}},
		{"destroyed without a deployment: nothing", env(preview.StatusDestroyed, a, "", preview.Deployment{}),
			deploymentPlan{}},
		{"not wanted (closed, not yet destroying): nothing", func() preview.Environment {
			e := env(preview.StatusReady, a, a, preview.Deployment{ID: 1, SHA: a, State: "in_progress"})
			e.Desired.Present = false
			return e
		}(), deploymentPlan{next: preview.Deployment{ID: 1, SHA: a, State: "in_progress"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := planDeployment(tt.env); got != tt.want {
				t.Errorf("planDeployment = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSyncDeploymentPartialFailure(t *testing.T) {
	f := newFakeGitHub(t, "")
	for range DefaultMaxAttempts {
		f.failOnce("POST", "/repos/acme/shop/deployments/1000001/statuses", 500, "")
	}
	c := newTestClient(t, f, nil)
	env := testEnv()
	env.Status, env.Desired = preview.StatusProvisioning, preview.Desired{Present: true, PROpen: true}

	got, err := c.SyncDeployment(context.Background(), env)
	if preview.ErrorCode(err) != preview.EUNAVAILABLE || !strings.Contains(err.Error(), "post in_progress status on deployment 1000001") {
		t.Fatalf("err = %v, want unavailable naming the status", err)
	}
	// The deployment exists: the state returned says so, so the next try
	// posts the status instead of creating a second deployment.
	if want := (preview.Deployment{ID: 1000001, SHA: env.HeadSHA}); got != want {
		t.Errorf("deployment = %+v, want %+v", got, want)
	}
	env.Deployment = got
	if got, err = c.SyncDeployment(context.Background(), env); err != nil {
		t.Fatalf("retry: %v", err)
	}
	deployments, statuses, _, _ := f.snapshot()
	if len(deployments) != 1 || len(statuses) != 1 || got.State != "in_progress" {
		t.Errorf("after retry: %d deployments, %d statuses, state %q; want 1, 1, in_progress", len(deployments), len(statuses), got.State)
	}
}

func TestSyncDeploymentIgnoresOfflineState(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	env := testEnv()
	env.Status, env.AppliedSHA, env.Desired = preview.StatusReady, env.HeadSHA, preview.Desired{Present: true, PROpen: true}
	env.Deployment = preview.Deployment{SHA: env.HeadSHA, State: "success"} // written in offline mode: ID 0
	got, err := c.SyncDeployment(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == 0 || got.State != "success" {
		t.Errorf("deployment = %+v, want a real one showing success", got)
	}
}

func TestPlanCommitStatus(t *testing.T) {
	long := "https://" + strings.Repeat("x", 200) + ".example.com"
	tests := []struct {
		name    string
		edit    func(e *preview.Environment)
		want    commitStatusPlan
		wantDue bool
	}{
		{"queued", func(e *preview.Environment) {}, commitStatusPlan{"abc1234567890", "pending", "Preview of abc1234 is queued"}, true},
		{"waiting for checks", func(e *preview.Environment) {
			e.Checks = preview.Checks{SHA: e.HeadSHA, Waiting: []string{"build-image", "ci/e2e"}}
		}, commitStatusPlan{"abc1234567890", "pending", "Preview of abc1234 waits for checks: build-image, ci/e2e"}, true},
		{"waiting for an older head's checks", func(e *preview.Environment) {
			e.Checks = preview.Checks{SHA: "0ld", Waiting: []string{"build-image"}}
		}, commitStatusPlan{"abc1234567890", "pending", "Preview of abc1234 is queued"}, true},
		{"provisioning", func(e *preview.Environment) { e.Status = preview.StatusProvisioning },
			commitStatusPlan{"abc1234567890", "pending", "Preview of abc1234 is being built"}, true},
		{"ready on the applied SHA", func(e *preview.Environment) {
			e.Status, e.AppliedSHA, e.URL = preview.StatusReady, "0ff1ce0000", "https://x.example.com"
		}, commitStatusPlan{"0ff1ce0000", "success", "Preview of 0ff1ce0 is ready at https://x.example.com"}, true},
		{"failed", func(e *preview.Environment) { e.Status = preview.StatusFailed },
			commitStatusPlan{"abc1234567890", "failure", "Preview of abc1234 failed to deploy; see the log"}, true},
		{"destroying", func(e *preview.Environment) { e.Status = preview.StatusDestroying }, commitStatusPlan{}, false},
		{"destroyed", func(e *preview.Environment) { e.Status = preview.StatusDestroyed }, commitStatusPlan{}, false},
		{"closed", func(e *preview.Environment) { e.Desired.PROpen = false }, commitStatusPlan{}, false},
		{"not wanted", func(e *preview.Environment) { e.Status, e.Desired.Present = preview.StatusFailed, false }, commitStatusPlan{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv()
			env.Desired = preview.Desired{Present: true, PROpen: true}
			tt.edit(&env)
			got, due := planCommitStatus(env)
			if got != tt.want || due != tt.wantDue {
				t.Errorf("planCommitStatus = %+v, %v; want %+v, %v", got, due, tt.want, tt.wantDue)
			}
		})
	}
	env := testEnv()
	env.Status, env.AppliedSHA, env.URL, env.Desired = preview.StatusReady, env.HeadSHA, long, preview.Desired{Present: true, PROpen: true}
	if got, _ := planCommitStatus(env); utf8.RuneCountInString(got.description) > maxDescription {
		t.Errorf("description is %d characters, want at most %d", utf8.RuneCountInString(got.description), maxDescription)
	}
}

func TestSyncCommitStatus(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil) // no PublicURL: no target_url
	env := testEnv()
	env.Desired = preview.Desired{Present: true, PROpen: true}
	env.LastRunID = "feature-login/1"
	env.Status = preview.StatusProvisioning

	got, err := c.SyncCommitStatus(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if want := (preview.CommitStatus{SHA: env.HeadSHA, State: "pending"}); got != want {
		t.Errorf("status = %+v, want %+v", got, want)
	}
	env.CommitStatus = got
	if again, err := c.SyncCommitStatus(context.Background(), env); err != nil || again != got {
		t.Errorf("second sync = %+v, %v; want the same, nothing sent", again, err)
	}
	_, _, statuses, _ := f.snapshot()
	want := []map[string]any{{"sha": env.HeadSHA, "state": "pending", "context": "previewd", "description": "Preview of abc1234 is being built"}}
	if !reflect.DeepEqual(statuses, want) {
		t.Errorf("statuses = %v, want %v", statuses, want)
	}

	env.HeadSHA = "main?x=1"
	if _, err := c.SyncCommitStatus(context.Background(), env); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("a SHA that is not one: err = %v, want invalid", err)
	}
	wantRequests(t, f, "POST /repos/acme/shop/statuses/abc1234567890")
}

func TestSyncParityStatus(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	env := testEnv()
	env.Desired = preview.Desired{Present: true, PROpen: true}
	if got, err := c.SyncParityStatus(context.Background(), env); err != nil || got != (preview.CommitStatus{}) {
		t.Fatalf("before any check: got %+v %v, want nothing posted", got, err)
	}
	env.Parity = preview.ParityReport{Status: preview.ParityDrift, SHA: env.HeadSHA, Findings: []preview.Finding{
		{Kind: preview.FindingVariable, Subject: "database_engine_version", Declared: false},
		{Kind: preview.FindingVariable, Subject: "instance_count", Declared: true, Reason: "scale"},
	}}
	got, err := c.SyncParityStatus(context.Background(), env)
	if err != nil || got != (preview.CommitStatus{SHA: env.HeadSHA, State: "failure"}) {
		t.Fatalf("drift: got %+v %v, want failure", got, err)
	}
	env.ParityStatus = got
	env.Parity.Status, env.Parity.Findings = preview.ParityOK, env.Parity.Findings[1:]
	if got, err = c.SyncParityStatus(context.Background(), env); err != nil || got.State != "success" {
		t.Fatalf("parity: got %+v %v, want success", got, err)
	}
	_, _, statuses, _ := f.snapshot()
	want := []map[string]any{
		{"sha": env.HeadSHA, "state": "failure", "context": "previewd/parity", "description": "1 undeclared difference(s) from production"},
		{"sha": env.HeadSHA, "state": "success", "context": "previewd/parity", "description": "Differs from production only where declared (1 declared)"},
	}
	if !reflect.DeepEqual(statuses, want) {
		t.Errorf("statuses = %v, want %v", statuses, want)
	}
}

func TestSyncDeploymentAdoptsOneCreatedBefore(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	env := testEnv()
	env.Desired = preview.Desired{Present: true, PROpen: true}
	env.Status = preview.StatusProvisioning
	first, err := c.SyncDeployment(context.Background(), env)
	if err != nil || first.ID == 0 {
		t.Fatalf("first sync: %+v %v", first, err)
	}
	// previewd lost what it wrote (a crash before storing the ID).
	again, err := c.SyncDeployment(context.Background(), env)
	if err != nil || again.ID != first.ID {
		t.Errorf("sync after losing the ID: got %+v %v, want deployment %d adopted", again, err, first.ID)
	}
	if deployments, _, _, _ := f.snapshot(); len(deployments) != 1 {
		t.Errorf("deployments created: %d, want 1", len(deployments))
	}
}

func TestSyncDeploymentNeverAdoptsAnotherToolsDeployment(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	env := testEnv()
	env.Desired = preview.Desired{Present: true, PROpen: true}
	env.Status = preview.StatusProvisioning
	// CI deployed the same commit to a GitHub environment of the same name.
	f.mu.Lock()
	f.nextID++
	f.deployments = append(f.deployments, map[string]any{"id": f.nextID, "ref": env.HeadSHA, "environment": env.Name})
	ci := f.nextID
	f.mu.Unlock()
	got, err := c.SyncDeployment(context.Background(), env)
	if err != nil || got.ID == ci || got.ID == 0 {
		t.Errorf("got deployment %+v (err %v); want a new one of previewd's, not CI's %d", got, err, ci)
	}
}
