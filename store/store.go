// Package store keeps previewd's state in a bbolt file: environments (desired
// and observed state), the pull-request index, seen webhook deliveries, the
// run journal and the production watches. Every write is one short
// transaction that bbolt fsyncs before it returns; no network or Terraform
// work happens inside a transaction, and values are decoded before the
// transaction ends.
package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	preview "github.com/previewd/previewd"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout this code reads and writes. Open migrates older
// files forward and refuses newer ones.
const SchemaVersion = 6

var (
	bucketMeta         = []byte("meta")
	bucketEnvironments = []byte("environments")
	bucketPullRequests = []byte("pull_requests")
	bucketDeliveries   = []byte("deliveries")
	bucketRuns         = []byte("runs")
	bucketLive         = []byte("live")     // names of live environments
	bucketCommands     = []byte("commands") // comment commands waiting for a permission check
	bucketKeys         = []byte("keys")     // named random keys (see FindOrCreateKey)

	bucketProductionWatches = []byte("production_watches") // see RecordProductionWatch

	keySchemaVersion = []byte("schema_version")
)

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("database is in use by another process")

// migrations[i] moves a file from schema version i to i+1.
var migrations = []func(tx *bolt.Tx) error{
	0: func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEnvironments, bucketPullRequests, bucketDeliveries, bucketRuns} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	},
	1: func(tx *bolt.Tx) error { // index live environments
		live, err := tx.CreateBucketIfNotExists(bucketLive)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketEnvironments).ForEach(func(k, v []byte) error {
			var env preview.Environment
			if err := decode(v, &env); err != nil {
				return err
			}
			if env.Status.Live() {
				return live.Put(k, nil)
			}
			return nil
		})
	},
	2: func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketCommands)
		return err
	},
	3: identifyRuns,
	4: func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketKeys)
		return err
	},
	5: func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketProductionWatches)
		return err
	},
}

// identifyRuns gives each run recorded without its identity the repository
// and pull request of the environment stored under its name, when that
// environment was created at or before the run started. A run older than the
// environment now holding its name was made for an earlier holder, whom the
// store no longer knows: it stays without identity and belongs to nobody.
func identifyRuns(tx *bolt.Tx) error {
	envs := tx.Bucket(bucketEnvironments)
	holders := map[string]*preview.Environment{} // by name; nil when none is stored
	type identified struct {
		key []byte
		run preview.Run
	}
	var updates []identified
	err := tx.Bucket(bucketRuns).ForEach(func(k, v []byte) error {
		var run preview.Run
		if err := decode(v, &run); err != nil {
			return err
		}
		if run.Repo != "" {
			return nil
		}
		env, seen := holders[run.Environment]
		if !seen {
			var stored preview.Environment
			ok, err := getJSON(envs, []byte(run.Environment), &stored)
			if err != nil {
				return err
			}
			if ok {
				env = &stored
			}
			holders[run.Environment] = env
		}
		if env == nil || env.CreatedAt.After(run.StartedAt) {
			return nil
		}
		run.Repo, run.PR = env.Repo, env.PR
		updates = append(updates, identified{bytes.Clone(k), run})
		return nil
	})
	if err != nil {
		return err
	}
	for _, u := range updates { // a bucket is not written while ForEach walks it
		if err := putJSON(tx.Bucket(bucketRuns), u.key, &u.run); err != nil {
			return err
		}
	}
	return nil
}

// Options tune Open.
type Options struct {
	// Timeout bounds the wait for the file lock (default 1s).
	Timeout time.Duration
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
	// NameMax is the longest environment name (0 means preview.MaxNameLength).
	NameMax int
	// TTL is the idle time after which an environment expires; activity (a
	// push, reopening) moves ExpiresAt to now+TTL.
	TTL time.Duration
	// MaxKeep is the idle time after which a kept environment expires;
	// activity moves KeepUntil to now+MaxKeep.
	MaxKeep time.Duration
	// Drafts builds environments for draft pull requests too.
	Drafts bool
	// ReadOnly opens the file for reading only, without migrating it (for
	// offline backups); it waits for a running previewd like any open.
	ReadOnly bool
	// NoSync skips fsync on commit. Only benchmarks seeding large stores
	// set it: with it, a crash can lose acknowledged deliveries.
	NoSync bool
}

// DB is previewd's store. It is safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
	now  func() time.Time
	opts Options
}

// Open opens (creating if needed) the bbolt file at path and migrates it to
// SchemaVersion. It returns an error wrapping ErrLocked when another process
// has the file open, and refuses a file written by a newer previewd.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	// The freelist is not written on every commit (as etcd runs bbolt): a
	// commit writes fewer pages, which keeps acknowledgement latency down
	// under load; the cost is a scan of the file at every open.
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.Timeout, ReadOnly: opts.ReadOnly,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w (is another previewd running on this data directory?)", path, ErrLocked)
	} else if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	bdb.NoSync = opts.NoSync
	// Deliveries arriving together share one fsynced commit. bbolt waits
	// 10ms by default to fill a batch; with fsync itself near 20ms here,
	// 2ms keeps acknowledgement p50 near one fsync under load.
	bdb.MaxBatchDelay = 2 * time.Millisecond
	db := &DB{bolt: bdb, path: path, now: opts.Now, opts: opts}
	if opts.ReadOnly {
		return db, nil
	}
	if err := db.migrate(); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

func (db *DB) migrate() error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		version := 0
		if v := meta.Get(keySchemaVersion); v != nil {
			if err := json.Unmarshal(v, &version); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
		}
		if version > SchemaVersion {
			return fmt.Errorf("schema version %d is newer than this previewd understands (%d)", version, SchemaVersion)
		}
		for ; version < SchemaVersion; version++ {
			if err := migrations[version](tx); err != nil {
				return fmt.Errorf("migrate schema %d to %d: %w", version, version+1, err)
			}
		}
		return meta.Put(keySchemaVersion, fmt.Appendf(nil, "%d", SchemaVersion))
	})
}

// Path returns the file the store lives in.
func (db *DB) Path() string { return db.path }

// Close closes the file. It waits for open transactions to finish.
func (db *DB) Close() error { return db.bolt.Close() }

// Ping reports whether the store can still be read.
func (db *DB) Ping(ctx context.Context) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketEnvironments) == nil {
			return errors.New("store is not initialised")
		}
		return nil
	})
}

// Backup writes a consistent copy of the whole database to w while the store
// stays online, and returns the number of bytes written.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup: %w", err)
	}
	return n, nil
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func notFound(name string) error {
	return preview.Errorf(preview.ENOTFOUND, "environment %q not found", name)
}

func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}
