package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// cyclonedxGomod is the SBOM generator, run at a fixed version.
const cyclonedxGomod = "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0"

// writeSBOM writes a CycloneDX SBOM (JSON) of previewd as built for
// linux/amd64: the Go modules linked into it, the standard library among
// them, with their licenses where detected. The main module's version is
// read from git: the tag on a tagged commit, a pseudo-version otherwise.
// Without a serial number or timestamp, a rebuild gives the same file.
func writeSBOM(ctx context.Context, cache, out, version string) (artefact, error) {
	tool, err := installTool(ctx, cache, cyclonedxGomod, "cyclonedx-gomod")
	if err != nil {
		return artefact{}, err
	}
	name := fmt.Sprintf("previewd_%s_sbom.cdx.json", version)
	cmd := exec.CommandContext(ctx, tool, "app", "-json", "-licenses", "-std", "-noserial", "-notimestamp",
		"-output", filepath.Join(out, name), "-main", "cmd/previewd", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return artefact{}, fmt.Errorf("cyclonedx-gomod: %w\n%s", err, b)
	}
	return artefact{Name: name, Kind: "sbom", Command: "previewd"}, nil
}

// installTool builds a Go command at a fixed version into the cache once.
func installTool(ctx context.Context, cache, pkgAtVersion, name string) (string, error) {
	dir, err := filepath.Abs(filepath.Join(cache, "tools", filepath.Base(pkgAtVersion)))
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", pkgAtVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %w\n%s", pkgAtVersion, err, b)
	}
	return bin, nil
}
