package controller

import (
	"context"
	"testing"

	"github.com/previewd/previewd/internal/waittest"
)

func TestWaitDrainedWaitsForTheBacklogOnly(t *testing.T) {
	q := newWorkQueue()
	ctx := context.Background()
	q.waitDrained(ctx) // nothing queued: returns at once

	q.add("a")
	q.add("b")
	if name, _ := q.take(); name != "a" {
		t.Fatalf("took %q, want a", name)
	}
	done := make(chan struct{})
	go func() { q.waitDrained(ctx); close(done) }()
	// It has looked at the backlog once it waits for the drain (or once
	// it returned).
	waittest.Until(t, "waitDrained waiting for the drain, or returned", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.drained != nil || isClosed(done)
	})
	if isClosed(done) {
		t.Fatal("waitDrained returned while b was still queued")
	}
	if name, _ := q.take(); name != "b" {
		t.Fatalf("took %q, want b", name)
	}
	waittest.Recv(t, "waitDrained to return once the last name was taken", done) // a and b are held, none waits: drained
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
