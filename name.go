package preview

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// MaxNameLength is the longest environment name: one DNS label.
const MaxNameLength = 63

// ReservedNames may never name a preview: a module told it runs as
// "production" would behave as production.
var ReservedNames = []string{"production", "prod", "staging", "default"}

// Slug turns a branch name into a DNS label: lower case, [a-z0-9-], no
// leading, trailing or doubled hyphens, at most max characters. It returns ""
// when nothing of the branch survives.
func Slug(branch string, max int) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(branch) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			hyphen = false
		case !hyphen && b.Len() > 0:
			b.WriteByte('-')
			hyphen = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > max {
		s = strings.TrimRight(s[:max], "-")
	}
	return s
}

// EnvironmentName derives the name of the environment for pull request
// number in repo from its branch. The plain slug of the branch is used when
// it is free; when taken (another live environment holds it, two branches
// slug alike, or it is reserved) a short hash of repo, number and branch is
// appended, lengthened until the name is free. The result is deterministic
// for the same inputs and the same set of taken names, and is at most max
// characters (MaxNameLength when max is 0).
func EnvironmentName(repo string, number int, branch string, max int, taken func(string) bool) string {
	if max <= 0 || max > MaxNameLength {
		max = MaxNameLength
	}
	base := Slug(branch, max)
	if base == "" {
		base = Slug("pr-"+strconv.Itoa(number), max)
	}
	if !reserved(base) && !taken(base) {
		return base
	}
	sum := sha256.Sum256([]byte(strings.ToLower(repo) + "#" + strconv.Itoa(number) + ":" + branch))
	digest := hex.EncodeToString(sum[:])
	for i := 0; ; i++ {
		suffix := digest[:min(6+i, len(digest))]
		if 6+i > len(digest) { // practically unreachable: every prefix of the digest taken
			suffix += strconv.Itoa(i)
		}
		if len(suffix) > max {
			suffix = suffix[len(suffix)-max:] // keep the end, which changes with i
		}
		name := suffix
		if keep := max - len(suffix) - 1; keep > 0 {
			if prefix := strings.TrimRight(base[:min(len(base), keep)], "-"); prefix != "" {
				name = prefix + "-" + suffix
			}
		}
		if !reserved(name) && !taken(name) {
			return name
		}
	}
}

func reserved(name string) bool {
	for _, r := range ReservedNames {
		if name == r {
			return true
		}
	}
	return false
}

// ValidName reports whether name is a DNS label previewd could have derived.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
