package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
)

// layerWriter writes an image layer: a gzipped tar in which every path
// appears once (the first directory entry wins; a second file is an error).
type layerWriter struct {
	f    *os.File
	gz   *gzip.Writer
	tw   *tar.Writer
	seen map[string]byte
}

func newLayerWriter(file string) (*layerWriter, error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewWriterLevel(f, gzip.DefaultCompression)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &layerWriter{f: f, gz: gz, tw: tar.NewWriter(gz), seen: map[string]byte{}}, nil
}

// has reports whether name (without a leading slash) was written.
func (w *layerWriter) has(name string) bool {
	_, ok := w.seen[strings.TrimSuffix(name, "/")]
	return ok
}

// write adds an entry; body is read for a regular file.
func (w *layerWriter) write(h *tar.Header, body io.Reader) error {
	key := strings.TrimSuffix(h.Name, "/")
	if prev, ok := w.seen[key]; ok {
		if prev == tar.TypeDir && h.Typeflag == tar.TypeDir {
			return nil
		}
		return fmt.Errorf("%s is in the layer twice", h.Name)
	}
	w.seen[key] = h.Typeflag
	h.Format = tar.FormatPAX
	h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
	if err := w.tw.WriteHeader(h); err != nil {
		return err
	}
	if h.Typeflag == tar.TypeReg && body != nil {
		if _, err := io.Copy(w.tw, body); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	return nil
}

// dir, file and symlink add entries made here, owned by uid:gid and
// dated mtime.
func (w *layerWriter) dir(name string, mode int64, uid, gid int, mtime time.Time) error {
	if err := w.parents(name, mtime); err != nil {
		return err
	}
	return w.write(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: gid, ModTime: mtime}, nil)
}

func (w *layerWriter) file(name string, mode int64, data []byte, mtime time.Time) error {
	if err := w.parents(name, mtime); err != nil {
		return err
	}
	return w.write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime}, bytes.NewReader(data))
}

// copyFile adds the file at src, streamed.
func (w *layerWriter) copyFile(name string, mode int64, src string, mtime time.Time) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := w.parents(name, mtime); err != nil {
		return err
	}
	return w.write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: info.Size(), ModTime: mtime}, f)
}

func (w *layerWriter) symlink(name, target string, mtime time.Time) error {
	if err := w.parents(name, mtime); err != nil {
		return err
	}
	return w.write(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: mtime}, nil)
}

// parents adds the directories above name that are not in the layer yet.
func (w *layerWriter) parents(name string, mtime time.Time) error {
	dir := path.Dir(name)
	if dir == "." || w.has(dir) {
		return nil
	}
	if err := w.parents(dir, mtime); err != nil {
		return err
	}
	return w.dir(dir, 0o755, 0, 0, mtime)
}

// close finishes the layer; with an error, it removes the file.
func (w *layerWriter) close(err error) error {
	for _, c := range []func() error{w.tw.Close, w.gz.Close, w.f.Close} {
		if cerr := c(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.Remove(w.f.Name())
	}
	return err
}
