package waittest

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// failRecorder is a testing.TB whose Fatalf records the failure and ends
// the goroutine, as testing.T's does.
type failRecorder struct {
	testing.TB
	failure string
}

func (f *failRecorder) Helper() {}

func (f *failRecorder) Fatalf(format string, args ...any) {
	f.failure = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// failure runs wait on a goroutine of its own with a failRecorder and
// returns the failure it reported ("" if none).
func failure(wait func(testing.TB)) string {
	f := &failRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait(f)
	}()
	<-done
	return f.failure
}

func TestForReturnsWhatItSawHold(t *testing.T) {
	var n atomic.Int32
	got := For(t, "three reads", func() int32 { return n.Add(1) }, func(v int32) bool { return v == 3 })
	if got != 3 {
		t.Errorf("got %d, want 3", got)
	}
}

func TestForWithinFailsWithWhatItSawLast(t *testing.T) {
	got := failure(func(tb testing.TB) {
		ForWithin(tb, 20*time.Millisecond, "the answer", func() string { return "still 41" }, func(s string) bool { return s == "42" })
	})
	if !strings.Contains(got, "the answer") || !strings.Contains(got, "still 41") {
		t.Errorf("failure: got %q, want what was awaited and what was seen", got)
	}
}

func TestRecv(t *testing.T) {
	ch := make(chan string, 1)
	ch <- "passed"
	if got := Recv(t, "a pass", ch); got != "passed" {
		t.Errorf("got %q, want passed", got)
	}
}
