// Package waittest waits, in tests, for what the code under test does: it
// reads something again and again until a condition holds of it, or
// receives from a channel, and fails the test at a deadline with what it
// saw last. A test that checks that something did not happen waits here
// for proof that the code moved past the point where it would have (a
// later pass finished, a queue drained), never for a fixed sleep.
package waittest

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// Timeout is how long Until, For and Recv wait before they fail the test.
// Only a failing test waits that long.
const Timeout = 30 * time.Second

// How often a wait reads again: a tenth of the time waited so far, so
// that a quick change is seen at once and a long wait does not keep the
// code under test busy answering.
const (
	minPoll = 2 * time.Millisecond
	maxPoll = 50 * time.Millisecond
)

// Until calls cond until it returns true. It fails t, naming what it
// waited for, when cond has not held within Timeout. Prefer For when what
// cond reads would help whoever reads the failure.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ForWithin(t, Timeout, what, cond, func(ok bool) bool { return ok })
}

// For calls read until done holds of what it returned, and returns that.
// It fails t, naming what it waited for and showing what read returned
// last, when done has not held within Timeout.
func For[T any](t testing.TB, what string, read func() T, done func(T) bool) T {
	t.Helper()
	return ForWithin(t, Timeout, what, read, done)
}

// ForWithin is For with a deadline of its own: for what takes longer
// than Timeout when all is well (a real Terraform run under the race
// detector).
func ForWithin[T any](t testing.TB, timeout time.Duration, what string, read func() T, done func(T) bool) T {
	t.Helper()
	start := time.Now()
	for {
		got := read()
		if done(got) {
			return got
		}
		waited := time.Since(start)
		if waited > timeout {
			t.Fatalf("waited %s for %s; last saw %+v", timeout, what, got)
		}
		time.Sleep(min(max(waited/10, minPoll), maxPoll))
	}
}

// Recv receives a value from ch and returns it; it fails t, naming what
// it waited for, when nothing came within Timeout. A closed channel gives
// its zero value at once.
func Recv[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("waited %s for %s; nothing came", Timeout, what)
		var zero T
		return zero
	}
}

// Buffer is a bytes.Buffer that goroutines may write while a test reads
// it: the log of the code under test, which the test waits on and shows
// when it fails.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
