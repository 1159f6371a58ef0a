package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	preview "github.com/previewd/previewd"
)

// recordLock serialises the naming of new environments (held alone), so
// two replicas never name two environments alike, against the recording
// of events of existing ones (held shared).
const recordLock = 0x70726577

// RecordPullRequest durably records the desired state that delivery brings
// for pr, as the bbolt store does (see store.DB.RecordPullRequest), in one
// transaction committed before it returns.
//
// An event of a pull request that has an environment takes two round trips
// (recordKnown): its reads in one pipeline and its writes with the commit in
// another, under the record lock held shared and its environment's row
// locked, so events of different pull requests go on side by side. An
// environment's first event names it, holding the record lock alone, so two
// replicas never name two environments alike.
func (db *DB) RecordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error) {
	res, err := db.recordKnown(ctx, delivery, pr)
	if errors.Is(err, errNeedsNaming) {
		res, err = db.recordNaming(ctx, delivery, pr)
	}
	if err != nil {
		return preview.RecordResult{}, fmt.Errorf("record pull request %s: %w", pr.Key(), err)
	}
	return res, nil
}

// errNeedsNaming sends a recording that found no environment for its pull
// request, under the shared lock, back to take the lock alone.
var errNeedsNaming = errors.New("the pull request needs an environment named")

// recordKnown records pr when it has an environment, in two pipelines on
// one connection: BEGIN, the delivery, the shared record lock and the
// environment's row locked for update; then the environment written, the
// replicas told and COMMIT. It rolls back with errNeedsNaming when pr has
// no environment or its event needs a new one named.
func (db *DB) recordKnown(ctx context.Context, delivery string, pr preview.PullRequest) (res preview.RecordResult, err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return res, err
	}
	// A connection left in a transaction is closed, not pooled, on Release.
	defer conn.Release()
	defer func() {
		if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	now := db.now()
	env, found, dup, err := readKnown(ctx, conn.Conn(), delivery, pr, now)
	if err != nil {
		return res, err
	}
	write := false
	if !dup {
		if !found {
			return res, errNeedsNaming
		}
		rules := preview.PullRequestRules{TTL: db.opts.TTL, MaxKeep: db.opts.MaxKeep, Drafts: db.opts.Drafts}
		env, res, write, err = preview.RecordPullRequest(env, true, pr, now, rules, func() (string, error) { return "", errNeedsNaming })
		if err != nil {
			return preview.RecordResult{}, err
		}
	}
	res.Duplicate = dup
	commit := &pgx.Batch{}
	if write {
		data, err := json.Marshal(&env)
		if err != nil {
			return preview.RecordResult{}, err
		}
		commit.Queue(upsertEnvironment, env.Name, env.Repo, env.PR, env.Status.Live(), string(data))
		commit.Queue(notifyQuery, workChannel, env.Name)
	}
	commit.Queue("COMMIT")
	if err := conn.SendBatch(ctx, commit).Close(); err != nil {
		return preview.RecordResult{}, err
	}
	return res, nil
}

// readKnown sends recordKnown's first pipeline and reads its answers: the
// environment of pr (found false: none), and whether delivery was recorded
// before.
func readKnown(ctx context.Context, conn *pgx.Conn, delivery string, pr preview.PullRequest, now time.Time) (env preview.Environment, found, dup bool, err error) {
	read := &pgx.Batch{}
	read.Queue("BEGIN")
	if delivery != "" {
		read.Queue(insertDelivery, delivery, now).Exec(func(tag pgconn.CommandTag) error {
			dup = tag.RowsAffected() == 0
			return nil
		})
	}
	read.Queue("SELECT pg_advisory_xact_lock_shared($1)", recordLock)
	var data string
	read.Queue("SELECT e.data FROM pull_requests p JOIN environments e ON e.name = p.name WHERE p.key = $1 FOR UPDATE OF e", pr.Key()).
		QueryRow(func(row pgx.Row) error {
			err := row.Scan(&data)
			found = err == nil
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
	if err := conn.SendBatch(ctx, read).Close(); err != nil {
		return env, false, false, err
	}
	if found {
		if err := json.Unmarshal([]byte(data), &env); err != nil {
			return env, false, false, fmt.Errorf("decode the environment of %s: %w", pr.Key(), err)
		}
	}
	return env, found, dup, nil
}

// recordNaming records pr holding the record lock alone: its first event
// names its environment.
func (db *DB) recordNaming(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error) {
	var res preview.RecordResult
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		res = preview.RecordResult{}
		now := db.now()
		if delivery != "" {
			tag, err := tx.Exec(ctx, insertDelivery, delivery, now)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				res.Duplicate = true
				return nil
			}
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", recordLock); err != nil {
			return err
		}
		var env preview.Environment
		found := false
		var name string
		err := tx.QueryRow(ctx, "SELECT name FROM pull_requests WHERE key = $1", pr.Key()).Scan(&name)
		if err == nil {
			if env, found, err = environment(ctx, tx, name, true); err != nil {
				return err
			}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rules := preview.PullRequestRules{TTL: db.opts.TTL, MaxKeep: db.opts.MaxKeep, Drafts: db.opts.Drafts}
		env, result, write, err := preview.RecordPullRequest(env, found, pr, now, rules, func() (string, error) {
			return deriveName(ctx, tx, pr, db.opts.NameMax)
		})
		res = result
		if err != nil || !write {
			return err
		}
		if err := putEnvironment(ctx, tx, &env); err != nil {
			return err
		}
		if err := notifyWork(ctx, tx, env.Name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO pull_requests (key, name) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET name = $2", pr.Key(), env.Name)
		return err
	})
	return res, err
}

// deriveName picks a new environment's name: a destroyed environment frees
// its name, its record replaced and its pull request forgetting it.
func deriveName(ctx context.Context, tx pgx.Tx, pr preview.PullRequest, max int) (string, error) {
	var derr error
	name := preview.EnvironmentName(pr.Repo, pr.Number, pr.Branch, max, func(n string) bool {
		var live bool
		err := tx.QueryRow(ctx, "SELECT live FROM environments WHERE name = $1", n).Scan(&live)
		if errors.Is(err, pgx.ErrNoRows) {
			return false
		} else if err != nil {
			derr = err
			return true
		}
		return live
	})
	if derr != nil {
		return "", derr
	}
	var repo string
	var number int
	err := tx.QueryRow(ctx, "SELECT repo, pr FROM environments WHERE name = $1", name).Scan(&repo, &number)
	if err == nil {
		_, err = tx.Exec(ctx, "DELETE FROM pull_requests WHERE key = $1", preview.PullRequestKey(repo, number))
	} else if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	return name, err
}
