package main

import "strings"

// compareDebianVersions orders two Debian package versions as dpkg does
// ([epoch:]upstream[-revision], with ~ sorting before anything): negative
// when a is older than b, zero when equal, positive when newer.
func compareDebianVersions(a, b string) int {
	ea, ua, ra := splitDebianVersion(a)
	eb, ub, rb := splitDebianVersion(b)
	if c := compareNumeric(ea, eb); c != 0 {
		return c
	}
	if c := compareVersionPart(ua, ub); c != 0 {
		return c
	}
	return compareVersionPart(ra, rb)
}

func splitDebianVersion(v string) (epoch, upstream, revision string) {
	epoch = "0"
	if e, rest, ok := strings.Cut(v, ":"); ok {
		epoch, v = e, rest
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

// compareVersionPart is dpkg's verrevcmp: alternating runs of non-digits,
// compared character by character with letters before other characters
// and ~ before everything, even the end, and runs of digits, compared as
// numbers.
func compareVersionPart(a, b string) int {
	for a != "" || b != "" {
		var na, nb string
		na, a = leading(a, false)
		nb, b = leading(b, false)
		for i := 0; i < len(na) || i < len(nb); i++ {
			if c := charOrder(na, i) - charOrder(nb, i); c != 0 {
				return c
			}
		}
		na, a = leading(a, true)
		nb, b = leading(b, true)
		if c := compareNumeric(na, nb); c != 0 {
			return c
		}
	}
	return 0
}

// leading splits s after its leading run of digits (or of non-digits).
func leading(s string, digits bool) (string, string) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9') == digits {
		i++
	}
	return s[:i], s[i:]
}

func charOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case c == '~':
		return -1
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		return int(c)
	default:
		return int(c) + 256
	}
}

func compareNumeric(a, b string) int {
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}
