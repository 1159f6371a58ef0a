// Package migrations watches a preview's PostgreSQL database while its
// migrations run, and reports the locks they held that blocked writes or
// reads, relation by relation, with each relation's rows
// (preview.DatabaseReport): a CREATE INDEX without CONCURRENTLY that
// holds writes off a preview's 200 rows for milliseconds holds them off
// production's 1.4M for minutes, and the verdict must know which it saw.
//
// The watcher samples pg_locks every Interval through one read-only
// connection, and takes no lock but AccessShareLock on catalogs, for the
// length of a sample (about 0.1 ms of the server's time). A lock is
// timed to within an interval either way; one held for d shorter than an
// interval is seen with a chance of about d/Interval.
package migrations

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
)

// The sampling interval's default and bounds, and the default of the
// watcher's own statement_timeout.
const (
	defaultInterval         = 75 * time.Millisecond
	minInterval             = 50 * time.Millisecond
	maxInterval             = 100 * time.Millisecond
	defaultStatementTimeout = 2 * time.Second
)

// maxFailures is how many samples in a row may fail on a connection that
// is still open before sampling ends; a closed connection ends it at once.
const maxFailures = 3

// Options are how a Watcher samples. An Interval outside 50–100 ms is
// brought within it.
type Options struct {
	Interval         time.Duration // between samples; 75ms when zero (must stay within 50–100 ms)
	StatementTimeout time.Duration // of the watcher's own queries; 2s when zero
}

// withDefaults fills o's zero fields and brings Interval within 50–100 ms.
func (o Options) withDefaults() Options {
	if o.Interval == 0 {
		o.Interval = defaultInterval
	}
	o.Interval = min(max(o.Interval, minInterval), maxInterval)
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = defaultStatementTimeout
	}
	o.StatementTimeout = max(o.StatementTimeout, time.Millisecond) // 0 would disable it
	return o
}

// A Watcher samples a database's locks until Stop.
type Watcher struct {
	conn *pgx.Conn
	opts Options
	stop chan struct{}
	done chan struct{}

	once   sync.Once
	report preview.DatabaseReport

	// before is the user tables at the start (see catalog.go); nil when
	// they could not be read.
	before map[uint32]table

	// The sampler's own, until done is closed.
	locks     *tracker
	from      time.Time
	last      time.Time // of the last sample that succeeded
	samples   int
	err       error // why sampling ended before Stop
	failed    error // why the last sample that failed did
	queries   int
	queryTime time.Duration
}

// Watch opens ONE read-only connection to connString and samples it every
// Interval until Stop. It fails, saying why but never quoting connString,
// when the database does not answer within 5 seconds. Sampling also ends
// when ctx does (Stop must still be called).
func Watch(ctx context.Context, connString string, opts Options) (*Watcher, error) {
	opts = opts.withDefaults()
	conn, err := connect(ctx, connString, opts.StatementTimeout, watchApplication)
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		conn:  conn,
		opts:  opts,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		locks: newTracker(opts.Interval),
		from:  time.Now(),
	}
	w.before, _ = catalog(conn, opts.StatementTimeout) // without it, only what samples see
	go w.run(ctx)
	return w, nil
}

// run samples until Stop, ctx ends, the connection closes, or maxFailures
// samples in a row fail.
func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	ticker := time.NewTicker(w.opts.Interval)
	defer ticker.Stop()
	failures := 0
	for {
		switch err := w.sample(); {
		case err == nil:
			failures = 0
		case w.conn.IsClosed() || failures+1 >= maxFailures:
			w.failed, w.err = err, err
			return
		default:
			w.failed = err
			failures++
		}
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
			w.err = ctx.Err()
			return
		case <-ticker.C:
		}
	}
}

// sample reads the locks held and awaited once. It is timed by its own
// context, not the watch's: a sample under way when Stop is called ends
// by itself, within milliseconds, rather than have the driver close the
// connection under it.
func (w *Watcher) sample() error {
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.StatementTimeout+time.Second)
	defer cancel()
	start := time.Now()
	obs, err := query(ctx, w.conn)
	took := time.Since(start)
	w.queries++
	w.queryTime += took
	if err != nil {
		return err
	}
	at := start.Add(took / 2)
	w.locks.observe(at, obs)
	w.samples++
	w.last = at
	return nil
}

// Stop stops sampling and returns what was held (Watched true; Samples,
// From, To, Holds sorted by BlockedWrites then BlockedReads, longest
// first; Rows filled from pg_class.reltuples of each held relation, read
// at Stop). When sampling ended before Stop (the database stopped
// answering, or the watch's context ended), Why says so and To is the last
// sample's time; Watched is false when no sample succeeded. Stop waits for
// the sampler (a sample under way ends within StatementTimeout + 1 s) and
// closes the connection; calling it again returns the same report.
func (w *Watcher) Stop() preview.DatabaseReport {
	w.once.Do(func() {
		close(w.stop)
		<-w.done
		w.report = w.build(time.Now())
		closeConn(w.conn)
	})
	return w.report
}

// build is the report once sampling has ended, at stopped.
func (w *Watcher) build(stopped time.Time) preview.DatabaseReport {
	r := preview.DatabaseReport{Watched: w.samples > 0, From: w.from, To: stopped, Samples: w.samples}
	if w.samples == 0 {
		r.To = w.from
		r.Why = "no sample of the database's locks succeeded: " + describe(w.failed)
		return r
	}
	if w.err != nil {
		r.To = w.last
		r.Why = fmt.Sprintf("sampling stopped after %d samples (%s): %s", w.samples, preview.Seconds(w.last.Sub(w.from)), describe(w.err))
	}
	held := w.locks.holds()
	if w.before != nil && !w.conn.IsClosed() {
		if after, err := catalog(w.conn, w.opts.StatementTimeout); err == nil {
			held = changedUnseen(w.before, after, held, w.locks.quiet, w.opts.Interval)
		}
	}
	if err := w.fillRows(held); err != nil {
		why := "row estimates could not be read: " + describe(err)
		r.Why = joinWhy(r.Why, why)
	}
	r.Holds = make([]preview.LockHold, 0, len(held))
	for _, h := range held {
		r.Holds = append(r.Holds, h.LockHold)
	}
	slices.SortStableFunc(r.Holds, func(a, b preview.LockHold) int {
		return cmp.Or(cmp.Compare(b.BlockedWrites, a.BlockedWrites), cmp.Compare(b.BlockedReads, a.BlockedReads),
			cmp.Compare(b.LongestWait, a.LongestWait), cmp.Compare(a.Relation, b.Relation))
	})
	return r
}

// fillRows sets the Rows of held from pg_class.reltuples, through the
// watcher's connection: -1 (unknown) for a relation gone since, or when
// the connection cannot read them.
func (w *Watcher) fillRows(held []hold) error {
	if len(held) == 0 {
		return nil
	}
	oids := make([]uint32, len(held))
	for i := range held {
		held[i].Rows = -1
		oids[i] = held[i].oid
	}
	if w.conn.IsClosed() {
		return nil // sampling already said why
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.StatementTimeout+time.Second)
	defer cancel()
	rows, err := w.conn.Query(ctx, rowsByOIDQuery, oids)
	if err != nil {
		return err
	}
	estimates := map[uint32]float64{}
	var oid uint32
	var n float64
	if _, err := pgx.ForEachRow(rows, []any{&oid, &n}, func() error {
		estimates[oid] = n
		return nil
	}); err != nil {
		return err
	}
	for i := range held {
		if n, ok := estimates[held[i].oid]; ok {
			held[i].Rows = n
		}
	}
	return nil
}

// joinWhy joins two reasons into one.
func joinWhy(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
