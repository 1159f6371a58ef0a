package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests run scripts/check-tracked.sh, which `make test` runs on the
// repository, against temporary git repositories.

// trackedFile is a file to stage in a temporary repository.
type trackedFile struct {
	name string
	body []byte
	exec bool
}

// checkTracked stages files in a new git repository and runs the check on
// it, returning its exit code and what it printed.
func checkTracked(t *testing.T, files []trackedFile) (int, string) {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	for _, f := range files {
		mode := os.FileMode(0o644)
		if f.exec {
			mode = 0o755
		}
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.body, mode); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", ".")
	return runCheckTracked(t, dir)
}

func runCheckTracked(t *testing.T, dir string) (int, string) {
	t.Helper()
	script, err := filepath.Abs("../../scripts/check-tracked.sh")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(script, dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("run %s: %v\n%s", script, err, out.String())
	return 0, ""
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestCheckTrackedRefusesBigFilesAndBinaries(t *testing.T) {
	const mb = 1 << 20
	text := func(n int) []byte { return bytes.Repeat([]byte("a"), n) }
	source := trackedFile{"main.go", []byte("package main\n"), false}
	tests := []struct {
		name string
		file trackedFile
		want string // the error line naming the file; empty: the check passes
	}{
		{"source only", source, ""},
		{"a text file of exactly 1 MB", trackedFile{"data/exact.txt", text(mb), false}, ""},
		{"an executable script", trackedFile{"scripts/run.sh", []byte("#!/bin/sh\necho hi\n"), true}, ""},
		{"text that starts like a PE file", trackedFile{"notes.txt", []byte("MZ is a text line\n"), false}, ""},
		{"a text file over 1 MB", trackedFile{"data/big.txt", text(mb + 1), false}, "data/big.txt: 1048577 bytes, larger than 1 MB"},
		{"an ELF binary, not marked executable", trackedFile{"cmd/previewd/previewd", []byte("\x7fELF\x02\x01\x01\x00"), false}, "cmd/previewd/previewd: executable binary (ELF)"},
		{"a PE binary", trackedFile{"previewd.exe", []byte("MZ\x90\x00\x03\x00"), false}, "previewd.exe: executable binary (PE)"},
		{"a 64-bit Mach-O binary", trackedFile{"bin/previewd", []byte("\xcf\xfa\xed\xfe\x07\x00\x00\x01"), true}, "bin/previewd: executable binary (Mach-O)"},
		{"a big-endian Mach-O binary", trackedFile{"previewd-ppc", []byte("\xfe\xed\xfa\xce\x00\x00\x00\x12"), false}, "previewd-ppc: executable binary (Mach-O)"},
		{"a universal Mach-O binary", trackedFile{"previewd-universal", []byte("\xca\xfe\xba\xbe\x00\x00\x00\x02"), false}, "previewd-universal: executable binary (Mach-O universal)"},
		{"an unknown binary tracked as executable", trackedFile{"tool", []byte("\x01\x02\x00\x05"), true}, "tool: executable binary (binary tracked as executable)"},
		{"a path with spaces", trackedFile{"odd dir/a binary", []byte("\x7fELF\x02"), false}, "odd dir/a binary: executable binary (ELF)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := checkTracked(t, []trackedFile{source, tt.file})
			if tt.want == "" {
				if code != 0 {
					t.Errorf("got exit %d, want 0:\n%s", code, out)
				}
				return
			}
			if code == 0 || !strings.Contains(out, "check-tracked: "+tt.want+"\n") {
				t.Errorf("got exit %d and\n%s\nwant a failure naming %q", code, out, tt.want)
			}
			if strings.Contains(out, "main.go") {
				t.Errorf("the clean main.go was named too:\n%s", out)
			}
		})
	}
}

func TestCheckTrackedNamesEveryOffender(t *testing.T) {
	code, out := checkTracked(t, []trackedFile{
		{"big.txt", bytes.Repeat([]byte("a"), 2<<20), false},
		{"previewd", []byte("\x7fELF\x02\x01\x01\x00"), true},
	})
	if code == 0 || !strings.Contains(out, "big.txt:") || !strings.Contains(out, "previewd:") {
		t.Errorf("got exit %d and\n%s\nwant a failure naming big.txt and previewd", code, out)
	}
}

func TestCheckTrackedPassesThisRepository(t *testing.T) {
	if code, out := runCheckTracked(t, "../.."); code != 0 {
		t.Errorf("got exit %d, want this repository clean:\n%s", code, out)
	}
}
