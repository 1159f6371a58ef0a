package main

import (
	"strings"
	"testing"
)

// TestEverySubcommandHelp asks each subcommand for help both ways: it
// prints its usage and every flag to stdout, nothing to stderr, and exits
// 0 without doing anything else.
func TestEverySubcommandHelp(t *testing.T) {
	t.Setenv("PREVIEWD_CONFIG", "")
	commands := []struct {
		args  []string
		flags []string
	}{
		{[]string{"serve"}, []string{"-config"}},
		{[]string{"parity"}, []string{"-config", "-repo", "-json", "-all", "-plan", "-pr", "-branch", "-head-sha", "-preview-var-file", "-preview-var"}},
		{[]string{"backup"}, []string{"-out", "-url", "-data-dir"}},
		{[]string{"store"}, []string{"migrate"}},
		{[]string{"store", "migrate"}, []string{"-from", "-to"}},
		{[]string{"version"}, nil},
		{[]string{"help"}, []string{"serve", "parity", "backup", "store migrate", "version"}},
	}
	for _, c := range commands {
		for _, help := range []string{"--help", "-h"} {
			args := append(append([]string{}, c.args...), help)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errOut strings.Builder
				if code := run(args, &out, &errOut); code != 0 {
					t.Errorf("exit %d, want 0 (stderr %q)", code, errOut.String())
				}
				if errOut.Len() > 0 {
					t.Errorf("stderr %q, want nothing", errOut.String())
				}
				want, listed := "Usage: previewd "+strings.Join(c.args, " "), "  "
				if c.args[0] == "help" {
					want, listed = "Usage:", "previewd "
				}
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout %q, want the usage %q", out.String(), want)
				}
				for _, f := range c.flags {
					if !strings.Contains(out.String(), listed+f) {
						t.Errorf("stdout %q does not list %s", out.String(), f)
					}
				}
			})
		}
	}
	// help COMMAND is COMMAND --help.
	var out, errOut strings.Builder
	if code := run([]string{"help", "backup"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "  -data-dir") {
		t.Errorf("help backup: exit %d, stdout %q", code, out.String())
	}
	// A flag no command has is still an error, on stderr.
	out.Reset()
	errOut.Reset()
	if code := run([]string{"serve", "--bogus"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-bogus") || out.Len() > 0 {
		t.Errorf("serve --bogus: exit %d, stdout %q, stderr %q; want 2 and the problem on stderr", code, out.String(), errOut.String())
	}
}
