package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	preview "github.com/previewd/previewd"
	bolt "go.etcd.io/bbolt"
)

// RecordPullRequest durably records the desired state that delivery brings
// for pr, in one fsynced transaction shared with concurrent callers (group
// commit). A delivery ID seen before is a no-op (Duplicate). An event whose
// UpdatedAt is older than the stored one never wins (Stale). The first open
// event creates the environment and fixes its name for life. delivery may be
// empty (a resync), in which case nothing is de-duplicated.
func (db *DB) RecordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error) {
	var res preview.RecordResult
	err := db.bolt.Batch(func(tx *bolt.Tx) error {
		res = preview.RecordResult{} // Batch may run this function again alone
		now := db.now().UTC()
		if delivery != "" {
			deliveries := tx.Bucket(bucketDeliveries)
			if deliveries.Get([]byte(delivery)) != nil {
				res.Duplicate = true
				return nil
			}
			if err := deliveries.Put([]byte(delivery), []byte(now.Format(time.RFC3339Nano))); err != nil {
				return err
			}
		}
		return db.recordPullRequest(tx, pr, now, &res)
	})
	if err != nil {
		return preview.RecordResult{}, fmt.Errorf("record pull request %s: %w", pr.Key(), err)
	}
	return res, nil
}

func (db *DB) recordPullRequest(tx *bolt.Tx, pr preview.PullRequest, now time.Time, res *preview.RecordResult) error {
	envs := tx.Bucket(bucketEnvironments)
	prs := tx.Bucket(bucketPullRequests)
	var env preview.Environment
	found := false
	if name := prs.Get([]byte(pr.Key())); name != nil {
		var err error
		if found, err = getJSON(envs, name, &env); err != nil {
			return err
		}
	}
	rules := preview.PullRequestRules{TTL: db.opts.TTL, MaxKeep: db.opts.MaxKeep, Drafts: db.opts.Drafts}
	env, result, write, err := preview.RecordPullRequest(env, found, pr, now, rules, func() (string, error) {
		return deriveName(envs, prs, pr, db.opts.NameMax)
	})
	*res = result
	if err != nil || !write {
		return err
	}
	if err := putEnvironment(tx, &env); err != nil {
		return err
	}
	return prs.Put([]byte(pr.Key()), []byte(env.Name))
}

// deriveName picks the environment's name. A destroyed environment frees its
// name: its record is replaced and its pull request forgets it.
func deriveName(envs, prs *bolt.Bucket, pr preview.PullRequest, max int) (string, error) {
	var derr error
	name := preview.EnvironmentName(pr.Repo, pr.Number, pr.Branch, max, func(n string) bool {
		var other preview.Environment
		ok, err := getJSON(envs, []byte(n), &other)
		if err != nil {
			derr = err
			return true
		}
		return ok && other.Status.Live()
	})
	if derr != nil {
		return "", derr
	}
	var old preview.Environment
	if ok, err := getJSON(envs, []byte(name), &old); err != nil {
		return "", err
	} else if ok {
		if err := prs.Delete([]byte(preview.PullRequestKey(old.Repo, old.PR))); err != nil {
			return "", err
		}
	}
	return name, nil
}

// FindEnvironmentByName returns the named environment, or an ENOTFOUND error.
func (db *DB) FindEnvironmentByName(ctx context.Context, name string) (preview.Environment, error) {
	var env preview.Environment
	err := db.bolt.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketEnvironments), []byte(name), &env)
		if err == nil && !ok {
			err = notFound(name)
		}
		return err
	})
	return env, err
}

// FindEnvironmentByPullRequest returns the environment of pull request number
// in repo, or an ENOTFOUND error.
func (db *DB) FindEnvironmentByPullRequest(ctx context.Context, repo string, number int) (preview.Environment, error) {
	var env preview.Environment
	key := preview.PullRequestKey(repo, number)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		name := tx.Bucket(bucketPullRequests).Get([]byte(key))
		if name == nil {
			return preview.Errorf(preview.ENOTFOUND, "no environment for %s", key)
		}
		ok, err := getJSON(tx.Bucket(bucketEnvironments), name, &env)
		if err == nil && !ok {
			err = notFound(string(name))
		}
		return err
	})
	return env, err
}

// FindEnvironments returns the environments that match filter, by name.
// LiveOnly reads only live environments, through an index; After and
// Limit read one page.
func (db *DB) FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error) {
	var out []preview.Environment
	err := db.bolt.View(func(tx *bolt.Tx) error {
		out = make([]preview.Environment, 0, capacity(tx, filter))
		return eachEnvironment(tx, filter, func(_, v []byte) (bool, error) {
			var env preview.Environment
			if err := decode(v, &env); err != nil {
				return false, err
			}
			if !filter.Match(env) {
				return false, nil
			}
			out = append(out, env)
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("find environments: %w", err)
	}
	return out, nil
}

// capacity is how many environments filter finds at most, when it keeps
// every one it walks (no Repo or Status to match): a read of thousands
// is decoded in place, never moved as its slice grows. It is 0 otherwise.
func capacity(tx *bolt.Tx, filter preview.EnvironmentFilter) int {
	if filter.Repo != "" || filter.Status != "" {
		return 0
	}
	index := bucketEnvironments
	if filter.LiveOnly {
		index = bucketLive
	}
	n := tx.Bucket(index).Stats().KeyN
	if filter.Limit > 0 {
		n = min(n, filter.Limit)
	}
	return n
}

// ScanEnvironments calls fn with the name and stored encoding of each
// environment filter selects, by name, without decoding it unless the
// filter needs it (Repo or Status): the fast path for listing thousands.
// data is valid only during the call. next is the name to start the
// following page after, "" when this page is the last.
func (db *DB) ScanEnvironments(ctx context.Context, filter preview.EnvironmentFilter, fn func(name string, data []byte) error) (next string, err error) {
	decoding := filter.Repo != "" || filter.Status != ""
	n := 0
	err = db.bolt.View(func(tx *bolt.Tx) error {
		return eachEnvironment(tx, filter, func(k, v []byte) (bool, error) {
			if decoding {
				var env preview.Environment
				if err := decode(v, &env); err != nil {
					return false, err
				}
				if !filter.Match(env) {
					return false, nil
				}
			}
			if err := fn(string(k), v); err != nil {
				return false, err
			}
			if n++; filter.Limit > 0 && n == filter.Limit {
				next = string(k)
			}
			return true, nil
		})
	})
	if err != nil {
		return "", fmt.Errorf("find environments: %w", err)
	}
	return next, nil
}

// eachEnvironment calls fn for every environment by name, or for the live
// ones only through the live index, starting after filter.After; fn says
// whether it kept the environment, and the walk ends once filter.Limit
// were kept.
func eachEnvironment(tx *bolt.Tx, filter preview.EnvironmentFilter, fn func(k, v []byte) (bool, error)) error {
	envs := tx.Bucket(bucketEnvironments)
	index := envs
	if filter.LiveOnly {
		index = tx.Bucket(bucketLive)
	}
	c := index.Cursor()
	k, v := c.First()
	if filter.After != "" {
		if k, v = c.Seek([]byte(filter.After)); k != nil && string(k) == filter.After {
			k, v = c.Next()
		}
	}
	kept := 0
	for ; k != nil; k, v = c.Next() {
		if index != envs { // the live index holds names alone
			v = envs.Get(k)
		}
		if v == nil {
			continue
		}
		ok, err := fn(k, v)
		if err != nil {
			return err
		}
		if ok {
			if kept++; filter.Limit > 0 && kept == filter.Limit {
				return nil
			}
		}
	}
	return nil
}

// putEnvironment stores env and keeps the live index in step.
func putEnvironment(tx *bolt.Tx, env *preview.Environment) error {
	if err := putJSON(tx.Bucket(bucketEnvironments), []byte(env.Name), env); err != nil {
		return err
	}
	live := tx.Bucket(bucketLive)
	if env.Status.Live() {
		return live.Put([]byte(env.Name), nil)
	}
	return live.Delete([]byte(env.Name))
}

// UpdateEnvironment applies fn to the named environment and stores the result
// in one transaction; fn must not do I/O. If fn returns an error nothing is
// written. It returns the stored environment, or ENOTFOUND.
func (db *DB) UpdateEnvironment(ctx context.Context, name string, fn func(*preview.Environment) error) (preview.Environment, error) {
	var env preview.Environment
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEnvironments)
		env = preview.Environment{}
		if ok, err := getJSON(b, []byte(name), &env); err != nil {
			return err
		} else if !ok {
			return notFound(name)
		}
		before := env.Status
		if err := fn(&env); err != nil {
			return err
		}
		env.UpdatedAt = db.now().UTC()
		preview.NoteStatus(before, &env, env.UpdatedAt)
		return putEnvironment(tx, &env)
	})
	return env, err
}

// PruneDeliveries forgets delivery IDs recorded before cutoff and returns how
// many it removed. GitHub redelivers only recent deliveries, so a few days of
// IDs is enough to de-duplicate.
func (db *DB) PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeliveries)
		var expired [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if t, err := time.Parse(time.RFC3339Nano, string(v)); err != nil || t.Before(cutoff) {
				expired = append(expired, slices.Clone(k))
			}
			return nil
		})
		for _, k := range expired {
			if err == nil {
				err = b.Delete(k)
			}
		}
		n = len(expired)
		return err
	})
	return n, err
}

// DeliveryRecorded reports whether delivery (its X-GitHub-Delivery ID) was
// recorded: a change it brought is durable. IDs are kept as long as
// PruneDeliveries leaves them.
func (db *DB) DeliveryRecorded(ctx context.Context, delivery string) (bool, error) {
	found := false
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketDeliveries).Get([]byte(delivery)) != nil
		return nil
	})
	return found, err
}
