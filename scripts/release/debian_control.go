package main

import (
	"bufio"
	"io"
	"strings"
)

// stanza is one paragraph of a Debian control file: a package in a
// Packages index, the fields of a Release file or of a .deb's control.
type stanza map[string]string

// parseStanzas reads Debian control paragraphs. keep, when not nil, names
// the only fields kept (a Packages index has many more than are needed).
// A continuation line is kept with its newline, as dpkg writes it back.
func parseStanzas(r io.Reader, keep map[string]bool) ([]stanza, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var out []stanza
	cur := stanza{}
	last := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				out = append(out, cur)
				cur = stanza{}
			}
			last = ""
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				cur[last] += "\n" + line
			}
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				last = ""
				continue
			}
			last = ""
			if keep == nil || keep[name] {
				last = name
				cur[name] = strings.TrimSpace(value)
			}
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, sc.Err()
}

// hashList parses a Release file's SHA256 field: one "sum size path" a line.
func hashList(field string) map[string]string {
	sums := map[string]string{}
	for _, line := range strings.Split(field, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			sums[f[2]] = f[0]
		}
	}
	return sums
}
