package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// platform is a GOOS/GOARCH pair.
type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// binaryPlatforms are those previewd and preview-web are released for;
// imagePlatforms those the image is built for.
var (
	binaryPlatforms = []platform{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}}
	imagePlatforms  = []platform{{"linux", "amd64"}, {"linux", "arm64"}}
	commands        = []string{"previewd", "preview-web"}
)

// binaryName is a released binary's file name in dist/.
func binaryName(command, version string, p platform) string {
	return fmt.Sprintf("%s_%s_%s_%s", command, version, p.OS, p.Arch)
}

// buildBinaries cross-compiles every command for every platform into out:
// static (CGO_ENABLED=0), without local paths (-trimpath) or symbols, the
// version in main.version.
func buildBinaries(ctx context.Context, out, version string) ([]artefact, error) {
	var arts []artefact
	for _, p := range binaryPlatforms {
		for _, c := range commands {
			name := binaryName(c, version, p)
			cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
				"-ldflags", "-s -w -X main.version="+version,
				"-o", filepath.Join(out, name), "./cmd/"+c)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("go build %s for %s: %w", c, p, err)
			}
			arts = append(arts, artefact{Name: name, Kind: "binary", Command: c, OS: p.OS, Arch: p.Arch})
		}
	}
	return arts, nil
}
