package migrations

import (
	"testing"
	"time"
)

// lock is a lock held (or awaited) from one instant to another of a
// simulated watch.
type lock struct {
	observation
	from, to time.Duration
}

// simulate samples locks every interval from phase to end and returns
// what the tracker made of them.
func simulate(interval, phase, end time.Duration, locks ...lock) []hold {
	t0 := time.Now()
	tr := newTracker(interval)
	for at := phase; at < end; at += interval {
		var obs []observation
		for _, l := range locks {
			if l.from <= at && at < l.to {
				o := l.observation
				o.xactAge = at - l.from // its transaction began as it took the lock
				obs = append(obs, o)
			}
		}
		tr.observe(t0.Add(at), obs)
	}
	return tr.holds()
}

func TestDurationEstimate(t *testing.T) {
	const interval = 75 * time.Millisecond
	index := lock{observation{oid: 1, relation: "orders", mode: "ShareLock", granted: true, pid: 7, vxid: "3/9",
		query: "CREATE INDEX orders_created_at ON orders (created_at)"}, 100 * time.Millisecond, 1300 * time.Millisecond}
	var sum time.Duration
	const phases = 75
	for p := range phases {
		held := simulate(interval, time.Duration(p)*time.Millisecond, 2*time.Second, index)
		if len(held) != 1 {
			t.Fatalf("phase %d: %+v", p, held)
		}
		got := held[0].BlockedWrites
		if d := got - 1200*time.Millisecond; d < -interval || d > interval {
			t.Errorf("phase %d: %s, want 1.2s ± an interval", p, got)
		}
		sum += got
	}
	if mean := sum / phases; mean < 1190*time.Millisecond || mean > 1210*time.Millisecond {
		t.Errorf("mean estimate %s, want 1.2s", mean)
	}
}

func TestHoldsPerRelation(t *testing.T) {
	const interval = 75 * time.Millisecond
	ms := time.Millisecond
	held := simulate(interval, 0, 3*time.Second,
		// orders: two statements, the second longer; a read-blocking lock, shorter.
		lock{observation{oid: 1, relation: "orders", mode: "ShareLock", granted: true, pid: 7, vxid: "3/9", query: "CREATE INDEX a ON orders (x)"}, 0, 300 * ms},
		lock{observation{oid: 1, relation: "orders", mode: "ShareLock", granted: true, pid: 7, vxid: "3/10", query: "CREATE INDEX b ON orders (y)"}, 600 * ms, 1500 * ms},
		lock{observation{oid: 1, relation: "orders", mode: "AccessExclusiveLock", granted: true, pid: 8, vxid: "4/2", query: "ALTER TABLE orders ADD c int"}, 1600 * ms, 1900 * ms},
		lock{observation{oid: 1, relation: "orders", mode: "RowExclusiveLock", pid: 9, vxid: "5/1", query: "INSERT INTO orders VALUES ($1)", blockers: 1}, 700 * ms, 1500 * ms},
		// users: awaited only, and a request granted as it was read.
		lock{observation{oid: 2, relation: "users", mode: "AccessShareLock", pid: 9, vxid: "5/2", blockers: 1}, 0, 600 * ms},
		lock{observation{oid: 2, relation: "users", mode: "ShareLock", pid: 10, vxid: "6/1"}, 0, 600 * ms},
	)
	if len(held) != 1 {
		t.Fatalf("holds %+v, want orders only", held)
	}
	h := held[0]
	near := func(what string, got, want time.Duration) {
		if d := got - want; d < -interval || d > interval {
			t.Errorf("%s %s, want %s", what, got, want)
		}
	}
	near("writes blocked", h.BlockedWrites, 900*ms)
	near("reads blocked", h.BlockedReads, 300*ms)
	near("longest wait", h.LongestWait, 800*ms)
	if h.Statement != "CREATE INDEX b ON orders (y)" || h.Mode != "AccessExclusiveLock" || h.Relation != "orders" || h.oid != 1 {
		t.Errorf("hold %+v, want the longer build's statement, the strongest mode", h)
	}
	if h.ReadStatement != "ALTER TABLE orders ADD c int" || h.HeldBeforeWatch {
		t.Errorf("read statement %q, held before the watch %v; want the ALTER's, false", h.ReadStatement, h.HeldBeforeWatch)
	}
}

// TestHeldBeforeTheWatch: a lock the first sample sees was taken before
// the watch began (an application already migrating when the first apply
// ends) and is counted from its transaction's start, not from the first
// sample; one first seen later is not.
func TestHeldBeforeTheWatch(t *testing.T) {
	const interval = 75 * time.Millisecond
	ms := time.Millisecond
	held := simulate(interval, 0, 3*time.Second,
		lock{observation{oid: 1, relation: "orders", mode: "ShareLock", granted: true, pid: 7, vxid: "3/9", query: "CREATE INDEX a ON orders (x)"}, -2000 * ms, 1000 * ms},
		lock{observation{oid: 2, relation: "users", mode: "ShareLock", granted: true, pid: 8, vxid: "4/1", query: "CREATE INDEX b ON users (y)"}, 500 * ms, 1500 * ms},
	)
	if len(held) != 2 {
		t.Fatalf("holds %+v, want orders and users", held)
	}
	for _, h := range held {
		want, before := time.Second, false
		if h.Relation == "orders" {
			want, before = 3*time.Second, true
		}
		if d := h.BlockedWrites - want; d < -interval || d > interval || h.HeldBeforeWatch != before {
			t.Errorf("%s: writes blocked %s, held before the watch %v; want %s, %v", h.Relation, h.BlockedWrites, h.HeldBeforeWatch, want, before)
		}
	}
}

func TestOptions(t *testing.T) {
	for _, c := range []struct{ in, want Options }{
		{Options{}, Options{Interval: 75 * time.Millisecond, StatementTimeout: 2 * time.Second}},
		{Options{Interval: time.Millisecond, StatementTimeout: time.Microsecond}, Options{Interval: 50 * time.Millisecond, StatementTimeout: time.Millisecond}},
		{Options{Interval: time.Second, StatementTimeout: 500 * time.Millisecond}, Options{Interval: 100 * time.Millisecond, StatementTimeout: 500 * time.Millisecond}},
	} {
		if got := c.in.withDefaults(); got != c.want {
			t.Errorf("%+v: %+v, want %+v", c.in, got, c.want)
		}
	}
}

// TestNonBlockingDDLIsNoHold: ShareUpdateExclusiveLock (CREATE INDEX
// CONCURRENTLY) is noted, never counted as blocking, and the table it
// changed is not reported as changed by a lock no sample saw.
func TestNonBlockingDDLIsNoHold(t *testing.T) {
	tr := newTracker(75 * time.Millisecond)
	t0 := time.Now()
	for i := range 10 {
		tr.observe(t0.Add(time.Duration(i)*75*time.Millisecond), []observation{{oid: 1, relation: "orders", mode: "ShareUpdateExclusiveLock", granted: true, pid: 7, vxid: "3/9",
			query: "CREATE INDEX CONCURRENTLY i ON orders (x)"}})
	}
	held := tr.holds()
	if len(held) != 0 || !tr.quiet[1] {
		t.Fatalf("holds %+v, quiet %v; want none, orders quiet", held, tr.quiet)
	}
	before := map[uint32]table{1: {name: "orders", indexes: []int64{10}}, 2: {name: "users", indexes: []int64{20}}}
	after := map[uint32]table{1: {name: "orders", indexes: []int64{10, 11}}, 2: {name: "users", indexes: []int64{20, 21}}}
	got := changedUnseen(before, after, held, tr.quiet, 75*time.Millisecond)
	if len(got) != 1 || got[0].oid != 2 {
		t.Errorf("changed unseen %+v, want users only", got)
	}
}
