package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/store"
	"github.com/previewd/previewd/store/postgres"
	"github.com/previewd/previewd/store/storetest"
)

// TestStoreMigrate copies a populated bbolt store into PostgreSQL twice
// (the second copies nothing), finds the same environments, runs and
// commands there, then refuses a target whose data differs.
func TestStoreMigrate(t *testing.T) {
	dataDir := t.TempDir()
	src, err := store.Open(filepath.Join(dataDir, "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i := range 5 {
		res, err := src.RecordPullRequest(ctx, fmt.Sprintf("d%d", i), preview.PullRequest{Repo: "acme/shop", Number: i + 1, Open: true,
			HeadSHA: "sha", Branch: fmt.Sprintf("feature/%d", i), UpdatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		run, _ := src.CreateRun(ctx, preview.Run{Environment: res.Environment.Name, Repo: "acme/shop", PR: i + 1, Phase: preview.PhaseApply, State: preview.RunRunning})
		run.State = preview.RunSucceeded
		run.LogPath = filepath.Join(dataDir, "logs", run.ID+".log")
		os.MkdirAll(filepath.Dir(run.LogPath), 0o750)
		if err := os.WriteFile(run.LogPath, []byte("Apply complete! "+run.ID+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		src.UpdateRun(ctx, run)
	}
	src.RecordCommand(ctx, "c1", preview.Command{Repo: "acme/shop", Number: 1, Verb: "keep", User: "alice"})
	want, _, _ := storetest.ScanJSON(ctx, src, preview.EnvironmentFilter{})
	src.Close()

	url, _ := pgtest.Database(t)
	migrate := func() (int, string) {
		var out, errs bytes.Buffer
		code := run([]string{"store", "migrate", "--from", dataDir, "--to", url}, &out, &errs)
		return code, out.String() + errs.String()
	}
	if code, out := migrate(); code != 0 || !strings.Contains(out, "environments: 5 copied, 0 already there") || !strings.Contains(out, "runs: 5 copied") ||
		!strings.Contains(out, "run logs: 5 copied") {
		t.Fatalf("first migration: exit %d\n%s", code, out)
	}
	if code, out := migrate(); code != 0 || !strings.Contains(out, "environments: 0 copied, 5 already there") || !strings.Contains(out, "run logs: 0 copied") {
		t.Fatalf("second migration: exit %d\n%s", code, out)
	}
	dst, err := postgres.Open(ctx, url, postgres.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if got, _, err := storetest.ScanJSON(ctx, dst, preview.EnvironmentFilter{}); err != nil || !bytes.Equal(got, want) {
		t.Errorf("environments in PostgreSQL differ from bbolt's (%v):\n%s\nwant\n%s", err, got, want)
	}
	runs, err := dst.FindRuns(ctx, preview.RunFilter{Environment: "feature-0", Repo: "acme/shop", PR: 1})
	if err != nil || len(runs) != 1 || runs[0].State != preview.RunSucceeded {
		t.Fatalf("runs: %+v, %v", runs, err)
	}
	if rc, err := dst.RunLog(ctx, runs[0].ID); err != nil {
		t.Error(err)
	} else if log, _ := io.ReadAll(rc); string(log) != "Apply complete! "+runs[0].ID+"\n" {
		t.Errorf("the run's log in PostgreSQL: %q", log)
	}
	if cmds, err := dst.FindCommands(ctx); err != nil || len(cmds) != 1 || cmds[0].Verb != "keep" {
		t.Errorf("commands: %+v, %v", cmds, err)
	}
	// New runs continue the sequence.
	if r, err := dst.CreateRun(ctx, preview.Run{Environment: "feature-0", Repo: "acme/shop", PR: 1}); err != nil || r.ID != "feature-0/0000000000000006" {
		t.Errorf("a new run after the migration: %q, %v", r.ID, err)
	}

	dst.UpdateEnvironment(ctx, "feature-1", func(e *preview.Environment) error { e.URL = "https://changed.test/"; return nil })
	if code, out := migrate(); code != 1 || !strings.Contains(out, `environment "feature-1": the target already holds different data`) {
		t.Errorf("a target with different data: exit %d\n%s", code, out)
	}
}
