package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ulikunitz/xz"
)

// debianSuite is one suite of a Debian archive: bookworm, its updates and
// its security updates are read together, newest version winning.
type debianSuite struct {
	Mirror string // https://deb.debian.org/debian
	Name   string // bookworm
}

// debianIndex is a suite's verified Packages index for one architecture.
type debianIndex struct {
	Suite  debianSuite
	Path   string // the Packages.xz in the cache
	SHA256 string
}

// verifiedRelease fetches a suite's InRelease and returns the fields of the
// part signed by a key of keyring, refusing a file whose Valid-Until has
// passed.
func verifiedRelease(ctx context.Context, s debianSuite, keyring string) (stanza, error) {
	url := s.Mirror + "/dists/" + s.Name + "/InRelease"
	raw, err := download(ctx, url)
	if err != nil {
		return nil, err
	}
	signed, err := gpgvSigned(ctx, raw, keyring)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", url, err)
	}
	st, err := parseStanzas(bytes.NewReader(signed), nil)
	if err != nil || len(st) == 0 {
		return nil, fmt.Errorf("%s: no Release fields in the signed part (%v)", url, err)
	}
	rel := st[0]
	if until := rel["Valid-Until"]; until != "" {
		t, err := time.Parse(time.RFC1123, until)
		if err != nil {
			return nil, fmt.Errorf("%s: Valid-Until %q: %v", url, until, err)
		}
		if time.Now().After(t) {
			return nil, fmt.Errorf("%s: expired on %s", url, until)
		}
	}
	return rel, nil
}

// gpgvSigned returns the signed text of a clearsigned file. As apt does,
// it takes one good signature by a key of keyring as enough: the archive
// is signed by several keys, and a keyring a little older than the
// archive lacks the newest. A bad signature is refused.
func gpgvSigned(ctx context.Context, clearsigned []byte, keyring string) ([]byte, error) {
	if _, err := os.Stat(keyring); err != nil {
		return nil, fmt.Errorf("the Debian archive keyring (package debian-archive-keyring): %w", err)
	}
	status, err := os.CreateTemp("", "gpgv-status-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(status.Name())
	defer status.Close()
	cmd := exec.CommandContext(ctx, "gpgv", "--status-fd", "3", "--keyring", keyring, "--output", "-", "-")
	cmd.Stdin = bytes.NewReader(clearsigned)
	cmd.ExtraFiles = []*os.File{status}
	var signed, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &signed, &stderr
	runErr := cmd.Run()
	if errors.Is(runErr, exec.ErrNotFound) {
		return nil, fmt.Errorf("gpgv (package gpgv): %w", runErr)
	}
	lines, err := os.ReadFile(status.Name())
	if err != nil {
		return nil, err
	}
	valid, bad := 0, 0
	for _, line := range strings.Split(string(lines), "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 1 && f[1] == "VALIDSIG":
			valid++
		case len(f) > 1 && f[1] == "BADSIG":
			bad++
		}
	}
	if valid == 0 || bad > 0 {
		return nil, fmt.Errorf("gpgv with %s: %d good and %d bad signatures (%v)\n%s", keyring, valid, bad, runErr, stderr.String())
	}
	return signed.Bytes(), nil
}

// packagesIndexes fetches, verifies and caches the main component's
// Packages index of every suite for arch.
func packagesIndexes(ctx context.Context, cache string, releases map[debianSuite]stanza, suites []debianSuite, arch string) ([]debianIndex, error) {
	var out []debianIndex
	for _, s := range suites {
		name := "main/binary-" + arch + "/Packages.xz"
		sum := hashList(releases[s]["SHA256"])[name]
		if sum == "" {
			return nil, fmt.Errorf("%s %s: the Release file lists no %s", s.Mirror, s.Name, name)
		}
		path := filepath.Join(cache, "debian", "indexes", sum+".xz")
		if _, err := cachedFile(ctx, path, s.Mirror+"/dists/"+s.Name+"/"+name, sum); err != nil {
			return nil, err
		}
		out = append(out, debianIndex{Suite: s, Path: path, SHA256: sum})
	}
	return out, nil
}

// packageFields are the fields of a Packages index that are used.
var packageFields = map[string]bool{
	"Package": true, "Version": true, "Architecture": true, "Essential": true,
	"Depends": true, "Pre-Depends": true, "Provides": true, "Filename": true,
	"SHA256": true, "Source": true,
}

// readIndex parses a cached Packages.xz.
func readIndex(ix debianIndex) ([]stanza, error) {
	f, err := os.Open(ix.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := xz.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ix.Path, err)
	}
	st, err := parseStanzas(r, packageFields)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ix.Path, err)
	}
	for _, p := range st {
		p["Mirror"] = ix.Suite.Mirror
	}
	return st, nil
}
