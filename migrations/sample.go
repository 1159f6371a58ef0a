package migrations

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
)

// sampleQuery is one sample: the relation locks of the current database,
// other than the watcher's own and those on catalogs, TOAST and temporary
// relations, that are held in a mode that blocks writes, or in
// ShareUpdateExclusiveLock (which blocks neither: CREATE INDEX
// CONCURRENTLY, VACUUM, some ALTER TABLE; noted so their catalog change
// is not taken for a short blocking one), or are awaited, with the statement of the session that holds or awaits them and, for one
// awaited, how many sessions it waits for. A relation not yet committed
// (a table or index being created) is not visible to it, and blocks no
// one. It takes AccessShareLock on pg_class, pg_namespace and pg_database
// for its own length, and nothing else. The last column is how long the
// holding session's transaction has run, in seconds, by the server's clock.
const sampleQuery = `SELECT l.relation, l.relation::regclass::text, l.mode, l.granted,
	coalesce(l.pid, 0), coalesce(l.virtualtransaction, ''), coalesce(a.query, ''),
	CASE WHEN l.granted THEN 0 ELSE pg_catalog.cardinality(pg_catalog.pg_blocking_pids(l.pid)) END,
	coalesce(extract(epoch FROM pg_catalog.clock_timestamp() - a.xact_start), 0)::float8
FROM pg_catalog.pg_locks l
JOIN pg_catalog.pg_class c ON c.oid = l.relation
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation'
	AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
	AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()
	AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
	AND c.relpersistence <> 't'
	AND (NOT l.granted OR l.mode IN ('ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'))`

// observation is one row of a sample.
type observation struct {
	oid      uint32
	relation string // as ::regclass::text shows it
	mode     string
	granted  bool
	pid      int32
	vxid     string        // the transaction holding or awaiting the lock
	query    string        // pg_stat_activity.query of that session
	blockers int32         // sessions an awaited lock waits for
	xactAge  time.Duration // how long the transaction has run
}

// query takes one sample through conn.
func query(ctx context.Context, conn *pgx.Conn) ([]observation, error) {
	rows, err := conn.Query(ctx, sampleQuery)
	if err != nil {
		return nil, err
	}
	var obs []observation
	var o observation
	var age float64
	_, err = pgx.ForEachRow(rows, []any{&o.oid, &o.relation, &o.mode, &o.granted, &o.pid, &o.vxid, &o.query, &o.blockers, &age}, func() error {
		o.xactAge = time.Duration(age * float64(time.Second))
		obs = append(obs, o)
		return nil
	})
	return obs, err
}

// modeRank orders lock modes, weakest first.
var modeRank = map[string]int{
	"AccessShareLock":          1,
	"RowShareLock":             2,
	"RowExclusiveLock":         3,
	"ShareUpdateExclusiveLock": 4,
	"ShareLock":                5,
	"ShareRowExclusiveLock":    6,
	"ExclusiveLock":            7,
	"AccessExclusiveLock":      8,
}

// nonBlockingDDL is the mode DDL that blocks neither reads nor writes
// holds (CREATE INDEX CONCURRENTLY).
const nonBlockingDDL = "ShareUpdateExclusiveLock"

// blocksReads is the one mode that conflicts with AccessShareLock; the
// modes sampleQuery asks for all conflict with RowExclusiveLock.
const blocksReads = "AccessExclusiveLock"

// lockKey is one lock: a mode held or awaited on a relation by one
// transaction of one session. Relation locks last until their
// transaction ends, whichever of its statements took them.
type lockKey struct {
	oid     uint32
	pid     int32
	mode    string
	vxid    string
	granted bool
}

// span is how long a lock was seen: from start, estimated midway between
// the sample that first saw it and the one before, to last, the last
// sample that saw it.
type span struct {
	start, last time.Time
	seen        int // the number of the last sample that saw it
	statement   string
	// before: held when the watch began, so counted from its
	// transaction's start (see observe).
	before bool
}

// relation is what a relation's locks added up to.
type relation struct {
	name          string
	mode          string // the strongest held
	writes, reads time.Duration
	wait          time.Duration
	statement     string // of the lock that blocked writes longest
	readStatement string // of the lock that blocked reads longest
	before        bool   // the longest write block was held before the watch began
}

// tracker turns samples into spans, and the spans that ended into
// relations.
type tracker struct {
	interval time.Duration
	prev     time.Time // of the previous sample
	n        int       // samples so far
	open     map[lockKey]*span
	rels     map[uint32]*relation
	// quiet are the relations a sample saw held in nonBlockingDDL.
	quiet map[uint32]bool
}

func newTracker(interval time.Duration) *tracker {
	return &tracker{interval: interval, open: map[lockKey]*span{}, rels: map[uint32]*relation{}, quiet: map[uint32]bool{}}
}

// observe adds a sample taken at at. A lock's duration is estimated
// from the samples around it: from midway between the sample before it
// was first seen and that one, to midway between the last sample that saw
// it and the next. Sampled every interval, that is last seen − first seen
// + interval, off by up to an interval either way, right on average.
//
// A lock the first sample sees was taken before the watch began (the
// watch starts when the first apply has made the database, and an
// application may already be migrating): counting it from that sample
// would report less than production would suffer. It is counted from its
// transaction's start instead, which is when the lock was taken or
// earlier: the report may say more than was held, never less.
func (t *tracker) observe(at time.Time, obs []observation) {
	t.n++
	for _, o := range obs {
		if !o.granted && o.blockers == 0 {
			continue // granted since pg_locks was read
		}
		if o.granted && o.mode == nonBlockingDDL {
			t.quiet[o.oid] = true
			continue
		}
		k := lockKey{oid: o.oid, pid: o.pid, mode: o.mode, vxid: o.vxid, granted: o.granted}
		s := t.open[k]
		if s == nil {
			start := at.Add(-t.interval / 2)
			if !t.prev.IsZero() {
				start = t.prev.Add(at.Sub(t.prev) / 2)
			}
			s = &span{start: start}
			if t.n == 1 && o.granted && o.xactAge > t.interval/2 {
				s.start, s.before = at.Add(-o.xactAge), true
			}
			t.open[k] = s
		}
		s.last, s.seen = at, t.n
		if s.statement == "" {
			s.statement = statement(o.query)
		}
		r := t.rels[o.oid]
		if r == nil {
			r = &relation{}
			t.rels[o.oid] = r
		}
		r.name = o.relation
	}
	for k, s := range t.open {
		if s.seen != t.n {
			t.end(k, s, s.last.Add(at.Sub(s.last)/2))
		}
	}
	t.prev = at
}

// end closes the span of k at end.
func (t *tracker) end(k lockKey, s *span, end time.Time) {
	delete(t.open, k)
	d := end.Sub(s.start)
	r := t.rels[k.oid]
	if !k.granted {
		r.wait = max(r.wait, d)
		return
	}
	if modeRank[k.mode] > modeRank[r.mode] {
		r.mode = k.mode
	}
	if d > r.writes {
		r.writes, r.statement, r.before = d, s.statement, s.before
	}
	if k.mode == blocksReads && d > r.reads {
		r.reads, r.readStatement = d, s.statement
	}
}

// hold is a relation's LockHold and its OID.
type hold struct {
	preview.LockHold
	oid uint32
}

// holds ends the spans still open (as if the next sample, an interval
// later, had not seen them) and returns the relations a lock that blocks
// writes was held on, unsorted, without Rows.
func (t *tracker) holds() []hold {
	for k, s := range t.open {
		t.end(k, s, s.last.Add(t.interval/2))
	}
	var held []hold
	for oid, r := range t.rels {
		if r.writes == 0 {
			continue
		}
		held = append(held, hold{oid: oid, LockHold: preview.LockHold{
			Relation: r.name, Statement: r.statement, Mode: r.mode,
			BlockedWrites: r.writes, BlockedReads: r.reads, LongestWait: r.wait,
			ReadStatement: r.readStatement, HeldBeforeWatch: r.before,
		}})
	}
	return held
}
