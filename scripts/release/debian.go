package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// userlandFormat changes whenever writeUserland makes a different layer
// from the same packages, so that a cached layer is not reused.
const userlandFormat = "userland-3"

// debianRoots are the packages installed besides Debian's Essential set
// (and their dependencies): git and ssh for modules from git, the CA
// certificates for HTTPS, and what debootstrap's minbase picks where a
// dependency has alternatives (mawk for awk; a /usr merged by this program).
var debianRoots = []string{"ca-certificates", "git", "openssh-client", "mawk", "usr-is-merged"}

// debianSource is where the userland comes from.
type debianSource struct {
	Suites  []debianSuite
	Keyring string
}

// defaultDebianSource is bookworm with its updates and security updates.
func defaultDebianSource(mirror, securityMirror, keyring string) debianSource {
	return debianSource{
		Suites: []debianSuite{
			{Mirror: mirror, Name: "bookworm"},
			{Mirror: mirror, Name: "bookworm-updates"},
			{Mirror: securityMirror, Name: "bookworm-security"},
		},
		Keyring: keyring,
	}
}

// userlandLayer is a cached root filesystem layer and what it holds.
type userlandLayer struct {
	Path     string           `json:"-"`
	Arch     string           `json:"arch"`
	Packages []*debianPackage `json:"packages"`
}

// buildUserlands makes (or finds in the cache) the userland layer of each
// Debian architecture, from the archive's current signed indexes.
func buildUserlands(ctx context.Context, cache string, src debianSource, archs []string) (map[string]*userlandLayer, error) {
	releases := map[debianSuite]stanza{}
	for _, s := range src.Suites {
		rel, err := verifiedRelease(ctx, s, src.Keyring)
		if err != nil {
			return nil, err
		}
		releases[s] = rel
	}
	out := map[string]*userlandLayer{}
	for _, arch := range archs {
		indexes, err := packagesIndexes(ctx, cache, releases, src.Suites, arch)
		if err != nil {
			return nil, err
		}
		l, err := userlandFor(ctx, cache, indexes, arch)
		if err != nil {
			return nil, fmt.Errorf("debian userland for %s: %w", arch, err)
		}
		out[arch] = l
	}
	return out, nil
}

// userlandFor returns the layer of arch for these indexes: from the cache,
// or resolved, downloaded and written.
func userlandFor(ctx context.Context, cache string, indexes []debianIndex, arch string) (*userlandLayer, error) {
	key := sha256.New()
	fmt.Fprintln(key, userlandFormat, arch, strings.Join(debianRoots, " "))
	for _, ix := range indexes {
		fmt.Fprintln(key, ix.Suite.Mirror, ix.Suite.Name, ix.SHA256)
	}
	dir := filepath.Join(cache, "userland", arch+"-"+hex.EncodeToString(key.Sum(nil))[:16])
	l := &userlandLayer{Path: filepath.Join(dir, "layer.tar.gz"), Arch: arch}
	if data, err := os.ReadFile(filepath.Join(dir, "packages.json")); err == nil {
		if json.Unmarshal(data, l) == nil {
			if _, err := os.Stat(l.Path); err == nil {
				return l, nil
			}
		}
	}
	var all []stanza
	for _, ix := range indexes {
		st, err := readIndex(ix)
		if err != nil {
			return nil, err
		}
		all = append(all, st...)
	}
	pkgs, err := newDebianCatalog(all, arch).resolve(debianRoots)
	if err != nil {
		return nil, err
	}
	l.Packages = pkgs
	if err := writeUserlandLayer(ctx, cache, dir, l); err != nil {
		return nil, err
	}
	pruneUserlands(filepath.Dir(dir), arch, dir)
	return l, nil
}

// pruneUserlands removes the cached layers of arch other than keep: made
// from indexes since replaced, they would not be used again.
func pruneUserlands(parent, arch, keep string) {
	old, _ := filepath.Glob(filepath.Join(parent, arch+"-*"))
	for _, dir := range old {
		if dir != keep {
			os.RemoveAll(dir)
		}
	}
}

func writeUserlandLayer(ctx context.Context, cache, dir string, l *userlandLayer) error {
	var debs []*debFile
	for _, p := range l.Packages {
		file := filepath.Join(cache, "debian", "debs", path.Base(p.Filename))
		if _, err := cachedFile(ctx, file, p.Mirror+"/"+p.Filename, p.SHA256); err != nil {
			return err
		}
		d, err := openDeb(file)
		if err != nil {
			return err
		}
		debs = append(debs, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", l.Path, os.Getpid()) // another run may be writing it too
	if err := writeUserland(tmp, debs); err != nil {
		return err
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, l.Path); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "packages.json"), data, 0o644)
}
