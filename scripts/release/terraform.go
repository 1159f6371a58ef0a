package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// engine is a Terraform engine the image can hold, built from the Go
// module proxy as the Makefile and the Dockerfile build it.
type engine struct {
	Name    string // the binary's name in /usr/local/bin
	Module  string
	Version string
	Package string // the main package, in the module
	Ldflags string
}

func terraformEngine(version string) engine {
	return engine{Name: "terraform", Module: "github.com/hashicorp/terraform", Version: version, Package: ".", Ldflags: "-s -w"}
}

// tofuEngine is OpenTofu, built as its releases are (version.dev=no).
func tofuEngine(version string) engine {
	return engine{Name: "tofu", Module: "github.com/opentofu/opentofu", Version: version, Package: "./cmd/tofu",
		Ldflags: "-s -w -X github.com/opentofu/opentofu/version.dev=no"}
}

// buildEngine returns e's binary for each image platform, cached in
// cache/NAME/VERSION/OS_ARCH. It is built inside its module as downloaded:
// go install refuses to cross-compile into GOBIN, and OpenTofu's go.mod
// has replace directives.
func buildEngine(ctx context.Context, cache string, e engine) (map[platform]string, error) {
	out := map[platform]string{}
	var moduleDir string
	for _, p := range imagePlatforms {
		bin, err := filepath.Abs(filepath.Join(cache, e.Name, e.Version, p.OS+"_"+p.Arch, e.Name))
		if err != nil {
			return nil, err
		}
		out[p] = bin
		if _, err := os.Stat(bin); err == nil {
			continue
		}
		if moduleDir == "" {
			if moduleDir, err = downloadModule(ctx, e.Module+"@"+e.Version); err != nil {
				return nil, err
			}
		}
		fmt.Printf("release: building %s %s for %s (minutes, once; then cached)\n", e.Name, e.Version, p)
		if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
			return nil, err
		}
		tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid()) // another run may be building it too
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", e.Ldflags, "-o", tmp, e.Package)
		cmd.Dir = moduleDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=-mod=mod -buildvcs=false")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		err = cmd.Run()
		if err == nil {
			err = os.Rename(tmp, bin)
		}
		if err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("building %s %s for %s: %w", e.Name, e.Version, p, err)
		}
	}
	return out, nil
}

// downloadModule fetches module@version into the module cache and returns
// its directory there.
func downloadModule(ctx context.Context, module string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module)
	cmd.Dir = os.TempDir() // outside any module, so previewd's go.mod is left alone
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); err == nil && jerr != nil {
		err = jerr
	}
	if err != nil || m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s", module, err, m.Error)
	}
	return m.Dir, nil
}
