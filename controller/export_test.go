package controller

// RunsIdle reports whether the run loop has nothing to do: no environment
// waits for a run worker, and none is being reconciled or is to be served
// again. A retry that a timer will queue later does not count.
func (c *Controller) RunsIdle() bool { return c.core.runs.idle() }

// idle reports whether no name is queued or held.
func (q *workQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order) == 0 && len(q.held) == 0
}
