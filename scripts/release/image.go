package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's runtime contract, the Dockerfile's.
const (
	imageEntrypoint = "/usr/local/bin/previewd"
	imageUser       = "10001:10001"
	imagePort       = "8080/tcp"
)

var imageEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"PREVIEWD_LISTEN_ADDR=0.0.0.0:8080",
	"PREVIEWD_DATA_DIR=" + runtimeHome,
	"PREVIEWD_TERRAFORM_BIN=/usr/local/bin/terraform",
}

// imagePlatform is what goes into one platform's image.
type imagePlatform struct {
	Platform platform
	Userland *userlandLayer
	AppLayer string // writeAppLayer's file
}

// imageInfo describes the image written, for release.json.
type imageInfo struct {
	Layout    string            `json:"layout"`
	Digest    string            `json:"digest"`
	Manifests map[string]string `json:"manifests"` // platform → manifest digest
}

// imageLabels are the OCI annotations of the image, as labels of each
// platform's config and as annotations of the index.
func imageLabels(src source, engines []engine, repo string) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "previewd",
		"org.opencontainers.image.description": "Preview environments for pull requests, by terraform apply of production's module",
		"org.opencontainers.image.version":     src.Version,
		"org.opencontainers.image.revision":    src.Commit,
		"org.opencontainers.image.created":     src.Created.Format(time.RFC3339),
	}
	for _, e := range engines {
		l["io.previewd."+e.Name+".version"] = e.Version
	}
	if repo != "" {
		l["org.opencontainers.image.source"] = repo
	}
	return l
}

// writeImage writes the multi-platform image as an OCI image layout in
// dir: its index.json names one image index, tagged with the version,
// whose manifests are the platforms' images.
func writeImage(dir string, src source, labels map[string]string, plats []imagePlatform) (imageInfo, error) {
	info := imageInfo{Layout: filepath.Base(dir), Manifests: map[string]string{}}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range plats {
		img, err := platformImage(src, labels, p)
		if err != nil {
			return info, fmt.Errorf("%s: %w", p.Platform, err)
		}
		d, err := img.Digest()
		if err != nil {
			return info, err
		}
		info.Manifests[p.Platform.String()] = d.String()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: ociPlatform(p.Platform)},
		})
	}
	idx = mutate.Annotations(idx, labels).(v1.ImageIndex)
	d, err := idx.Digest()
	if err != nil {
		return info, err
	}
	info.Digest = d.String()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return info, err
	}
	return info, lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": src.Version,
	}))
}

// ociPlatform is p as an image index names it: arm64 with its variant,
// v8, as official images name it.
func ociPlatform(p platform) *v1.Platform {
	v := &v1.Platform{OS: p.OS, Architecture: p.Arch}
	if p.Arch == "arm64" {
		v.Variant = "v8"
	}
	return v
}

// platformImage is one platform's image: the userland, then previewd's
// layer, with the Dockerfile's user, environment, entrypoint and volume.
func platformImage(src source, labels map[string]string, p imagePlatform) (v1.Image, error) {
	created := v1.Time{Time: src.Created}
	cfg := &v1.ConfigFile{
		Created:      created,
		OS:           p.Platform.OS,
		Architecture: p.Platform.Arch,
		Variant:      ociPlatform(p.Platform).Variant,
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			User:         imageUser,
			Env:          imageEnv,
			Entrypoint:   []string{imageEntrypoint},
			Cmd:          []string{"serve"},
			WorkingDir:   runtimeHome,
			Volumes:      map[string]struct{}{runtimeHome: {}},
			ExposedPorts: map[string]struct{}{imagePort: {}},
			Labels:       labels,
			StopSignal:   "SIGTERM",
		},
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	userland, err := tarball.LayerFromFile(p.Userland.Path, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	app, err := tarball.LayerFromFile(p.AppLayer, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	return mutate.Append(img,
		mutate.Addendum{Layer: userland, History: v1.History{Created: created,
			CreatedBy: userlandHistory(p.Userland.Packages)}},
		mutate.Addendum{Layer: app, History: v1.History{Created: created,
			CreatedBy: appHistory(src, labels)}},
	)
}

// userlandHistory says what the userland layer holds.
func userlandHistory(pkgs []*debianPackage) string {
	return fmt.Sprintf("debian bookworm: %s and the Essential packages (%d packages in all, listed in /var/lib/dpkg/status)",
		strings.Join(debianRoots[:3], ", "), len(pkgs))
}

// appHistory says what previewd's layer holds.
func appHistory(src source, labels map[string]string) string {
	parts := []string{"previewd " + src.Version, "preview-web"}
	for _, name := range []string{"terraform", "tofu"} {
		if v := labels["io.previewd."+name+".version"]; v != "" {
			parts = append(parts, name+" "+v)
		}
	}
	return strings.Join(append(parts, "examples"), ", ")
}
