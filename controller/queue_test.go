package controller

import (
	"context"
	"testing"
	"time"
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
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if q.waitDrained(short); short.Err() == nil {
		t.Fatal("waitDrained returned while b was still queued")
	}
	done := make(chan struct{})
	go func() { q.waitDrained(ctx); close(done) }()
	if name, _ := q.take(); name != "b" {
		t.Fatalf("took %q, want b", name)
	}
	select {
	case <-done: // a and b are held, none waits: drained
	case <-time.After(5 * time.Second):
		t.Fatal("waitDrained did not return once the last name was taken")
	}
}
