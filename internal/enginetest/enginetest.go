// Package enginetest finds the OpenTofu binary for the tests that run on
// both engines (`make test` builds it into ./bin).
package enginetest

import (
	"os"
	"path/filepath"
	"testing"
)

// Tofu returns the OpenTofu binary: PREVIEWD_TOFU_BIN, or bin/tofu under
// root, the repository's root as the test's directory reaches it ("..",
// "../.."). Without one the test fails under CI (make test builds it) and
// is skipped elsewhere, saying how to get one.
func Tofu(t testing.TB, root string) string {
	t.Helper()
	bin := os.Getenv("PREVIEWD_TOFU_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin", "tofu")
	}
	abs, err := filepath.Abs(bin)
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no OpenTofu binary (%v): make test builds one into bin/", err)
		}
		t.Skipf("no OpenTofu binary (%v): `make tofu` builds one into bin/, or set PREVIEWD_TOFU_BIN", err)
	}
	return abs
}
