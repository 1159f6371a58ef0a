package main

import (
	"fmt"
	"sort"
	"strings"
)

// debianPackage is a binary package chosen from the Packages indexes.
type debianPackage struct {
	Name, Version, Arch, Source string
	Filename, SHA256, Mirror    string
	Essential                   bool
	Depends                     [][]string // Pre-Depends and Depends: each a list of alternatives
	Provides                    []string
}

// debianCatalog holds the newest version of every package of one
// architecture across the suites, and who provides each virtual package.
type debianCatalog struct {
	packages  map[string]*debianPackage
	providers map[string][]string
}

func newDebianCatalog(stanzas []stanza, arch string) *debianCatalog {
	c := &debianCatalog{packages: map[string]*debianPackage{}, providers: map[string][]string{}}
	for _, s := range stanzas {
		if s["Architecture"] != arch && s["Architecture"] != "all" {
			continue
		}
		name := s["Package"]
		if old := c.packages[name]; old != nil && compareDebianVersions(old.Version, s["Version"]) >= 0 {
			continue
		}
		source, _, _ := strings.Cut(s["Source"], " ")
		if source == "" {
			source = name
		}
		c.packages[name] = &debianPackage{
			Name: name, Version: s["Version"], Arch: s["Architecture"], Source: source,
			Filename: s["Filename"], SHA256: s["SHA256"], Mirror: s["Mirror"],
			Essential: s["Essential"] == "yes",
			Depends:   append(parseDepends(s["Pre-Depends"]), parseDepends(s["Depends"])...),
			Provides:  packageNames(s["Provides"]),
		}
	}
	for name, p := range c.packages {
		for _, v := range p.Provides {
			c.providers[v] = append(c.providers[v], name)
		}
	}
	for _, names := range c.providers {
		sort.Strings(names)
	}
	return c
}

// parseDepends turns "a (>= 1) | b:any, c" into [[a b] [c]]. Versions are
// not compared: every package comes from one release, whose packages agree.
func parseDepends(field string) [][]string {
	var out [][]string
	for _, group := range strings.Split(field, ",") {
		if alts := packageNames(strings.ReplaceAll(group, "|", ",")); len(alts) > 0 {
			out = append(out, alts)
		}
	}
	return out
}

// packageNames is the names of a comma-separated list of relations.
func packageNames(field string) []string {
	var out []string
	for _, rel := range strings.Split(field, ",") {
		name := strings.TrimSpace(rel)
		if i := strings.IndexAny(name, " (["); i >= 0 {
			name = name[:i]
		}
		name, _, _ = strings.Cut(name, ":")
		if name != "" {
			out = append(out, name)
		}
	}
	return out
}

// resolve returns the Essential packages, roots, and everything they
// depend on (Pre-Depends and Depends, not Recommends), sorted by name.
// Of alternatives, one already chosen wins, then the first real package,
// then the first provider of a virtual one.
func (c *debianCatalog) resolve(roots []string) ([]*debianPackage, error) {
	chosen := map[string]*debianPackage{}
	var queue []*debianPackage
	add := func(p *debianPackage) {
		if chosen[p.Name] == nil {
			chosen[p.Name] = p
			queue = append(queue, p)
		}
	}
	for _, p := range c.packages {
		if p.Essential {
			add(p)
		}
	}
	for _, name := range roots {
		p := c.packages[name]
		if p == nil {
			return nil, fmt.Errorf("no package %s", name)
		}
		add(p)
	}
	sort.Slice(queue, func(i, j int) bool { return queue[i].Name < queue[j].Name })
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, alts := range p.Depends {
			if c.satisfied(chosen, alts) {
				continue
			}
			dep := c.pick(alts)
			if dep == nil {
				return nil, fmt.Errorf("%s depends on %s: none of them is in the archive", p.Name, strings.Join(alts, " | "))
			}
			add(dep)
		}
	}
	out := make([]*debianPackage, 0, len(chosen))
	for _, p := range chosen {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (c *debianCatalog) satisfied(chosen map[string]*debianPackage, alts []string) bool {
	for _, name := range alts {
		if chosen[name] != nil {
			return true
		}
		for _, prov := range c.providers[name] {
			if chosen[prov] != nil {
				return true
			}
		}
	}
	return false
}

func (c *debianCatalog) pick(alts []string) *debianPackage {
	for _, name := range alts {
		if p := c.packages[name]; p != nil {
			return p
		}
	}
	for _, name := range alts {
		if provs := c.providers[name]; len(provs) > 0 {
			return c.packages[provs[0]]
		}
	}
	return nil
}
