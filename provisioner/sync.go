package provisioner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/previewd/previewd/internal/atomicfile"
)

// skipSource reports whether a source entry named name is never copied into
// an environment: Terraform's runtime data, local state of any kind
// (terraform.tfstate, its backups, lock info, errored.tfstate, workspace
// states) and version control.
func skipSource(name string, isDir bool) bool {
	switch {
	case name == ".terraform":
		return true
	case isDir:
		return name == ".git" || name == "terraform.tfstate.d"
	default:
		return strings.HasSuffix(name, ".tfstate") || strings.Contains(name, ".tfstate.")
	}
}

// sourceEntry is one file, directory or symlink of the source tree.
type sourceEntry struct {
	mode  fs.FileMode // type and permission bits
	size  int64
	mtime time.Time
	link  string // symlink target
}

// scanSource lists the tree at src by slash-separated relative path, leaving
// out what skipSource rejects and anything that is neither a regular file, a
// directory nor a symlink.
func scanSource(src string) (map[string]sourceEntry, error) {
	entries := map[string]sourceEntry{}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == src {
			return nil
		}
		if skipSource(d.Name(), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := sourceEntry{mode: info.Mode(), size: info.Size(), mtime: info.ModTime()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			if e.link, err = os.Readlink(path); err != nil {
				return err
			}
		case !info.Mode().IsRegular() && !info.IsDir():
			return nil
		}
		rel, _ := filepath.Rel(src, path)
		entries[filepath.ToSlash(rel)] = e
		return nil
	})
	return entries, err
}

// syncTree makes dst a copy of src for Terraform to run in, and never writes
// to src. Entries are copied as scanSource lists them; an unchanged file
// (same size and modification time) is not copied again. Paths the previous
// sync copied (recorded in manifest) that src no longer has are removed;
// anything else in dst, such as files a module's provisioners created, is
// kept. Directories are made owner-writable in the copy, even when read-only
// in src. It returns a digest of what it copied (every path, type, size,
// modification time and link target), which changes whenever the copy does.
func syncTree(src, dst, manifest string) (string, error) {
	entries, err := scanSource(src)
	if err != nil {
		return "", fmt.Errorf("read module tree: %w", err)
	}
	previous, err := readManifest(manifest)
	if err != nil {
		return "", err
	}
	paths := sortedKeys(entries) // parents sort before their children
	// Record the union first: a sync cut short must still know what it copied.
	if err := writeManifest(manifest, union(previous, paths)); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return "", err
	}
	if err := removeStale(dst, previous, entries); err != nil {
		return "", err
	}
	h := sha256.New()
	for _, rel := range paths {
		e := entries[rel]
		fmt.Fprintf(h, "%s\x00%v\x00%d\x00%d\x00%s\x00", rel, e.mode, e.size, e.mtime.UnixNano(), e.link)
		if err := syncEntry(filepath.Join(src, rel), filepath.Join(dst, rel), e); err != nil {
			return "", fmt.Errorf("copy %s: %w", rel, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), writeManifest(manifest, paths)
}

// removeStale removes from dst the paths in previous that entries no longer
// has, deepest first. A directory still holding files not from the source is
// kept, and nothing is removed through a symlink.
func removeStale(dst string, previous []string, entries map[string]sourceEntry) error {
	var stale []string
	for _, rel := range previous {
		if _, ok := entries[rel]; !ok {
			stale = append(stale, rel)
		}
	}
	slices.SortFunc(stale, func(a, b string) int { return strings.Compare(b, a) }) // children first
	for _, rel := range stale {
		if !realDirs(dst, filepath.Dir(filepath.FromSlash(rel))) {
			continue
		}
		err := os.Remove(filepath.Join(dst, filepath.FromSlash(rel)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotEmpty(err) {
			return fmt.Errorf("remove %s: %w", rel, err)
		}
	}
	return nil
}

// realDirs reports whether every component of rel under root is a directory
// and not a symlink.
func realDirs(root, rel string) bool {
	for p := rel; p != "." && p != string(filepath.Separator); p = filepath.Dir(p) {
		info, err := os.Lstat(filepath.Join(root, p))
		if err != nil || !info.IsDir() {
			return false
		}
	}
	return true
}

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// syncEntry makes target match the source entry at path.
func syncEntry(path, target string, e sourceEntry) error {
	existing, err := os.Lstat(target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	exists := err == nil
	switch {
	case e.mode.IsDir():
		if exists && !existing.IsDir() {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(target, 0o700); err != nil {
			return err
		}
		return os.Chmod(target, e.mode.Perm()|0o700)
	case e.mode&fs.ModeSymlink != 0:
		if exists && existing.Mode()&fs.ModeSymlink != 0 {
			if link, err := os.Readlink(target); err == nil && link == e.link {
				return nil
			}
		}
		if exists {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
		return os.Symlink(e.link, target)
	default:
		perm := e.mode.Perm() | 0o600
		if exists && existing.Mode().IsRegular() && existing.Size() == e.size && existing.ModTime().Equal(e.mtime) {
			if existing.Mode().Perm() == perm {
				return nil
			}
			return os.Chmod(target, perm)
		}
		if exists && !existing.Mode().IsRegular() {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
		return copyFile(path, target, perm, e.mtime)
	}
}

// copyFile copies src to dst through a temporary file renamed into place.
func copyFile(src, dst string, perm fs.FileMode, mtime time.Time) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".previewd-sync-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return err
	}
	if err := os.Chtimes(tmp.Name(), mtime, mtime); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// readManifest returns the paths recorded by the previous sync; none when
// there was none.
func readManifest(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var paths []string
	if err := json.Unmarshal(b, &paths); err != nil {
		return nil, fmt.Errorf("read sync manifest %s: %w", path, err)
	}
	return paths, nil
}

func writeManifest(path string, paths []string) error {
	b, err := json.Marshal(paths)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o600)
}

func union(a, b []string) []string {
	u := slices.Concat(a, b)
	slices.Sort(u)
	return slices.Compact(u)
}
