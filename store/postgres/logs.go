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

// RunLog returns a reader of run id's log as stored so far, a chunk at a
// time; it is empty for a run that printed nothing yet.
func (db *DB) RunLog(ctx context.Context, id string) (io.ReadCloser, error) {
	rows, err := db.pool.Query(ctx, "SELECT chunk FROM run_logs WHERE run_id = $1 ORDER BY seq", id)
	if err != nil {
		return nil, fmt.Errorf("read log of run %s: %w", id, err)
	}
	return &logReader{rows: rows}, nil
}

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
	rows  pgx.Rows
	chunk []byte
	done  bool
}

func (r *logReader) Read(p []byte) (int, error) {
	for len(r.chunk) == 0 {
		if r.done || !r.rows.Next() {
			r.done = true
			r.rows.Close()
			if err := r.rows.Err(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		if err := r.rows.Scan(&r.chunk); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.chunk)
	r.chunk = r.chunk[n:]
	return n, nil
}

func (r *logReader) Close() error {
	r.rows.Close()
	return nil
}
