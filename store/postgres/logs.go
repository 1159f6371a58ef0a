package postgres

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
)

// Run logs are kept in PostgreSQL, so that any replica serves any run's
// log, the running one's included: a writer stores what Terraform printed
// in chunks, at least every logFlushInterval while it prints.
const (
	logChunkSize     = 64 << 10
	logFlushInterval = time.Second
)

// OpenRunLog returns a writer appending to run's log. Writes are buffered
// and stored within logFlushInterval, or as soon as a chunk fills; Close
// stores the rest. Each chunk is fenced by the lease ctx carries, like the
// run's other writes.
func (db *DB) OpenRunLog(ctx context.Context, run preview.Run) (io.WriteCloser, error) {
	return &logWriter{ctx: context.WithoutCancel(ctx), db: db, run: run}, nil
}

// AppendRunLog stores chunk at the end of run's log.
func (db *DB) AppendRunLog(ctx context.Context, run preview.Run, chunk []byte) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := fence(ctx, tx, run.Environment); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO run_logs (run_id, chunk) VALUES ($1, $2)", run.ID, chunk)
		return err
	})
	if err != nil {
		return fmt.Errorf("store log of run %s: %w", run.ID, err)
	}
	return nil
}

// RunLog returns a reader of run id's log as stored so far; it is empty
// for a run that printed nothing yet. It reads a few chunks per query and
// holds no connection between them, so a slow reader does not keep one
// of the pool's.
func (db *DB) RunLog(ctx context.Context, id string) (io.ReadCloser, error) {
	return db.RunLogFrom(ctx, id, 0)
}

// RunLogFrom is RunLog from byte offset on.
func (db *DB) RunLogFrom(ctx context.Context, id string, offset int64) (io.ReadCloser, error) {
	r := &logReader{ctx: ctx, db: db, id: id}
	if offset <= 0 {
		return r, nil
	}
	rows, err := db.pool.Query(ctx, "SELECT seq, octet_length(chunk) FROM run_logs WHERE run_id = $1 ORDER BY seq", id)
	if err != nil {
		return nil, fmt.Errorf("read log of run %s: %w", id, err)
	}
	defer rows.Close()
	var seq, size int64
	for rows.Next() {
		if err := rows.Scan(&seq, &size); err != nil {
			return nil, err
		}
		if offset < size {
			r.skip = offset
			break
		}
		offset -= size
		r.after = seq
	}
	return r, rows.Err()
}

// logChunksPerQuery is how many chunks a log reader reads at once: at
// most a few MiB in memory.
const logChunksPerQuery = 16

type logWriter struct {
	ctx context.Context
	db  *DB
	run preview.Run

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer
	err    error
	closed bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, fmt.Errorf("log of run %s: write after close", w.run.ID)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= logChunkSize {
		w.flushLocked()
	} else if w.timer == nil {
		w.timer = time.AfterFunc(logFlushInterval, func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.timer = nil
			w.flushLocked()
		})
	}
	return len(p), w.err
}

func (w *logWriter) flushLocked() {
	for len(w.buf) > 0 && w.err == nil {
		n := min(len(w.buf), logChunkSize)
		w.err = w.db.AppendRunLog(w.ctx, w.run, w.buf[:n])
		w.buf = w.buf[n:]
	}
	w.buf = nil
}

// Close stores what is buffered.
func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	if !w.closed {
		w.closed = true
		w.flushLocked()
	}
	return w.err
}

type logReader struct {
	ctx   context.Context
	db    *DB
	id    string
	after int64 // the last chunk read
	skip  int64 // bytes of the next chunk already read
	buf   [][]byte
	done  bool
}

func (r *logReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 || len(r.buf[0]) == 0 {
		if len(r.buf) > 0 {
			r.buf = r.buf[1:]
			continue
		}
		if r.done {
			return 0, io.EOF
		}
		if err := r.fetch(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[0])
	r.buf[0] = r.buf[0][n:]
	return n, nil
}

// fetch reads the next chunks, in one short query.
func (r *logReader) fetch() error {
	rows, err := r.db.pool.Query(r.ctx, "SELECT seq, chunk FROM run_logs WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", r.id, r.after, logChunksPerQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var chunk []byte
		if err := rows.Scan(&r.after, &chunk); err != nil {
			return err
		}
		if r.skip > 0 {
			chunk, r.skip = chunk[min(r.skip, int64(len(chunk))):], 0
		}
		r.buf = append(r.buf, chunk)
		n++
	}
	r.done = n < logChunksPerQuery
	return rows.Err()
}

func (r *logReader) Close() error { return nil }
