package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/jackc/pgx/v5"
	preview "github.com/previewd/previewd"
)

func notFound(name string) error {
	return preview.Errorf(preview.ENOTFOUND, "environment %q not found", name)
}

// environment reads the named environment in tx, locking its row when
// forUpdate; ok is false when there is none.
func environment(ctx context.Context, tx pgx.Tx, name string, forUpdate bool) (env preview.Environment, ok bool, err error) {
	q := "SELECT data FROM environments WHERE name = $1"
	if forUpdate {
		q += " FOR UPDATE"
	}
	var data string
	err = tx.QueryRow(ctx, q, name).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return preview.Environment{}, false, nil
	} else if err != nil {
		return preview.Environment{}, false, err
	}
	if err := json.Unmarshal([]byte(data), &env); err != nil {
		return preview.Environment{}, true, fmt.Errorf("decode %q: %w", name, err)
	}
	return env, true, nil
}

// upsertEnvironment writes an environment's row: its name, repository,
// pull request, whether it is live, and its JSON.
const upsertEnvironment = `INSERT INTO environments (name, repo, pr, live, data) VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (name) DO UPDATE SET repo = $2, pr = $3, live = $4, data = $5`

func putEnvironment(ctx context.Context, tx pgx.Tx, env *preview.Environment) error {
	data, err := json.Marshal(env)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, upsertEnvironment, env.Name, env.Repo, env.PR, env.Status.Live(), string(data))
	return err
}

// FindEnvironmentByName returns the named environment, or ENOTFOUND.
func (db *DB) FindEnvironmentByName(ctx context.Context, name string) (preview.Environment, error) {
	var data string
	err := db.pool.QueryRow(ctx, "SELECT data FROM environments WHERE name = $1", name).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return preview.Environment{}, notFound(name)
	} else if err != nil {
		return preview.Environment{}, err
	}
	var env preview.Environment
	return env, json.Unmarshal([]byte(data), &env)
}

// FindEnvironmentByPullRequest returns the environment of pull request
// number in repo, or ENOTFOUND.
func (db *DB) FindEnvironmentByPullRequest(ctx context.Context, repo string, number int) (preview.Environment, error) {
	key := preview.PullRequestKey(repo, number)
	var data string
	err := db.pool.QueryRow(ctx, "SELECT e.data FROM pull_requests p JOIN environments e ON e.name = p.name WHERE p.key = $1", key).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return preview.Environment{}, preview.Errorf(preview.ENOTFOUND, "no environment for %s", key)
	} else if err != nil {
		return preview.Environment{}, err
	}
	var env preview.Environment
	return env, json.Unmarshal([]byte(data), &env)
}

// environments calls fn with the name and stored JSON of each environment
// filter selects, by name, up to filter.Limit of them; data is valid only
// until fn returns. The query selects by live and repo itself, so a row is
// decoded to be matched only for a Status filter; without one, the query
// stops at filter.Limit rows and nothing is decoded here (a page of a list
// costs its rows, not the rest of the table).
func (db *DB) environments(ctx context.Context, filter preview.EnvironmentFilter, fn func(name string, data []byte) error) error {
	q := "SELECT name, data FROM environments WHERE name > $1"
	if filter.LiveOnly {
		q += " AND live"
	}
	args := []any{filter.After}
	if filter.Repo != "" {
		args = append(args, filter.Repo)
		q += fmt.Sprintf(" AND lower(repo) = lower($%d)", len(args))
	}
	q += " ORDER BY name"
	matching := filter.Status != ""
	if filter.Limit > 0 && !matching {
		args = append(args, filter.Limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	kept := 0
	for rows.Next() {
		// The row's bytes as received: no copy of each environment's JSON.
		raw := rows.RawValues()
		name, data := string(raw[0]), raw[1]
		if matching {
			var env preview.Environment
			if err := json.Unmarshal(data, &env); err != nil {
				return fmt.Errorf("decode %q: %w", name, err)
			}
			if !filter.Match(env) {
				continue
			}
		}
		if err := fn(name, data); err != nil {
			return err
		}
		if kept++; filter.Limit > 0 && kept == filter.Limit {
			break
		}
	}
	return rows.Err()
}

// FindEnvironments returns the environments that match filter, by name.
// Past a few hundred, they are decoded into chunks joined once at the
// end: thousands are copied once, not at each growth of one slice.
func (db *DB) FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error) {
	var out []preview.Environment
	var chunks [][]preview.Environment
	err := db.environments(ctx, filter, func(name string, data []byte) error {
		if len(out) == cap(out) && len(out) >= 256 {
			chunks, out = append(chunks, out), make([]preview.Environment, 0, 1024)
		}
		out = append(out, preview.Environment{})
		if err := json.Unmarshal(data, &out[len(out)-1]); err != nil {
			return fmt.Errorf("decode %q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find environments: %w", err)
	}
	if len(chunks) > 0 {
		out = slices.Concat(append(chunks, out)...)
	}
	return out, nil
}

// ScanEnvironments calls fn with the name and stored encoding of each
// environment filter selects, by name, the encoding valid only until fn
// returns; next is the name to start the
// following page after, "" when this page is the last.
func (db *DB) ScanEnvironments(ctx context.Context, filter preview.EnvironmentFilter, fn func(name string, data []byte) error) (string, error) {
	n, next := 0, ""
	err := db.environments(ctx, filter, func(name string, data []byte) error {
		if err := fn(name, data); err != nil {
			return err
		}
		if n++; filter.Limit > 0 && n == filter.Limit {
			next = name
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("find environments: %w", err)
	}
	return next, nil
}

// UpdateEnvironment applies fn to the named environment and stores the
// result in one transaction, the row locked meanwhile; fn must not do I/O.
// If fn returns an error nothing is written. It returns the stored
// environment, or ENOTFOUND.
func (db *DB) UpdateEnvironment(ctx context.Context, name string, fn func(*preview.Environment) error) (preview.Environment, error) {
	var env preview.Environment
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var ok bool
		var err error
		if err := fence(ctx, tx, name); err != nil {
			return err
		}
		if env, ok, err = environment(ctx, tx, name, true); err != nil {
			return err
		} else if !ok {
			return notFound(name)
		}
		before, status := env.Desired, env.Status
		if err := fn(&env); err != nil {
			return err
		}
		env.UpdatedAt = db.now()
		preview.NoteStatus(status, &env, env.UpdatedAt)
		if err := putEnvironment(ctx, tx, &env); err != nil {
			return err
		}
		if !reflect.DeepEqual(before, env.Desired) {
			return notifyWork(ctx, tx, name)
		}
		return nil
	})
	return env, err
}
