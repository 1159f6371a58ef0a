package main

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// alternative is one `update-alternatives --install LINK NAME PATH PRIORITY`
// of a postinst.
type alternative struct {
	link, name, target string
	priority           int
}

var alternativeInstall = regexp.MustCompile(`update-alternatives\s+(?:--quiet\s+)?--install\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)`)

// alternatives makes the links update-alternatives would: for each name,
// the installed target of highest priority, linked from LINK through
// /etc/alternatives/NAME. Only literal paths are understood; an entry
// made of shell variables is left out.
func (u *userland) alternatives() error {
	best := map[string]alternative{}
	for _, script := range u.postinst {
		text := strings.ReplaceAll(string(script), "\\\n", " ")
		for _, m := range alternativeInstall.FindAllStringSubmatch(text, -1) {
			if strings.Contains(m[0], "$") {
				continue
			}
			prio, _ := strconv.Atoi(m[4])
			a := alternative{link: usrMerged(m[1]), name: m[2], target: m[3], priority: prio}
			if !u.w.has(usrMerged(a.target)) {
				continue
			}
			if old, ok := best[a.name]; !ok || a.priority > old.priority || a.priority == old.priority && a.target < old.target {
				best[a.name] = a
			}
		}
	}
	names := make([]string, 0, len(best))
	for n := range best {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := best[n]
		if err := u.w.symlink("etc/alternatives/"+a.name, a.target, u.mtime); err != nil {
			return err
		}
		if !u.w.has(a.link) {
			if err := u.w.symlink(a.link, "/etc/alternatives/"+a.name, u.mtime); err != nil {
				return err
			}
		}
	}
	return nil
}
