package controller_test

import (
	"context"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

func TestRunsCarryTheirPullRequest(t *testing.T) {
	h := start(t, &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) {
		return "http://x/", nil
	}}, nil)
	name := h.open(7, "aaa", time.Now())
	env := h.waitFor(name, "ready", readyAt("aaa"))
	run, err := h.db.FindRunByID(context.Background(), env.LastRunID)
	if err != nil {
		t.Fatalf("the apply's run: %v", err)
	}
	if run.Environment != name || run.Repo != "acme/shop" || run.PR != 7 {
		t.Errorf("run: got environment %q repo %q pr %d, want %s of acme/shop#7", run.Environment, run.Repo, run.PR, name)
	}
	if !run.BelongsTo(env) {
		t.Errorf("run %s does not belong to %s of %s#%d", run.ID, name, env.Repo, env.PR)
	}
}
