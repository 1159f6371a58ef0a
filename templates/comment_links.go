package templates

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

var hexSHA = regexp.MustCompile(`^[0-9a-fA-F]{1,64}$`)

// shortSHA is the first 7 digits of a hex commit SHA; anything else is
// returned whole for commit to show.
func shortSHA(sha string) string {
	if len(sha) > 7 && hexSHA.MatchString(sha) {
		return sha[:7]
	}
	return sha
}

// commit shows a commit SHA as code: whole when it is hex, and otherwise
// made inert and cut to maxCommitLength characters.
func commit(sha string) string {
	if hexSHA.MatchString(sha) {
		return inlineCode(sha)
	}
	return inlineCode(inert(sha, maxCommitLength))
}

var (
	repoOwner = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
	repoName  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// pullRef shows pull request number of repo as owner/name#number, which
// GitHub links, when repo has the shape of a GitHub repository (underscores
// escaped, so they cannot start emphasis), and with repo as code otherwise.
func pullRef(repo string, number int) string {
	owner, name, ok := strings.Cut(repo, "/")
	if ok && repoOwner.MatchString(owner) && repoName.MatchString(name) {
		return strings.ReplaceAll(repo, "_", `\_`) + "#" + strconv.Itoa(number)
	}
	return code(repo) + "#" + strconv.Itoa(number)
}

// linkable reports whether raw may be shown as a link: an absolute http(s)
// URL of at most maxURLLength bytes, made only of the characters RFC 3986
// allows in a URL, so that nothing in it can end the link or start other
// Markdown or HTML.
func linkable(raw string) bool {
	if len(raw) > maxURLLength {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0) {
			return false
		}
	}
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// link shows an http(s) URL as a link and anything else, or a URL longer than
// maxURLLength, as clipped code, so an output of a Terraform module cannot
// inject Markdown.
func link(raw string) string {
	if linkable(raw) {
		return "<" + raw + ">"
	}
	return code(raw)
}

// namedLink shows text linking to raw when raw is an http(s) URL, and text
// followed by raw as code otherwise.
func namedLink(text, raw string) string {
	if linkable(raw) {
		return "[" + text + "](<" + raw + ">)"
	}
	return text + ": " + code(raw)
}
