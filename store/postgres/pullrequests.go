package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
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
// Recording an environment's first event names it, so it holds the record
// lock alone; events of pull requests that have an environment hold it
// shared, each locking its own environment's row, and go on side by side.
func (db *DB) RecordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error) {
	var known bool
	if err := db.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pull_requests WHERE key = $1)", pr.Key()).Scan(&known); err != nil {
		return preview.RecordResult{}, fmt.Errorf("record pull request %s: %w", pr.Key(), err)
	}
	res, err := db.recordPullRequest(ctx, delivery, pr, !known)
	if errors.Is(err, errNeedsNaming) {
		res, err = db.recordPullRequest(ctx, delivery, pr, true)
	}
	if err != nil {
		return preview.RecordResult{}, fmt.Errorf("record pull request %s: %w", pr.Key(), err)
	}
	return res, nil
}

// errNeedsNaming sends a recording that found no environment for its pull
// request, under the shared lock, back to take the lock alone.
var errNeedsNaming = errors.New("the pull request needs an environment named")

func (db *DB) recordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest, naming bool) (preview.RecordResult, error) {
	var res preview.RecordResult
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		res = preview.RecordResult{}
		now := db.now()
		if delivery != "" {
			tag, err := tx.Exec(ctx, "INSERT INTO deliveries (id, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", delivery, now)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				res.Duplicate = true
				return nil
			}
		}
		lock := "SELECT pg_advisory_xact_lock_shared($1)"
		if naming {
			lock = "SELECT pg_advisory_xact_lock($1)"
		}
		if _, err := tx.Exec(ctx, lock, recordLock); err != nil {
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
		if !found && !naming {
			return errNeedsNaming
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
