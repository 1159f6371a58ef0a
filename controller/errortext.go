package controller

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// absolutePath finds an absolute path in an error's text: a slash after
// the start, a space, a quote, a bracket or "=", up to a space, quote,
// bracket, colon or comma. "scheme://host/…" is left alone (its slashes
// follow a colon).
var absolutePath = regexp.MustCompile(`(^|[\s"'(\[=])(/[^\s"'()\[\]:,;]*)`)

// publicPaths rewrites the server paths in s, an error about to be shown
// on a pull request or in the API, so it says nothing about the server's
// layout: a path under dataDir becomes relative to it ("envs/x/module"),
// any other path of this machine (one whose directory exists) keeps only
// its last element ("…/preview-web"). Text that only looks like a path
// (an API route, a regular expression) is left alone.
func publicPaths(s, dataDir string) string {
	dataDir = filepath.Clean(dataDir)
	return absolutePath.ReplaceAllStringFunc(s, func(m string) string {
		i := strings.IndexByte(m, '/')
		lead, path := m[:i], m[i:]
		switch {
		case dataDir != "/" && dataDir != "." && path == dataDir:
			return lead + "."
		case dataDir != "/" && dataDir != "." && strings.HasPrefix(path, dataDir+"/"):
			return lead + strings.TrimPrefix(path, dataDir+"/")
		case path != "/" && onThisMachine(path):
			return lead + "…/" + filepath.Base(path)
		default:
			return m
		}
	})
}

// onThisMachine reports whether path, or the directory it would be in,
// exists here.
func onThisMachine(path string) bool {
	for _, p := range []string{path, filepath.Dir(path)} {
		if p == "/" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
