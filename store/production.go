package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	bolt "go.etcd.io/bbolt"
)

// ProductionWatchesKept is how many watches of one repository a store
// keeps: recording another deletes the oldest, in the same transaction.
const ProductionWatchesKept = 100

// WatchTimeLayout writes a watch's At, in UTC, as it is keyed: to the
// nanosecond and fixed width, so that keys sort as the times do.
const WatchTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// productionWatchPrefix starts the key of every watch of repo: the
// repository in lower case, as GitHub compares names, then "@", which no
// repository name holds.
func productionWatchPrefix(repo string) []byte { return []byte(strings.ToLower(repo) + "@") }

func productionWatchKey(repo string, at time.Time) []byte {
	return append(productionWatchPrefix(repo), at.UTC().Format(WatchTimeLayout)...)
}

// RecordProductionWatch stores w under its repository and At, replacing a
// watch of the same repository and At, and deletes the repository's
// watches older than the newest ProductionWatchesKept. At is stored in UTC.
func (db *DB) RecordProductionWatch(ctx context.Context, w preview.ProductionWatch) error {
	w.At = w.At.UTC()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProductionWatches)
		if err := putJSON(b, productionWatchKey(w.Repo, w.At), &w); err != nil {
			return err
		}
		return pruneProductionWatches(b, productionWatchPrefix(w.Repo))
	})
	if err != nil {
		return fmt.Errorf("record production watch of %s: %w", w.Repo, err)
	}
	return nil
}

// pruneProductionWatches deletes the watches under prefix (one
// repository's) but the newest ProductionWatchesKept.
func pruneProductionWatches(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte // oldest first
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys[:max(0, len(keys)-ProductionWatchesKept)] {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// FindProductionWatches returns f.Repo's watches (every repository's when
// f.Repo is ""; names compare without case), newest first (watches of the
// same instant by repository), at most f.Limit when it is positive; an
// empty slice when there are none.
func (db *DB) FindProductionWatches(ctx context.Context, f preview.ProductionWatchFilter) ([]preview.ProductionWatch, error) {
	out := []preview.ProductionWatch{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProductionWatches)
		keys := newestProductionWatches(b, f)
		for _, k := range keys {
			var w preview.ProductionWatch
			if err := decode(b.Get(k), &w); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
			out = append(out, w)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find production watches: %w", err)
	}
	return out, nil
}

// newestProductionWatches returns the keys of the watches f selects, in
// the order FindProductionWatches returns them, sorting keys alone so that
// only the watches returned are decoded. The keys are valid in tx only.
func newestProductionWatches(b *bolt.Bucket, f preview.ProductionWatchFilter) [][]byte {
	var prefix []byte
	if f.Repo != "" {
		prefix = productionWatchPrefix(f.Repo)
	}
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b []byte) int {
		repoA, atA := splitProductionWatchKey(a)
		repoB, atB := splitProductionWatchKey(b)
		return cmp.Or(bytes.Compare(atB, atA), bytes.Compare(repoA, repoB))
	})
	if f.Limit > 0 && len(keys) > f.Limit {
		keys = keys[:f.Limit]
	}
	return keys
}

func splitProductionWatchKey(k []byte) (repo, at []byte) {
	i := bytes.LastIndexByte(k, '@')
	return k[:i], k[i+1:]
}
