package controller

import (
	"context"
	"sync"
	"time"
)

// workQueue is a set of names waiting for work, served by any number of
// workers with two guarantees: a name is held by at most one worker at a
// time, and a name added while held is served again once, after the holder
// is done (adds coalesce; they are never lost).
type workQueue struct {
	mu     sync.Mutex
	order  []string
	queued map[string]time.Time // when each waiting name was queued
	held   map[string]bool
	again  map[string]bool
	wake   chan struct{}
	// drained is closed when the last queued name is taken; nil while
	// nobody waits for that.
	drained chan struct{}
}

func newWorkQueue() *workQueue {
	return &workQueue{
		queued: map[string]time.Time{},
		held:   map[string]bool{},
		again:  map[string]bool{},
		wake:   make(chan struct{}, 1),
	}
}

// add queues name unless it is already queued. It never blocks.
func (q *workQueue) add(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.push(name)
}

// push is add with q.mu held.
func (q *workQueue) push(name string) {
	switch {
	case q.held[name]:
		q.again[name] = true
	default:
		if _, waiting := q.queued[name]; !waiting {
			q.queued[name] = time.Now()
			q.order = append(q.order, name)
			q.signal()
		}
	}
}

// stats returns how many names wait to be taken and how long the oldest
// has waited.
func (q *workQueue) stats() (int, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return 0, 0
	}
	return len(q.order), time.Since(q.queued[q.order[0]])
}

// addAfter queues name after delay, unless ctx ends first.
func (q *workQueue) addAfter(ctx context.Context, name string, delay time.Duration) {
	var mu sync.Mutex
	var stop func() bool
	fired := false
	t := time.AfterFunc(delay, func() {
		mu.Lock()
		fired = true
		if stop != nil {
			stop() // the timer fired: drop the cancellation hook
		}
		mu.Unlock()
		if ctx.Err() == nil {
			q.add(name)
		}
	})
	mu.Lock()
	stop = context.AfterFunc(ctx, func() { t.Stop() })
	if fired {
		stop()
	}
	mu.Unlock()
}

func (q *workQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take removes and holds the first name, or returns false if none is queued.
func (q *workQueue) take() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return "", false
	}
	name := q.order[0]
	q.order[0] = ""
	q.order = q.order[1:]
	delete(q.queued, name)
	q.held[name] = true
	if len(q.order) > 0 {
		q.signal() // let another worker take the next one
	} else if q.drained != nil {
		close(q.drained)
		q.drained = nil
	}
	return name, true
}

// waitDrained blocks until no name is waiting to be taken (names being
// served do not count), or ctx ends.
func (q *workQueue) waitDrained(ctx context.Context) {
	for {
		q.mu.Lock()
		if len(q.order) == 0 {
			q.mu.Unlock()
			return
		}
		if q.drained == nil {
			q.drained = make(chan struct{})
		}
		drained := q.drained
		q.mu.Unlock()
		select {
		case <-drained:
		case <-ctx.Done():
			return
		}
	}
}

// done releases name and queues it again if it was added while held, in
// one step: the queue never looks idle in between.
func (q *workQueue) done(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.held, name)
	if q.again[name] {
		delete(q.again, name)
		q.push(name)
	}
}

// serve runs fn for queued names until ctx is done. It returns only after
// its current fn has returned.
func (q *workQueue) serve(ctx context.Context, fn func(context.Context, string)) {
	for ctx.Err() == nil {
		if name, ok := q.take(); ok {
			fn(ctx, name)
			q.done(name)
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
	}
}
