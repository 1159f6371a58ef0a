package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"
)

// artefact is a released file in dist/.
type artefact struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"` // binary or sbom
	Command string `json:"command,omitempty"`
	OS      string `json:"os,omitempty"`
	Arch    string `json:"arch,omitempty"`
	SHA256  string `json:"sha256"`
}

// releaseInfo is release.json: what was built, from what.
type releaseInfo struct {
	source
	Snapshot         bool                `json:"snapshot"`
	TerraformVersion string              `json:"terraform_version"`
	TofuVersion      string              `json:"tofu_version,omitempty"`
	Artefacts        []artefact          `json:"artefacts"`
	Checksums        string              `json:"checksums"`
	Image            imageInfo           `json:"image"`
	Debian           map[string][]string `json:"debian_packages"` // arch → name=version
}

const releaseJSON = "release.json"

// release builds everything into o.Out. previewd's builds, the engines'
// builds and the Debian userland run side by side; the image and the
// checksums follow.
func release(ctx context.Context, o options) (*releaseInfo, error) {
	if _, err := os.Stat("go.mod"); err != nil {
		return nil, fmt.Errorf("run from the repository's root: %w", err)
	}
	src, err := releaseSource(o)
	if err != nil {
		return nil, err
	}
	rel := &releaseInfo{source: src, Snapshot: o.Snapshot, TerraformVersion: o.TerraformVersion, TofuVersion: o.TofuVersion, Debian: map[string][]string{}}
	if err := prepareOut(o.Out); err != nil {
		return nil, err
	}
	fmt.Printf("release: %s (%s)\n", src.Version, src.Commit)
	engines := map[string]map[platform]string{} // name → platform → binary
	var userlands map[string]*userlandLayer
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return step("binaries and SBOM", func() error {
			arts, err := buildBinaries(gctx, o.Out, src.Version)
			if err != nil {
				return err
			}
			sbom, err := writeSBOM(gctx, o.Cache, o.Out, src.Version)
			rel.Artefacts = append(arts, sbom)
			return err
		})
	})
	g.Go(func() error {
		return step("engines", func() error {
			for _, e := range o.engines() {
				bins, err := buildEngine(gctx, o.Cache, e)
				if err != nil {
					return err
				}
				engines[e.Name] = bins
			}
			return nil
		})
	})
	g.Go(func() error {
		return step("debian userland", func() (err error) {
			src := defaultDebianSource(o.DebianMirror, o.SecurityMirror, o.Keyring)
			userlands, err = buildUserlands(gctx, o.Cache, src, debianArchs())
			return err
		})
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	err = step("image", func() error { return buildImage(o, rel, engines, userlands) })
	if err != nil {
		return nil, err
	}
	rel.Checksums = checksumsName(src.Version)
	if err := step("checksums", func() error { return writeChecksums(o.Out, src.Version, rel.Artefacts) }); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(rel, "", "  ")
	if err != nil {
		return nil, err
	}
	return rel, os.WriteFile(filepath.Join(o.Out, releaseJSON), append(data, '\n'), 0o644)
}

// debianArchs are the Debian architectures of the image's platforms
// (Debian's names match Go's for these).
func debianArchs() []string {
	var archs []string
	for _, p := range imagePlatforms {
		archs = append(archs, p.Arch)
	}
	return archs
}

// buildImage writes each platform's layer of previewd and the engines, and
// the image layout, from the binaries built for the release.
func buildImage(o options, rel *releaseInfo, engines map[string]map[platform]string, userlands map[string]*userlandLayer) error {
	work := filepath.Join(o.Out, ".work")
	defer os.RemoveAll(work)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	var plats []imagePlatform
	for _, p := range imagePlatforms {
		app := filepath.Join(work, "app_"+p.OS+"_"+p.Arch+".tar.gz")
		files := appFiles{
			Previewd:   filepath.Join(o.Out, binaryName("previewd", rel.Version, p)),
			PreviewWeb: filepath.Join(o.Out, binaryName("preview-web", rel.Version, p)),
			Engines:    map[string]string{},
			Examples:   "examples",
		}
		for name, bins := range engines {
			files.Engines[name] = bins[p]
		}
		if err := writeAppLayer(app, files, rel.Created); err != nil {
			return err
		}
		ul := userlands[p.Arch]
		for _, pkg := range ul.Packages {
			rel.Debian[p.Arch] = append(rel.Debian[p.Arch], pkg.Name+"="+pkg.Version)
		}
		plats = append(plats, imagePlatform{Platform: p, Userland: ul, AppLayer: app})
	}
	labels := imageLabels(rel.source, o.engines(), o.Source)
	info, err := writeImage(filepath.Join(o.Out, "image"), rel.source, labels, plats)
	rel.Image = info
	return err
}

// outMarker marks an output directory as one this program made, so that
// it is emptied only when it is.
const outMarker = ".previewd-release"

// prepareOut empties the output directory: one made by an earlier run, or
// empty, never another directory given by mistake.
func prepareOut(out string) error {
	entries, err := os.ReadDir(out)
	if err == nil && len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(out, outMarker)); err != nil {
			return fmt.Errorf("%s is not empty and was not made by this program: not replacing it", out)
		}
		if err := os.RemoveAll(out); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, outMarker), nil, 0o644)
}
