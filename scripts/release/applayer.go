package main

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// appFiles are the files the image adds to the userland for one platform.
type appFiles struct {
	Previewd, PreviewWeb string            // built binaries
	Engines              map[string]string // terraform (and tofu) → built binary
	Examples             string            // the repository's examples/
}

// writeAppLayer writes the image's own layer: the binaries in
// /usr/local/bin, the examples in /opt/previewd/examples, and the data
// directory owned by the runtime user, as the Dockerfile lays them out.
func writeAppLayer(file string, a appFiles, mtime time.Time) (err error) {
	w, err := newLayerWriter(file)
	if err != nil {
		return err
	}
	defer func() { err = w.close(err) }()
	bins := []struct{ name, path string }{{"previewd", a.Previewd}, {"preview-web", a.PreviewWeb}}
	for _, name := range slices.Sorted(maps.Keys(a.Engines)) {
		bins = append(bins, struct{ name, path string }{name, a.Engines[name]})
	}
	for _, bin := range bins {
		if err := w.copyFile("usr/local/bin/"+bin.name, 0o755, bin.path, mtime); err != nil {
			return err
		}
	}
	if err := writeExamples(w, a.Examples, mtime); err != nil {
		return err
	}
	return w.dir(strings.TrimPrefix(runtimeHome, "/"), 0o755, runtimeUID, runtimeUID, mtime)
}

// writeExamples copies examples/ to opt/previewd/examples, leaving out
// what Terraform leaves behind when an example is run (.terraform, state).
func writeExamples(w *layerWriter, dir string, mtime time.Time) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(filepath.Join("opt/previewd/examples", rel))
		switch {
		case d.IsDir() && d.Name() == ".terraform":
			return filepath.SkipDir
		case strings.Contains(d.Name(), ".tfstate"):
			return nil
		case d.IsDir():
			return w.dir(name, 0o755, 0, 0, mtime)
		case !d.Type().IsRegular():
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if info, err := d.Info(); err == nil && info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		return w.file(name, mode, data, mtime)
	})
}
