package main

import (
	"archive/tar"
	"bufio"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSnapshot builds a snapshot release into a temporary directory, with
// the repository's cache (.cache/release), and checks everything in it.
// Cold, it builds Terraform twice and the Debian userland (about 15
// minutes); warm, a few minutes. It fails when something it needs is
// missing and CI=true; elsewhere it skips, saying what is missing.
func TestSnapshot(t *testing.T) {
	root := repoRoot(t)
	requireTools(t)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "dist")
	prog := filepath.Join(tmp, "release")
	run(t, root, "go", "build", "-o", prog, "./scripts/release")
	start := time.Now()
	run(t, root, prog, "--snapshot", "--out", out, "--cache", filepath.Join(root, ".cache", "release"))
	t.Logf("snapshot built in %s", time.Since(start).Round(time.Second))

	var rel releaseInfo
	readJSON(t, filepath.Join(out, releaseJSON), &rel)
	if !rel.Snapshot || !versionPattern.MatchString(rel.Version) || !strings.Contains(rel.Version, "-snapshot.") {
		t.Fatalf("release.json: version %q, snapshot %v", rel.Version, rel.Snapshot)
	}
	t.Run("binaries", func(t *testing.T) { checkBinaries(t, out, rel.Version) })
	t.Run("checksums", func(t *testing.T) { checkChecksums(t, out, rel) })
	t.Run("sbom", func(t *testing.T) { checkSBOM(t, out, rel.Version) })
	t.Run("image", func(t *testing.T) { checkImage(t, out, rel) })
}

// repoRoot is the module's root, two directories up.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	return root
}

// requireTools checks what a snapshot needs besides Go: gpgv and Debian's
// keyring to verify the archive, and the archive itself.
func requireTools(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gpgv"); err != nil {
		missing(t, "gpgv (Debian's gpgv package): %v", err)
	}
	if _, err := os.Stat("/usr/share/keyrings/debian-archive-keyring.gpg"); err != nil {
		missing(t, "Debian's archive keyring (the debian-archive-keyring package): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, "https://deb.debian.org/debian/dists/bookworm/InRelease", nil)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		missing(t, "Debian's archive at deb.debian.org: %v", err)
	}
}

// missing fails the test in CI and skips it elsewhere.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := "a snapshot release needs " + fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// checkBinaries: every command for every platform, of that platform,
// static on linux, built with -trimpath and without cgo; the one for this
// machine prints the version.
func checkBinaries(t *testing.T, out, version string) {
	for _, p := range binaryPlatforms {
		for _, c := range commands {
			file := filepath.Join(out, binaryName(c, version, p))
			if got := executableArch(t, file); got != p.String() {
				t.Errorf("%s: built for %s, want %s", filepath.Base(file), got, p)
			}
			info, err := buildinfo.ReadFile(file)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			if settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != "0" {
				t.Errorf("%s: build settings %v, want -trimpath and CGO_ENABLED=0", filepath.Base(file), settings)
			}
		}
	}
	native := platform{runtime.GOOS, runtime.GOARCH}
	bin := filepath.Join(out, binaryName("previewd", version, native))
	if _, err := os.Stat(bin); err != nil {
		t.Logf("no previewd for %s to run", native)
		return
	}
	if got, want := run(t, out, bin, "version"), "previewd "+version+"\n"; got != want {
		t.Errorf("previewd version printed %q, want %q", got, want)
	}
}

// executableArch reads an ELF or Mach-O file's OS/architecture.
func executableArch(t *testing.T, file string) string {
	t.Helper()
	if f, err := elf.Open(file); err == nil {
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s: dynamically linked", filepath.Base(file))
			}
		}
		return "linux/" + map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
	}
	f, err := macho.Open(file)
	if err != nil {
		t.Fatalf("%s: neither ELF nor Mach-O: %v", file, err)
	}
	defer f.Close()
	return "darwin/" + map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
}

// checkChecksums: the checksums file lists every released file, and each
// sum is right.
func checkChecksums(t *testing.T, out string, rel releaseInfo) {
	f, err := os.Open(filepath.Join(out, rel.Checksums))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("checksums: bad line %q", sc.Text())
		}
		listed[name] = sum
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || name == rel.Checksums || name == releaseJSON || name == outMarker {
			continue
		}
		got, err := fileSHA256(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if listed[name] != got {
			t.Errorf("checksums: %s listed as %q, is %s", name, listed[name], got)
		}
		delete(listed, name)
	}
	for name := range listed {
		t.Errorf("checksums: %s listed, not in dist", name)
	}
	if want := 2*len(binaryPlatforms) + 1; len(rel.Artefacts) != want {
		t.Errorf("release.json: %d artefacts, want %d", len(rel.Artefacts), want)
	}
}

// checkSBOM: a CycloneDX document of previewd naming its dependencies.
func checkSBOM(t *testing.T, out, version string) {
	var bom struct {
		BOMFormat string `json:"bomFormat"`
		Metadata  struct {
			Component struct{ Name string } `json:"component"`
		} `json:"metadata"`
		Components []struct{ Name, Version string } `json:"components"`
	}
	readJSON(t, filepath.Join(out, "previewd_"+version+"_sbom.cdx.json"), &bom)
	if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Name != "github.com/previewd/previewd" {
		t.Errorf("SBOM: format %q, component %q", bom.BOMFormat, bom.Metadata.Component.Name)
	}
	names := map[string]bool{}
	for _, c := range bom.Components {
		names[c.Name] = c.Version != ""
	}
	for _, want := range []string{"github.com/google/go-github/v60", "go.etcd.io/bbolt", "github.com/jackc/pgx/v5", "std"} {
		if !names[want] {
			t.Errorf("SBOM: no %s with a version", want)
		}
	}
}

// tarEntry is a file of an image's filesystem: its header, and its first
// bytes (all of a small file).
type tarEntry struct {
	hdr  *tar.Header
	head []byte
}
