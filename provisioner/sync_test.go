package provisioner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestSkipSource(t *testing.T) {
	tests := []struct {
		name  string
		isDir bool
		want  bool
	}{
		{"main.tf", false, false},
		{".terraform.lock.hcl", false, false},
		{"production.tfvars", false, false},
		{"tfstate.md", false, false},
		{".terraform", true, true},
		{".terraform", false, true},
		{".git", true, true},
		{"terraform.tfstate.d", true, true},
		{"terraform.tfstate", false, true},
		{"prod.tfstate", false, true},
		{"terraform.tfstate.backup", false, true},
		{"terraform.tfstate.1700000000.backup", false, true},
		{".terraform.tfstate.lock.info", false, true},
		{"errored.tfstate", false, true},
		{"modules", true, false},
	}
	for _, tt := range tests {
		if got := skipSource(tt.name, tt.isDir); got != tt.want {
			t.Errorf("skipSource(%q, dir=%v): got %v, want %v", tt.name, tt.isDir, got, tt.want)
		}
	}
}

func TestSyncTree(t *testing.T) {
	src, work := t.TempDir(), t.TempDir()
	dst, manifest := filepath.Join(work, "module"), filepath.Join(work, "manifest.json")
	writeTree(t, src, map[string]string{
		"main.tf":                                    "resource {}",
		"sub/x.tf":                                   "x",
		"scripts/run.sh":                             "#!/bin/sh",
		".terraform.lock.hcl":                        "# lock",
		".terraform/providers/p":                     "binary",
		"terraform.tfstate":                          "production state",
		"terraform.tfstate.backup":                   "production state",
		"terraform.tfstate.1700000000.backup":        "production state",
		".terraform.tfstate.lock.info":               "lock",
		"errored.tfstate":                            "production state",
		"terraform.tfstate.d/blue/terraform.tfstate": "workspace state",
		".git/HEAD":                                  "ref",
		"sub/.terraform/modules/m":                   "nested data dir",
	})
	os.Chmod(filepath.Join(src, "scripts/run.sh"), 0o755)
	os.Symlink("main.tf", filepath.Join(src, "link.tf"))
	readOnly(t, src)
	before := treeDigest(t, src)

	if _, err := syncTree(src, dst, manifest); err != nil {
		t.Fatal(err)
	}
	if after := treeDigest(t, src); after != before {
		t.Errorf("source tree changed by the first sync")
	}
	wantFiles := []string{".terraform.lock.hcl", "link.tf", "main.tf", "scripts/run.sh", "sub/x.tf"}
	if got := listFiles(t, dst); !slices.Equal(got, wantFiles) {
		t.Errorf("first sync: got files %q, want %q", got, wantFiles)
	}
	if info, _ := os.Stat(filepath.Join(dst, "scripts/run.sh")); info.Mode().Perm() != 0o755 {
		t.Errorf("got mode %v for run.sh, want 0755", info.Mode().Perm())
	}
	if info, _ := os.Stat(filepath.Join(dst, "sub")); info.Mode().Perm()&0o200 == 0 {
		t.Errorf("copied directory is not writable: %v", info.Mode())
	}

	// The module's provisioners create files; the source changes.
	writeTree(t, dst, map[string]string{".preview-web/pid": "1", "sub/made-by-module": "m"})
	writable(t, src)
	os.Remove(filepath.Join(src, "sub/x.tf"))
	os.Remove(filepath.Join(src, "link.tf"))
	writeTree(t, src, map[string]string{"main.tf": "resource { changed }", "new.tf": "new", "link.tf/inner.tf": "dir now"})
	future := time.Now().Add(time.Hour) // a different mtime even on coarse clocks
	os.Chtimes(filepath.Join(src, "main.tf"), future, future)
	readOnly(t, src)
	before = treeDigest(t, src)

	if _, err := syncTree(src, dst, manifest); err != nil {
		t.Fatal(err)
	}
	wantFiles = []string{".preview-web/pid", ".terraform.lock.hcl", "link.tf/inner.tf", "main.tf", "new.tf", "scripts/run.sh", "sub/made-by-module"}
	if got := listFiles(t, dst); !slices.Equal(got, wantFiles) {
		t.Errorf("second sync: got files %q, want %q", got, wantFiles)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "main.tf")); string(b) != "resource { changed }" {
		t.Errorf("main.tf not updated: %q", b)
	}
	if after := treeDigest(t, src); after != before {
		t.Errorf("source tree changed by sync")
	}
}

// TestSyncTreeStaleThroughSymlink checks that a stale path is never removed
// through a symlink pointing out of the copy.
func TestSyncTreeStaleThroughSymlink(t *testing.T) {
	src, work, outside := t.TempDir(), t.TempDir(), t.TempDir()
	dst, manifest := filepath.Join(work, "module"), filepath.Join(work, "manifest.json")
	writeTree(t, src, map[string]string{"main.tf": "x"})
	writeTree(t, outside, map[string]string{"b.tf": "keep me"})
	os.MkdirAll(dst, 0o755)
	os.Symlink(outside, filepath.Join(dst, "a"))
	if err := writeManifest(manifest, []string{"a/b.tf", "main.tf"}); err != nil {
		t.Fatal(err)
	}
	if _, err := syncTree(src, dst, manifest); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "b.tf")); err != nil {
		t.Errorf("file outside the copy removed: %v", err)
	}
}

// TestSyncTreeUnchangedNotCopied checks the size and mtime quick check.
func TestSyncTreeUnchangedNotCopied(t *testing.T) {
	src, work := t.TempDir(), t.TempDir()
	dst, manifest := filepath.Join(work, "module"), filepath.Join(work, "manifest.json")
	writeTree(t, src, map[string]string{"main.tf": "x"})
	if _, err := syncTree(src, dst, manifest); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(filepath.Join(dst, "main.tf"))
	if _, err := syncTree(src, dst, manifest); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(dst, "main.tf"))
	if !os.SameFile(before, after) {
		t.Errorf("unchanged file copied again")
	}
}

func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// listFiles returns the slash paths of the non-directories under root.
func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// treeDigest hashes every path, mode, symlink target and content under root.
func treeDigest(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s %v %d %d\n", rel, info.Mode(), info.Size(), info.ModTime().UnixNano())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			fmt.Fprintln(h, target)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// readOnly makes the tree under root read-only (0555 directories, 0444
// files), as a production checkout previewd may only read, and restores it
// for t.TempDir's cleanup. Note that root ignores these modes; the digest
// comparison is what proves nothing was written.
func readOnly(t *testing.T, root string) {
	t.Helper()
	chmodTree(t, root, 0o555, 0o444)
	t.Cleanup(func() { writable(t, root) })
}

func writable(t *testing.T, root string) {
	t.Helper()
	chmodTree(t, root, 0o755, 0o644)
}

func chmodTree(t *testing.T, root string, dirMode, fileMode fs.FileMode) {
	t.Helper()
	var dirs []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			dirs = append(dirs, p)
		case d.Type().IsRegular():
			info, _ := d.Info()
			os.Chmod(p, fileMode|info.Mode().Perm()&0o111)
		}
		return nil
	})
	slices.Reverse(dirs) // children before parents, while parents are still writable
	for _, d := range dirs {
		os.Chmod(d, dirMode)
	}
}
