package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

func TestAdminDriftCheck(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 5, "drift/x", "abc", time.Now())
	f.deliver(t, "pull_request", "dc1", body, sign(body))
	if resp, raw := f.api(t, "POST", "/api/v1/environments/drift-x/drift-check", token); resp.StatusCode != 409 {
		t.Errorf("a queued environment: got %d %s, want 409", resp.StatusCode, raw)
	}
	f.db.UpdateEnvironment(context.Background(), "drift-x", func(e *preview.Environment) error {
		e.Status, e.AppliedSHA = preview.StatusReady, e.HeadSHA
		return nil
	})
	if resp, raw := f.api(t, "POST", "/api/v1/environments/drift-x/drift-check", ""); resp.StatusCode != 401 {
		t.Errorf("without the token: got %d %s, want 401", resp.StatusCode, raw)
	}
	if resp, raw := f.api(t, "POST", "/api/v1/environments/nope/drift-check", token); resp.StatusCode != 404 {
		t.Errorf("an unknown environment: got %d %s, want 404", resp.StatusCode, raw)
	}
	if resp, raw := f.api(t, "POST", "/api/v1/environments/drift-x/drift-check", token); resp.StatusCode != 202 {
		t.Errorf("a ready environment: got %d %s, want 202", resp.StatusCode, raw)
	}
	f.ctrl.mu.Lock()
	defer f.ctrl.mu.Unlock()
	if !slices.Equal(f.ctrl.driftChecks, []string{"drift-x"}) {
		t.Errorf("drift checks queued: got %v, want [drift-x]", f.ctrl.driftChecks)
	}
}
