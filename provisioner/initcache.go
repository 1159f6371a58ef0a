package provisioner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// initCache keeps the result of `terraform init` per init key (see
// Provisioner.initKey): the data directory and, for a module without a
// dependency lock file, the one init wrote. Every environment of a module
// initialises to the same result, because the backend's path is relative to
// the working directory: the first environment to init a module keeps a copy,
// and the next ones take a copy instead of running terraform init (and the
// `terraform version` terraform-exec runs before it). A fan-out of a hundred
// pull requests inits once.
//
// Entries live in DataDir/init/<digest of the key>, are written under a
// temporary name and renamed into place, and are never changed afterwards;
// the least recently used beyond initCacheEntries are removed.
type initCache struct{ dir string }

const initCacheEntries = 16

// Names in an entry, and what an entry leaves out of a data directory.
const (
	initCacheData = "data"
	initCacheLock = "lock.hcl"
	lockFileName  = ".terraform.lock.hcl"
	// workspaceFile is where Terraform records the selected workspace in its
	// data directory: the environment's own, never shared.
	workspaceFile = "environment"
)

func (c initCache) entry(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:12]))
}

// restore makes r's data directory (and lock file, when the entry has one)
// a copy of the entry for key. It reports false, changing nothing, when no
// entry is kept for key.
func (c initCache) restore(key string, r *run) (bool, error) {
	entry := c.entry(key)
	if _, err := os.Stat(filepath.Join(entry, initCacheData)); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	now := time.Now()
	os.Chtimes(entry, now, now) // recently used; pruning goes by it
	if err := os.RemoveAll(r.ws.dataDir()); err != nil {
		return false, err
	}
	if err := copyDir(filepath.Join(entry, initCacheData), r.ws.dataDir(), nil); err != nil {
		return false, fmt.Errorf("copy kept init: %w", err)
	}
	if !r.locked {
		if _, err := os.Stat(filepath.Join(entry, initCacheLock)); err == nil {
			if err := copyFile(filepath.Join(entry, initCacheLock), filepath.Join(r.tf.WorkingDir(), lockFileName), 0o644, now); err != nil {
				return false, fmt.Errorf("copy kept lock file: %w", err)
			}
		}
	}
	return true, nil
}

// keep records r's data directory (and the lock file init wrote, for a
// module without one) as the entry for key, unless one is kept already.
func (c initCache) keep(key string, r *run) error {
	entry := c.entry(key)
	if _, err := os.Stat(entry); err == nil {
		return nil
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(c.dir, ".new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	skip := func(rel string) bool { return rel == workspaceFile }
	if err := copyDir(r.ws.dataDir(), filepath.Join(tmp, initCacheData), skip); err != nil {
		return err
	}
	if !r.locked {
		lock := filepath.Join(r.tf.WorkingDir(), lockFileName)
		if info, err := os.Stat(lock); err == nil {
			if err := copyFile(lock, filepath.Join(tmp, initCacheLock), 0o644, info.ModTime()); err != nil {
				return err
			}
		}
	}
	if err := os.Rename(tmp, entry); err != nil {
		if _, statErr := os.Stat(entry); statErr == nil {
			return nil // another environment kept the same init first
		}
		return err
	}
	return c.prune(entry)
}

// prune removes the least recently used entries beyond initCacheEntries,
// never keep.
func (c initCache) prune(keep string) error {
	list, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	type aged struct {
		path string
		used time.Time
	}
	var entries []aged
	for _, e := range list {
		if info, err := e.Info(); err == nil && e.IsDir() && e.Name()[0] != '.' {
			entries = append(entries, aged{filepath.Join(c.dir, e.Name()), info.ModTime()})
		}
	}
	slices.SortFunc(entries, func(a, b aged) int { return b.used.Compare(a.used) })
	var errs []error
	for i, e := range entries {
		if i >= initCacheEntries && e.path != keep {
			errs = append(errs, os.RemoveAll(e.path))
		}
	}
	return errors.Join(errs...)
}

// copyDir copies the tree at src to dst: directories, regular files with
// their mode and modification time, and symbolic links as links (a plugin
// cache's). skip, when set, leaves out the paths (relative to src) it
// returns true for.
func copyDir(src, dst string, skip func(rel string) bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if skip != nil && rel != "." && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			return copyFile(path, target, info.Mode().Perm(), info.ModTime())
		default:
			return fmt.Errorf("copy %s: not a file, directory or link", path)
		}
	})
}
