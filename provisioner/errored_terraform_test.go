package provisioner

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErroredStateIsKeptAndPushed simulates a run that changed resources but
// could not write state: the state on disk is older than reality and the
// truth is in errored.tfstate. The next run must keep a copy, push it, and
// not create the resource a second time.
func TestErroredStateIsKeptAndPushed(t *testing.T) {
	p, dataDir := newTestProvisioner(t, fixture("counter"))
	ctx := context.Background()
	env := testEnv("errored", "a")
	if _, err := p.Apply(ctx, env, nil); err != nil {
		t.Fatal(err)
	}
	ws := p.workspace(env.Name)
	statePath := ws.statePath()
	current, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	// errored.tfstate: the real state, one serial ahead.
	var st map[string]any
	json.Unmarshal(current, &st)
	st["serial"] = st["serial"].(float64) + 1
	errored, _ := json.Marshal(st)
	os.WriteFile(filepath.Join(ws.copyRoot(), erroredState), errored, 0o600)
	// The state on disk: as if the resource had never been recorded.
	st["serial"] = st["serial"].(float64) - 1
	st["resources"] = []any{}
	stale, _ := json.Marshal(st)
	os.WriteFile(statePath, stale, 0o600)

	var log bytes.Buffer
	if _, err := p.Apply(ctx, env, &log); err != nil {
		t.Fatalf("apply after errored state: %v\n%s", err, log.String())
	}
	creations, _ := os.ReadFile(filepath.Join(ws.copyRoot(), "creations.txt"))
	if n := strings.Count(string(creations), "created"); n != 1 {
		t.Errorf("resource created %d times, want once: the errored state was not pushed", n)
	}
	kept, _ := filepath.Glob(filepath.Join(dataDir, "errored", "errored-*.tfstate"))
	if len(kept) != 1 {
		t.Fatalf("kept copies: got %v, want one", kept)
	}
	if _, err := os.Stat(filepath.Join(ws.copyRoot(), erroredState)); !os.IsNotExist(err) {
		t.Errorf("errored.tfstate still in the working directory after a successful push")
	}
	if err := p.Destroy(ctx, env, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kept[0]); err != nil {
		t.Errorf("the kept copy is gone after destroy: %v", err)
	}
}

// TestErroredStateOfAnotherLineageFailsTheRunAndIsKept refuses to push a
// state that does not belong to the environment.
func TestErroredStateOfAnotherLineageFailsTheRunAndIsKept(t *testing.T) {
	p, dataDir := newTestProvisioner(t, fixture("counter"))
	ctx := context.Background()
	env := testEnv("lineage", "a")
	if _, err := p.Apply(ctx, env, nil); err != nil {
		t.Fatal(err)
	}
	ws := p.workspace(env.Name)
	current, _ := os.ReadFile(ws.statePath())
	var st map[string]any
	json.Unmarshal(current, &st)
	st["lineage"] = "00000000-0000-0000-0000-000000000000"
	st["serial"] = st["serial"].(float64) + 5
	other, _ := json.Marshal(st)
	os.WriteFile(filepath.Join(ws.copyRoot(), erroredState), other, 0o600)
	_, err := p.Apply(ctx, env, nil)
	if err == nil || !strings.Contains(err.Error(), "could not be pushed") {
		t.Fatalf("got %v, want the push refused", err)
	}
	if kept, _ := filepath.Glob(filepath.Join(dataDir, "errored", "*.tfstate")); len(kept) != 1 {
		t.Errorf("kept copies: got %v", kept)
	}
	if _, err := os.Stat(filepath.Join(ws.copyRoot(), erroredState)); err != nil {
		t.Errorf("errored.tfstate removed although it was not pushed: %v", err)
	}
}
