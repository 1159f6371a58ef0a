package migrations

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// SampleQuery is the query each sample runs.
const SampleQuery = sampleQuery

// ConnectLikeWatcher opens a connection with the watcher's settings.
func ConnectLikeWatcher(ctx context.Context, connString string, opts Options) (*pgx.Conn, error) {
	return connect(ctx, connString, opts.withDefaults().StatementTimeout, watchApplication)
}

// SetConnectTimeout sets the connect timeout until restore is called.
func SetConnectTimeout(d time.Duration) (restore func()) {
	old := connectTimeout
	connectTimeout = d
	return func() { connectTimeout = old }
}

// PID is the server process of the watcher's connection.
func (w *Watcher) PID() uint32 { return w.conn.PgConn().PID() }

// Sampling is whether the sampler is still running.
func (w *Watcher) Sampling() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

// Overhead is what sampling cost: how many queries the sampler ran, over
// how long, and their mean time (round trip included). Call it after Stop.
func (w *Watcher) Overhead() (queries int, over, mean time.Duration) {
	if w.queries > 0 {
		mean = w.queryTime / time.Duration(w.queries)
	}
	return w.queries, w.last.Sub(w.from), mean
}
