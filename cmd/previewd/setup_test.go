package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/previewd/previewd/appsetup"
)

// TestSetupHelp: previewd setup --help lists its flags on stdout and
// exits 0.
func TestSetupHelp(t *testing.T) {
	t.Setenv("PREVIEWD_CONFIG", "")
	for _, help := range []string{"--help", "-h"} {
		var out, errOut strings.Builder
		if code := run([]string{"setup", help}, &out, &errOut); code != 0 || errOut.Len() > 0 {
			t.Errorf("setup %s: exit %d, stderr %q; want 0 and nothing", help, code, errOut.String())
		}
		for _, f := range []string{"Usage: previewd setup", "  -listen", "  -org", "  -out", "  -kubernetes", "  -force", "  -name", "  -public-url", "  -config"} {
			if !strings.Contains(out.String(), f) {
				t.Errorf("setup %s: stdout %q does not list %s", help, out.String(), f)
			}
		}
	}
}

// TestSetupRefusesBeforeServing: without a public URL, or with a file in
// the way and no --force, previewd setup stops before serving anything.
func TestSetupRefusesBeforeServing(t *testing.T) {
	t.Setenv("PREVIEWD_CONFIG", "")
	t.Setenv("PREVIEWD_PUBLIC_URL", "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, appsetup.SecretFile), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"setup", "--out", dir}, 2, "--public-url"},
		{[]string{"setup", "--out", dir, "--public-url", "https://previewd.example.com", "--listen", "127.0.0.1:0"}, 1, "exists (--force writes over it)"},
	} {
		var out, errOut strings.Builder
		if code := run(c.args, &out, &errOut); code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, appsetup.SecretFile)); string(got) != "old" {
		t.Errorf("the existing secret file now holds %q", got)
	}
}
