package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/store/storetest"
)

func readLog(t *testing.T, r interface {
	RunLog(context.Context, string) (io.ReadCloser, error)
}, id string) string {
	t.Helper()
	rc, err := r.RunLog(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRunLogsAreSharedWhileWritten: a run's log written on one replica is
// read on another while it is being written (within the flush interval)
// and whole once closed, in order, chunk boundaries included; a writer
// whose lease was taken over is refused.
func TestRunLogsAreSharedWhileWritten(t *testing.T) {
	dbs := replicas(t, 2)
	a, b := dbs[0], dbs[1]
	ctx := context.Background()
	env := record(t, a, 1, "sha1")
	lease, ok, err := a.AcquireLease(ctx, env.Name, 500*time.Millisecond)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	lctx := preview.WithLease(ctx, lease)
	run, err := a.CreateRun(lctx, preview.Run{Environment: env.Name, Repo: env.Repo, PR: env.PR, State: preview.RunRunning, StartedAt: storetest.T0})
	if err != nil {
		t.Fatal(err)
	}
	w, err := a.OpenRunLog(lctx, run)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Initializing the backend...\n")
	deadline := time.Now().Add(5 * time.Second)
	for readLog(t, b, run.ID) != "Initializing the backend...\n" {
		if time.Now().After(deadline) {
			t.Fatalf("the other replica read %q while the run was writing", readLog(t, b, run.ID))
		}
		time.Sleep(50 * time.Millisecond)
	}
	big := strings.Repeat("terraform_data.app: Creating...\n", 5000) // several chunks
	io.WriteString(w, big)
	io.WriteString(w, "Apply complete!\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := readLog(t, b, run.ID), "Initializing the backend...\n"+big+"Apply complete!\n"; got != want {
		t.Errorf("log read back: %d bytes, want %d, in order", len(got), len(want))
	}
	if got := readLog(t, b, "nobody/0000000000000009"); got != "" {
		t.Errorf("a run without a log: %q", got)
	}

	time.Sleep(600 * time.Millisecond) // a's lease expires; b takes it
	if _, ok, err := b.AcquireLease(ctx, env.Name, time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	w, _ = a.OpenRunLog(lctx, run)
	io.WriteString(w, "late\n")
	if err := w.Close(); !errors.Is(err, preview.ErrLeaseLost) {
		t.Errorf("a log write after losing the lease: %v, want ErrLeaseLost", err)
	}
	if got := readLog(t, b, run.ID); bytes.Contains([]byte(got), []byte("late")) {
		t.Error("a fenced-off writer's log line was stored")
	}
}

// TestRunLogFromAnOffset reads a log of several chunks from offsets inside
// and between chunks, a few chunks per query.
func TestRunLogFromAnOffset(t *testing.T) {
	db := replicas(t, 1)[0]
	ctx := context.Background()
	env := record(t, db, 1, "sha1")
	run, err := db.CreateRun(ctx, preview.Run{Environment: env.Name, State: preview.RunRunning})
	if err != nil {
		t.Fatal(err)
	}
	var whole strings.Builder
	for i := range 40 { // more chunks than one query reads
		chunk := strings.Repeat(string(rune('a'+i%26)), 10+i)
		whole.WriteString(chunk)
		if err := db.AppendRunLog(ctx, run, []byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	for _, offset := range []int64{0, 5, 10, 11, 500, int64(whole.Len()) - 1, int64(whole.Len()), int64(whole.Len()) + 9} {
		r, err := db.RunLogFrom(ctx, run.ID, offset)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if offset < int64(whole.Len()) {
			want = whole.String()[offset:]
		}
		if string(got) != want {
			t.Errorf("from %d: %d bytes, want %d", offset, len(got), len(want))
		}
	}
}
