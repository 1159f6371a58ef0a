package main

import (
	"slices"
	"strings"
	"testing"
)

func TestCompareDebianVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.1", -1},
		{"1:1.0", "2.0", 1},
		{"1.0~rc1", "1.0", -1},
		{"2.36-9+deb12u14", "2.36-9+deb12u4", 1},
		{"20250419~deb12u2", "20230311", 1},
		{"1.2.3-1", "1.2.3-1.1", -1},
		{"10.42-1+deb12u2", "10.42-1", 1},
		{"1.0a", "1.0+", -1},
	} {
		got := compareDebianVersions(c.a, c.b)
		if got < 0 && c.want >= 0 || got > 0 && c.want <= 0 || got == 0 && c.want != 0 {
			t.Errorf("compare(%q, %q) = %d, want sign %d", c.a, c.b, got, c.want)
		}
	}
}

func TestResolve(t *testing.T) {
	index := `Package: base
Architecture: amd64
Version: 1
Essential: yes
Pre-Depends: awk

Package: gawk
Architecture: amd64
Version: 1
Provides: awk

Package: mawk
Architecture: amd64
Version: 1
Provides: awk

Package: git
Architecture: amd64
Version: 1:2.39-1
Depends: libc6 (>= 2.34), perl:any | perl-base, git-man (<< 1:2.39-.)

Package: git
Architecture: amd64
Version: 1:2.39-1+deb12u3
Depends: libc6 (>= 2.34), perl:any, git-man (<< 1:2.39-.)

Package: git-man
Architecture: all
Version: 1:2.39-1

Package: libc6
Architecture: amd64
Version: 2.36

Package: perl
Architecture: amd64
Version: 5.36

Package: tool
Architecture: arm64
Version: 1
`
	st, err := parseStanzas(strings.NewReader(index), nil)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := newDebianCatalog(st, "amd64").resolve([]string{"git", "mawk"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"="+p.Version)
	}
	want := []string{"base=1", "git=1:2.39-1+deb12u3", "git-man=1:2.39-1", "libc6=2.36", "mawk=1", "perl=5.36"}
	if !slices.Equal(got, want) {
		t.Errorf("resolved %v, want %v", got, want)
	}
	if _, err := newDebianCatalog(st, "amd64").resolve([]string{"tool"}); err == nil {
		t.Error("an arm64 package resolved for amd64")
	}
}

func TestUsrMerged(t *testing.T) {
	for in, want := range map[string]string{
		"./":                 "",
		"./bin/sh":           "usr/bin/sh",
		"./lib/x86_64/libc":  "usr/lib/x86_64/libc",
		"./usr/bin/git":      "usr/bin/git",
		"./library/x":        "library/x",
		"./sbin":             "usr/sbin",
		"./etc/../etc/hosts": "etc/hosts",
	} {
		if got := usrMerged(in); got != want {
			t.Errorf("usrMerged(%q) = %q, want %q", in, got, want)
		}
	}
	for name, want := range map[string]bool{
		"usr/share/doc/git":           false,
		"usr/share/doc/git/copyright": false,
		"usr/share/doc/git/README.md": true,
		"usr/share/man/man1/git.1.gz": true,
		"usr/share/git-core":          false,
	} {
		if got := slimmed(name, !strings.Contains(name, ".")); got != want {
			t.Errorf("slimmed(%q) = %v, want %v", name, got, want)
		}
	}
}
