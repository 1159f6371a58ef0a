// Command release builds a versioned release of previewd into dist/:
//
//   - previewd and preview-web for linux and darwin, amd64 and arm64
//     (static, -trimpath, the version stamped into previewd);
//   - a linux/amd64 + linux/arm64 container image as an OCI image layout:
//     a Debian bookworm userland (ca-certificates, git, openssh-client)
//     assembled from Debian's signed archive, previewd, preview-web,
//     Terraform built from the Go module proxy, and the examples;
//   - a CycloneDX SBOM of previewd, SHA-256 checksums of every file
//     released, and release.json, which says what was built.
//
// Nothing is published: a workflow uploads the files and pushes the
// layout. Slow parts (Terraform's cross builds, the Debian packages and
// the userland layers) are cached under .cache/release.
//
// Usage:
//
//	go run ./scripts/release --snapshot          a snapshot version from git
//	go run ./scripts/release --version v1.2.3    a release (v1.2.3 tags HEAD)
//
// --terraform-version sets the image's Terraform (v1.5.7); --tofu-version
// adds OpenTofu. docs/install.md#releases-and-images says more.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

// options are the command line's settings.
type options struct {
	Version          string
	Snapshot         bool
	Out, Cache       string
	TerraformVersion string
	TofuVersion      string
	DebianMirror     string
	SecurityMirror   string
	Keyring          string
	Source           string
}

func main() {
	o := options{}
	flag.StringVar(&o.Version, "version", "", "the release's `version` (v1.2.3), as its tag")
	flag.BoolVar(&o.Snapshot, "snapshot", false, "build a snapshot, versioned from git (with --version: that version)")
	flag.StringVar(&o.Out, "out", "dist", "output `directory`; replaced")
	flag.StringVar(&o.Cache, "cache", filepath.Join(".cache", "release"), "cache `directory`")
	flag.StringVar(&o.TerraformVersion, "terraform-version", "v1.5.7", "the image's Terraform `version`, built from the Go module proxy")
	flag.StringVar(&o.TofuVersion, "tofu-version", "", "also put OpenTofu of this `version` (v1.10.10) in the image, as /usr/local/bin/tofu")
	flag.StringVar(&o.DebianMirror, "debian-mirror", "https://deb.debian.org/debian", "Debian archive `URL`")
	flag.StringVar(&o.SecurityMirror, "debian-security-mirror", "https://deb.debian.org/debian-security", "Debian security archive `URL`")
	flag.StringVar(&o.Keyring, "debian-keyring", "/usr/share/keyrings/debian-archive-keyring.gpg", "keyring gpgv checks Debian's archive with")
	flag.StringVar(&o.Source, "source", sourceURL(), "repository `URL` for the image's org.opencontainers.image.source label")
	flag.Parse()
	if flag.NArg() > 0 || !o.Snapshot && o.Version == "" {
		fmt.Fprintln(os.Stderr, "usage: release --snapshot | --version vX.Y.Z [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	rel, err := release(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
	fmt.Printf("release: %s in %s, image %s, in %s\n", rel.Version, o.Out, rel.Image.Digest, time.Since(start).Round(time.Second))
}

// engines are the Terraform engines the image holds.
func (o options) engines() []engine {
	e := []engine{terraformEngine(o.TerraformVersion)}
	if o.TofuVersion != "" {
		e = append(e, tofuEngine(o.TofuVersion))
	}
	return e
}

// sourceURL is the repository's URL when run by GitHub Actions.
func sourceURL() string {
	server, repo := os.Getenv("GITHUB_SERVER_URL"), os.Getenv("GITHUB_REPOSITORY")
	if server == "" || repo == "" {
		return ""
	}
	return server + "/" + repo
}

// step runs one part of the release, saying how long it took.
func step(name string, fn func() error) error {
	start := time.Now()
	fmt.Printf("release: %s\n", name)
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Printf("release: %s: done in %s\n", name, time.Since(start).Round(100*time.Millisecond))
	return nil
}
