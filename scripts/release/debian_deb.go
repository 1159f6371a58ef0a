package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"
)

// debFile is what is read of a .deb: its control files (control,
// postinst, …) and, through eachData, its data archive.
type debFile struct {
	path    string
	control map[string][]byte
}

// openDeb reads a .deb's control archive.
func openDeb(path string) (*debFile, error) {
	d := &debFile{path: path, control: map[string][]byte{}}
	err := d.member("control.tar", func(tr *tar.Reader) error {
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(io.LimitReader(tr, 4<<20))
				if err != nil {
					return err
				}
				d.control[strings.TrimPrefix(h.Name, "./")] = b
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if d.control["control"] == nil {
		return nil, fmt.Errorf("%s: no control file", path)
	}
	return d, nil
}

// eachData calls fn with the .deb's data archive.
func (d *debFile) eachData(fn func(*tar.Reader) error) error {
	return d.member("data.tar", fn)
}

// member finds the ar member whose name starts with prefix (data.tar.xz,
// control.tar.gz, …) and calls fn with it decompressed.
func (d *debFile) member(prefix string, fn func(*tar.Reader) error) error {
	f, err := os.Open(d.path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "!<arch>\n" {
		return fmt.Errorf("%s: not a .deb (ar) archive", d.path)
	}
	for {
		hdr := make([]byte, 60)
		if _, err := io.ReadFull(r, hdr); err != nil {
			return fmt.Errorf("%s: no %s member", d.path, prefix)
		}
		name := strings.TrimRight(strings.TrimSpace(string(hdr[:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil {
			return fmt.Errorf("%s: bad ar header: %v", d.path, err)
		}
		body := io.LimitReader(r, size)
		if strings.HasPrefix(name, prefix) {
			dec, err := decompressor(name, body)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", d.path, name, err)
			}
			if err := fn(tar.NewReader(dec)); err != nil {
				return fmt.Errorf("%s: %s: %w", d.path, name, err)
			}
			return nil
		}
		if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
			return err
		}
	}
}

func decompressor(name string, r io.Reader) (io.Reader, error) {
	switch {
	case strings.HasSuffix(name, ".xz"):
		return xz.NewReader(bufio.NewReaderSize(r, 1<<20))
	case strings.HasSuffix(name, ".gz"):
		return gzip.NewReader(r)
	case strings.HasSuffix(name, ".tar"):
		return r, nil
	default:
		return nil, fmt.Errorf("unsupported compression")
	}
}

// statusEntry is the package's stanza for /var/lib/dpkg/status: its control
// file marked installed, which is how scanners find what the image holds.
func (d *debFile) statusEntry() []byte {
	ctl := bytes.TrimSpace(d.control["control"])
	pkgLine, rest, _ := bytes.Cut(ctl, []byte("\n"))
	var b bytes.Buffer
	b.Write(pkgLine)
	b.WriteString("\nStatus: install ok installed\n")
	b.Write(rest)
	b.WriteString("\n\n")
	return b.Bytes()
}
