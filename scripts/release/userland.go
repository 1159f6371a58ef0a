package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// The runtime user, as the Dockerfile makes it.
const (
	runtimeUID  = 10001
	runtimeUser = "previewd"
	runtimeHome = "/var/lib/previewd"
)

// mergedUsr are the top-level directories that bookworm's merged /usr
// makes symbolic links into /usr; packages still ship files under them.
var mergedUsr = []string{"bin", "sbin", "lib", "lib64"}

// userland assembles the Debian packages into a root filesystem layer
// without running their maintainer scripts: what those scripts would
// have made that a container needs is made here instead (users and
// groups, the CA bundle, alternatives, /etc/profile, dpkg's status).
type userland struct {
	w        *layerWriter
	mtime    time.Time
	certs    map[string][]byte // usr/share/ca-certificates/… → PEM
	kept     map[string][]byte // base-passwd's masters, base-files' profile
	postinst map[string][]byte
	status   []byte
}

// writeUserland writes the packages' files into a layer at file, in the
// order given. The files made here are dated as the newest file of a
// package, so that the layer depends only on the packages.
func writeUserland(file string, debs []*debFile) (err error) {
	w, err := newLayerWriter(file)
	if err != nil {
		return err
	}
	defer func() { err = w.close(err) }()
	u := &userland{w: w, certs: map[string][]byte{}, kept: map[string][]byte{}, postinst: map[string][]byte{}}
	for _, d := range debs {
		if err := d.eachData(u.unpack); err != nil {
			return err
		}
		u.status = append(u.status, d.statusEntry()...)
		u.postinst[d.path] = d.control["postinst"]
	}
	return u.configure()
}

// unpack copies a package's files into the layer, under /usr where merged
// /usr puts them, leaving out documentation as Debian's slim images do.
func (u *userland) unpack(tr *tar.Reader) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := usrMerged(h.Name)
		if name == "" || slimmed(name, h.Typeflag == tar.TypeDir) {
			continue
		}
		h.Name = name
		if h.ModTime.After(u.mtime) {
			u.mtime = h.ModTime
		}
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if h.Typeflag == tar.TypeLink {
			h.Linkname = usrMerged(h.Linkname)
			if !u.w.has(h.Linkname) {
				continue // a hard link to a file left out
			}
		}
		body := io.Reader(tr)
		if keep := u.keep(name); keep != nil && h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			keep[name] = data
			body = bytes.NewReader(data)
		}
		if err := u.w.write(h, body); err != nil {
			return err
		}
	}
}

// keep names the map a file's content is also kept in, for configure.
func (u *userland) keep(name string) map[string][]byte {
	switch {
	case strings.HasPrefix(name, "usr/share/ca-certificates/") && strings.HasSuffix(name, ".crt"):
		return u.certs
	case name == "usr/share/base-passwd/passwd.master", name == "usr/share/base-passwd/group.master",
		name == "usr/share/base-files/profile":
		return u.kept
	}
	return nil
}

// usrMerged cleans a path from a package ("./bin/sh") into a layer path
// ("usr/bin/sh"); the root itself becomes "".
func usrMerged(name string) string {
	name = strings.Trim(path.Clean("/"+name), "/")
	for _, d := range mergedUsr {
		if name == d || strings.HasPrefix(name, d+"/") {
			return "usr/" + name
		}
	}
	return name
}

// slimmed reports whether a path is left out: manuals, info pages,
// translations and documentation other than each package's copyright.
func slimmed(name string, dir bool) bool {
	if strings.HasPrefix(name, "usr/share/doc/") {
		return !(dir && strings.Count(name, "/") == 3 || strings.HasSuffix(name, "/copyright"))
	}
	for _, p := range []string{"usr/share/man/", "usr/share/info/", "usr/share/locale/", "usr/share/lintian/", "usr/share/linda/", "usr/share/groff/"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// configure makes what the maintainer scripts would have, and the links
// of merged /usr.
func (u *userland) configure() error {
	for _, d := range mergedUsr {
		if !u.w.has("usr/" + d) {
			continue
		}
		if err := u.w.symlink(d, "usr/"+d, u.mtime); err != nil {
			return err
		}
	}
	for _, step := range []func() error{u.users, u.caBundle, u.alternatives, u.baseFiles} {
		if err := step(); err != nil {
			return err
		}
	}
	return u.w.file("var/lib/dpkg/status", 0o644, u.status, u.mtime)
}

// users writes /etc/passwd and /etc/group from base-passwd's masters, as
// its postinst does, with the runtime user and group added.
func (u *userland) users() error {
	passwd, group := u.kept["usr/share/base-passwd/passwd.master"], u.kept["usr/share/base-passwd/group.master"]
	if passwd == nil || group == nil {
		return fmt.Errorf("base-passwd's passwd.master and group.master are missing")
	}
	passwd = append(bytes.Clone(passwd), fmt.Sprintf("%s:x:%d:%d::%s:/usr/sbin/nologin\n", runtimeUser, runtimeUID, runtimeUID, runtimeHome)...)
	group = append(bytes.Clone(group), fmt.Sprintf("%s:x:%d:\n", runtimeUser, runtimeUID)...)
	if err := u.w.file("etc/passwd", 0o644, passwd, u.mtime); err != nil {
		return err
	}
	return u.w.file("etc/group", 0o644, group, u.mtime)
}

// caBundle writes /etc/ssl/certs/ca-certificates.crt as
// update-ca-certificates does: every certificate ca-certificates ships.
func (u *userland) caBundle() error {
	if len(u.certs) == 0 {
		return fmt.Errorf("ca-certificates shipped no certificate")
	}
	names := make([]string, 0, len(u.certs))
	for n := range u.certs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		b.Write(bytes.TrimRight(u.certs[n], "\n"))
		b.WriteByte('\n')
	}
	return u.w.file("etc/ssl/certs/ca-certificates.crt", 0o644, b.Bytes(), u.mtime)
}

// baseFiles does base-files' postinst: /etc/profile, /var/run and
// /var/lock, where no package made them.
func (u *userland) baseFiles() error {
	if profile, ok := u.kept["usr/share/base-files/profile"]; ok && !u.w.has("etc/profile") {
		if err := u.w.file("etc/profile", 0o644, profile, u.mtime); err != nil {
			return err
		}
	}
	if !u.w.has("run/lock") {
		if err := u.w.dir("run/lock", 0o1777, 0, 0, u.mtime); err != nil {
			return err
		}
	}
	for _, l := range [][2]string{{"var/run", "/run"}, {"var/lock", "/run/lock"}} {
		if !u.w.has(l[0]) {
			if err := u.w.symlink(l[0], l[1], u.mtime); err != nil {
				return err
			}
		}
	}
	return nil
}
