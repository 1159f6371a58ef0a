package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// docsRoot is the repository's root, seen from this package's directory.
const docsRoot = "../.."

// readmeMaxLines keeps the README a front door: what previewd is, what it
// catches, the two commands, installing it, and links into docs/.
const readmeMaxLines = 250

// TestReadmeIsShort keeps README.md under readmeMaxLines lines; the rest
// belongs in docs/.
func TestReadmeIsShort(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(docsRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), "\n"); got >= readmeMaxLines {
		t.Errorf("README.md has %d lines, want fewer than %d: move the detail to docs/", got, readmeMaxLines)
	}
}

// TestDocsLinks checks every relative link in README.md and docs/*.md: it
// names a file or directory that exists and, with a #fragment, a heading
// of that Markdown file, by GitHub's anchor rules.
func TestDocsLinks(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join(docsRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("docs/ holds no Markdown file")
	}
	files := append([]string{filepath.Join(docsRoot, "README.md")}, docs...)
	anchors := map[string]map[string]bool{} // by cleaned path
	anchorsOf := func(path string) map[string]bool {
		t.Helper()
		if a, ok := anchors[path]; ok {
			return a
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		a := map[string]bool{}
		for _, h := range markdownHeadings(string(data)) {
			a[h] = true
		}
		anchors[path] = a
		return a
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(docsRoot, file)
		for _, link := range markdownLinks(string(data)) {
			target, fragment, _ := strings.Cut(link, "#")
			path := filepath.Clean(file)
			if target != "" {
				path = filepath.Join(filepath.Dir(file), target)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: link %q: %s does not exist", name, link, target)
					continue
				}
			}
			if fragment == "" {
				continue
			}
			if !strings.HasSuffix(path, ".md") {
				t.Errorf("%s: link %q: an anchor into a file that is not Markdown", name, link)
				continue
			}
			if !anchorsOf(path)[fragment] {
				t.Errorf("%s: link %q: no heading of %s has the anchor #%s", name, link, filepath.Base(path), fragment)
			}
		}
	}
}

func TestGitHubAnchor(t *testing.T) {
	tests := []struct{ heading, want string }{
		{"Running several replicas", "running-several-replicas"},
		{"What it catches that others don't", "what-it-catches-that-others-dont"},
		{"The dashboard's endpoints", "the-dashboards-endpoints"},
		{"`previewd parity` in CI", "previewd-parity-in-ci"},
		{"Terraform: the module and its state", "terraform-the-module-and-its-state"},
		{"store/postgres and leases", "storepostgres-and-leases"},
		{"log_links, TTL → expiry", "log_links-ttl--expiry"},
		{"[Linked](x.md) heading", "linked-heading"},
	}
	for _, tt := range tests {
		if got := githubAnchor(tt.heading); got != tt.want {
			t.Errorf("githubAnchor(%q) = %q, want %q", tt.heading, got, tt.want)
		}
	}
}

func TestMarkdownLinksAndHeadings(t *testing.T) {
	doc := "# Title\n\nSee [a](a.md#x), [b](#title) and `[c](not-a-link.md)`,\n" +
		"a `code span\nover two lines [d](nor-this.md)` and [e\nwrapped](e.md).\n\n" +
		"```sh\n# not a heading\n[f](inside-a-fence.md)\n```\n\n## Title\n\n[g]: ref.md\n" +
		"[h](https://example.com/#x) [i](mailto:x@example.com)\n"
	if got, want := strings.Join(markdownLinks(doc), " "), "a.md#x #title e.md ref.md"; got != want {
		t.Errorf("links: got %q, want %q", got, want)
	}
	if got, want := strings.Join(markdownHeadings(doc), " "), "title title-1"; got != want {
		t.Errorf("headings: got %q, want %q", got, want)
	}
}

var (
	mdFence       = regexp.MustCompile("^\\s*(```|~~~)")
	mdHeadingLine = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	mdCodeSpan    = regexp.MustCompile("``[^`]*``|`[^`]*`")
	mdInlineLink  = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	mdRefLink     = regexp.MustCompile(`(?m)^\s{0,3}\[[^\]]+\]:\s*(\S+)`)
	mdLinkText    = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	mdURLScheme   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// mdProse returns doc's lines with fenced code blocks blanked out.
func mdProse(doc string) []string {
	lines := strings.Split(doc, "\n")
	inFence := false
	for i, l := range lines {
		if mdFence.MatchString(l) {
			inFence = !inFence
			lines[i] = ""
			continue
		}
		if inFence {
			lines[i] = ""
		}
	}
	return lines
}

// markdownHeadings returns the anchors of doc's headings, in order, as
// GitHub makes them: a repeated anchor gets -1, -2 ….
func markdownHeadings(doc string) []string {
	var out []string
	seen := map[string]int{}
	for _, l := range mdProse(doc) {
		m := mdHeadingLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		a := githubAnchor(m[1])
		if n := seen[a]; n > 0 {
			seen[a]++
			a += "-" + strconv.Itoa(n)
		} else {
			seen[a] = 1
		}
		out = append(out, a)
	}
	return out
}

// markdownLinks returns the targets of doc's relative links: inline links
// and images outside code, and reference definitions; links with a scheme
// (https:, mailto:) are left out.
func markdownLinks(doc string) []string {
	text := mdCodeSpan.ReplaceAllString(strings.Join(mdProse(doc), "\n"), "")
	var out []string
	for _, re := range []*regexp.Regexp{mdInlineLink, mdRefLink} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			if !mdURLScheme.MatchString(m[1]) {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// githubAnchor is the anchor GitHub gives a heading: its text without
// markup, lower case, punctuation and symbols dropped ('-' and '_' kept),
// each space a '-'.
func githubAnchor(heading string) string {
	heading = mdLinkText.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
