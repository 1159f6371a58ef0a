package controller_test

import (
	"context"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

func TestIdleEnvironmentExpires(t *testing.T) {
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil }}
	h := start(t, prov, nil)
	t0 := time.Now()
	name := h.open(1, "a", t0)
	h.waitFor(name, "ready", readyAt("a"))
	later := t0.Add(2 * time.Hour) // TTL is 1h
	h.now.Store(&later)
	env := h.waitFor(name, "destroyed on expiry", func(e preview.Environment) bool { return e.Status == preview.StatusDestroyed })
	if env.Desired.Reason != "expired" {
		t.Errorf("reason: got %q want expired", env.Desired.Reason)
	}
}

func TestPinnedEnvironmentLastsUntilMaxKeep(t *testing.T) {
	prov := &fakeProvisioner{apply: func(ctx context.Context, env preview.Environment) (string, error) { return "http://x/", nil }}
	h := start(t, prov, nil)
	t0 := time.Now()
	res, err := h.db.RecordPullRequest(context.Background(), "", preview.PullRequest{
		Repo: "acme/shop", Number: 1, Open: true, HeadSHA: "a", Branch: "keep", UpdatedAt: t0, Labels: []string{"preview:keep"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.ctrl.Nudge(res.Environment.Name)
	h.waitFor("keep", "ready", readyAt("a"))
	later := t0.Add(2 * time.Hour) // past the 1h TTL, within the 3h max keep
	h.now.Store(&later)
	h.waitPasses("expiry", 2) // one looked at it at 2h
	if env, _ := h.db.FindEnvironmentByName(context.Background(), "keep"); !env.Desired.Present {
		t.Fatalf("pinned environment expired after 2h; want it kept until 3h")
	}
	muchLater := t0.Add(4 * time.Hour)
	h.now.Store(&muchLater)
	h.waitFor("keep", "destroyed after max keep", func(e preview.Environment) bool { return e.Status == preview.StatusDestroyed })
}
