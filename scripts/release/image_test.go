package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// checkImage reads the OCI layout: one index, tagged with the version,
// of a linux/amd64 and a linux/arm64 image, each with the Dockerfile's
// runtime contract and the files previewd needs.
func checkImage(t *testing.T, out string, rel releaseInfo) {
	lp, err := layout.ImageIndexFromPath(filepath.Join(out, "image"))
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || !top.Manifests[0].MediaType.IsIndex() ||
		top.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != rel.Version {
		t.Fatalf("index.json: want one image index named %s, have %+v", rel.Version, top.Manifests)
	}
	if got := top.Manifests[0].Digest.String(); got != rel.Image.Digest {
		t.Errorf("index digest %s, release.json says %s", got, rel.Image.Digest)
	}
	idx, err := lp.ImageIndex(top.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, d := range im.Manifests {
		platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(d.Platform.Architecture, func(t *testing.T) {
			t.Parallel()
			checkPlatformImage(t, img, d.Platform.Architecture, rel)
		})
	}
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("image platforms %v, want linux/amd64 and linux/arm64", platforms)
	}
}

func checkPlatformImage(t *testing.T, img v1.Image, arch string, rel releaseInfo) {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != arch {
		t.Errorf("config: %s/%s", cf.OS, cf.Architecture)
	}
	if c.Labels["org.opencontainers.image.version"] != rel.Version || c.Labels["org.opencontainers.image.revision"] != rel.Commit {
		t.Errorf("config labels %v, want version %s, revision %s", c.Labels, rel.Version, rel.Commit)
	}
	if c.User != "10001:10001" || c.WorkingDir != "/var/lib/previewd" ||
		!slices.Equal(c.Entrypoint, []string{"/usr/local/bin/previewd"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("config: user %q, workdir %q, entrypoint %q, cmd %q", c.User, c.WorkingDir, c.Entrypoint, c.Cmd)
	}
	if _, ok := c.Volumes["/var/lib/previewd"]; !ok {
		t.Errorf("config: volumes %v", c.Volumes)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("config: exposed ports %v", c.ExposedPorts)
	}
	for _, env := range []string{"PREVIEWD_LISTEN_ADDR=0.0.0.0:8080", "PREVIEWD_DATA_DIR=/var/lib/previewd", "PREVIEWD_TERRAFORM_BIN=/usr/local/bin/terraform"} {
		if !slices.Contains(c.Env, env) {
			t.Errorf("config: env %q lacks %s", c.Env, env)
		}
	}
	// On a machine of the image's platform, the image is also unpacked
	// (in the same pass: a layer is slow to read under the race detector)
	// and its commands run.
	root := ""
	if runtime.GOOS == "linux" && runtime.GOARCH == arch {
		root = t.TempDir()
	}
	fs := imageFiles(t, img, root)
	checkImageFiles(t, fs, arch)
	if root != "" {
		runImageCommands(t, root, rel.Version)
	}
}

// imageFiles reads the image's flattened filesystem: every entry's header
// and the first 4 kB of its content. With root, it also unpacks it there.
func imageFiles(t *testing.T, img v1.Image, root string) map[string]tarEntry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	fs := map[string]tarEntry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fs
		}
		if err != nil {
			t.Fatal(err)
		}
		var head bytes.Buffer
		body := io.TeeReader(tr, &limitedWriter{&head, 4096})
		if root != "" {
			unpackEntry(t, root, h, body)
		}
		io.Copy(io.Discard, body)
		fs[strings.Trim(h.Name, "/")] = tarEntry{hdr: h, head: head.Bytes()}
	}
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	b *bytes.Buffer
	n int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.n - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// elfMachines are the ELF e_machine values of the image's architectures.
var elfMachines = map[string]uint16{"amd64": uint16(elf.EM_X86_64), "arm64": uint16(elf.EM_AARCH64)}

func checkImageFiles(t *testing.T, fs map[string]tarEntry, arch string) {
	for _, bin := range []string{"usr/local/bin/previewd", "usr/local/bin/preview-web", "usr/local/bin/terraform", "usr/bin/git", "usr/bin/ssh"} {
		e, ok := fs[bin]
		if !ok {
			t.Errorf("no /%s", bin)
			continue
		}
		head := e.head
		if len(head) < 20 || string(head[:4]) != "\x7fELF" || binary.LittleEndian.Uint16(head[18:20]) != elfMachines[arch] {
			t.Errorf("/%s is not an ELF executable for %s", bin, arch)
		}
		if e.hdr.Mode&0o111 == 0 {
			t.Errorf("/%s is not executable", bin)
		}
	}
	wants := map[string]string{
		"etc/ssl/certs/ca-certificates.crt":   "-----BEGIN CERTIFICATE-----",
		"etc/passwd":                          "root:",
		"etc/group":                           "root:",
		"var/lib/dpkg/status":                 "Package: ",
		"opt/previewd/examples/previewd.yaml": "",
		"usr/share/doc/git/copyright":         "",
		"etc/os-release":                      "",
		"usr/lib/os-release":                  "Debian GNU/Linux 12 (bookworm)",
	}
	for name, want := range wants {
		e, ok := fs[name]
		if !ok || !bytes.Contains(e.head, []byte(want)) {
			t.Errorf("/%s missing, or without %q", name, want)
		}
	}
	if e := fs["etc/ssl/certs/ca-certificates.crt"]; e.hdr == nil || e.hdr.Size < 100_000 {
		t.Errorf("the CA bundle is missing or small")
	}
	if e := fs["var/lib/previewd"]; e.hdr == nil || e.hdr.Typeflag != tar.TypeDir || e.hdr.Uid != runtimeUID || e.hdr.Gid != runtimeUID {
		t.Errorf("/var/lib/previewd is not a directory owned by %d", runtimeUID)
	}
	if e := fs["tmp"]; e.hdr == nil || e.hdr.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp is not a sticky directory writable by all")
	}
	if e := fs["bin"]; e.hdr == nil || e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != "usr/bin" {
		t.Errorf("/bin is not a link to usr/bin")
	}
}

// runImageCommands runs the unpacked image's previewd and Terraform, and
// its git and ssh through its own dynamic loader and libraries (no chroot
// needed).
func runImageCommands(t *testing.T, root, version string) {
	if got := run(t, root, filepath.Join(root, "usr/local/bin/previewd"), "version"); got != "previewd "+version+"\n" {
		t.Errorf("the image's previewd version printed %q", got)
	}
	if got := run(t, root, filepath.Join(root, "usr/local/bin/terraform"), "version"); !strings.Contains(got, "Terraform v") {
		t.Errorf("the image's terraform version printed %q", got)
	}
	libs := filepath.Join(root, "usr/lib/x86_64-linux-gnu")
	loader := filepath.Join(libs, "ld-linux-x86-64.so.2")
	if runtime.GOARCH == "arm64" {
		libs = filepath.Join(root, "usr/lib/aarch64-linux-gnu")
		loader = filepath.Join(libs, "ld-linux-aarch64.so.1")
	}
	for _, cmd := range [][]string{{"usr/bin/git", "--version"}, {"usr/bin/ssh", "-V"}} {
		got := run(t, root, loader, "--library-path", libs, filepath.Join(root, cmd[0]), cmd[1])
		if !strings.Contains(got, "git version") && !strings.Contains(got, "OpenSSH") {
			t.Errorf("the image's %s %s printed %q", cmd[0], cmd[1], got)
		}
	}
}

// unpackEntry writes a regular file, directory or link under root (the
// release's own image: its paths are trusted to stay inside).
func unpackEntry(t *testing.T, root string, h *tar.Header, body io.Reader) {
	t.Helper()
	p := filepath.Join(root, filepath.Clean("/"+h.Name))
	os.MkdirAll(filepath.Dir(p), 0o755)
	var err error
	switch h.Typeflag {
	case tar.TypeDir:
		err = os.MkdirAll(p, 0o755)
	case tar.TypeSymlink:
		err = os.Symlink(h.Linkname, p)
	case tar.TypeLink:
		err = os.Link(filepath.Join(root, filepath.Clean("/"+h.Linkname)), p)
	case tar.TypeReg:
		err = writeFile(p, body, os.FileMode(h.Mode)&0o755|0o600)
	}
	if err != nil {
		t.Fatalf("unpacking %s: %v", h.Name, err)
	}
}

func writeFile(p string, r io.Reader, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
