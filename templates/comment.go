// Package templates holds previewd's embedded text templates: the comment it
// keeps on every pull request. It imports nothing of previewd; callers fill
// the plain view structs declared here.
package templates

import (
	_ "embed"
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// MaxCommentLength is the longest body GitHub accepts for an issue comment,
// in characters.
const MaxCommentLength = 65536

// MaxErrorLength is how many bytes of an error RenderComment keeps. A longer
// error loses its start: Terraform puts the reason for a failure at the end.
const MaxErrorLength = 8000

//go:embed comment.md.tmpl
var commentSource string

var commentTemplate = template.Must(template.New("comment.md.tmpl").Funcs(template.FuncMap{
	"marker":     CommentMarker,
	"code":       inlineCode,
	"short":      shortSHA,
	"link":       link,
	"namedLink":  namedLink,
	"when":       when,
	"expiry":     expiry,
	"errorBlock": errorBlock,
	"cell":       tableCell,
}).Parse(commentSource))

// CommentData is what previewd's pull-request comment shows of one
// environment. Status is one of queued, provisioning, ready, failed,
// destroying and destroyed; Destroyed forces destroyed.
//
// UpdatedAt is accepted but not printed: a body that changed on every store
// write would be edited on every reconcile pass. For the same reason the
// time left before ExpiresAt, counted from Now, is rounded to hours (under
// two days) or days; the absolute time is shown beside it. With Now zero
// only the absolute time is shown. LogURL, when set, links the run's log,
// also from a truncated error.
type CommentData struct {
	Name       string
	Repo       string // owner/name
	PR         int
	Branch     string
	Status     string
	URL        string
	HeadSHA    string
	ShortSHA   string // of HeadSHA; derived from it when empty
	AppliedSHA string
	LastError  string
	ExpiresAt  time.Time
	UpdatedAt  time.Time
	Destroyed  bool
	LogURL     string
	Now        time.Time
	// Parity is the newest parity verdict; nil before the first check.
	Parity *ParityView
	// Reason is why the environment should (not) exist: "closed",
	// "expired", "admin", "command", "fork-awaiting-approval", …; it picks
	// the explanation shown.
	Reason string
}

// ParityView is a parity check as the comment shows it.
type ParityView struct {
	OK         bool   // no undeclared finding
	Error      string // the check could not run
	Undeclared int
	Findings   []FindingRow // undeclared first
}

// FindingRow is one parity finding. Values never hold secrets: sensitive
// ones arrive as "(sensitive)".
type FindingRow struct {
	Kind, Subject, Production, Preview, Reason string
	Declared                                   bool
}

// CommentMarker returns the hidden line that starts the comment of the
// environment called name, by which previewd finds its comment again.
func CommentMarker(name string) string {
	return "<!-- previewd:environment=" + name + " -->"
}

// RenderComment renders the pull-request comment for d. The body starts with
// CommentMarker(d.Name). It returns an error if the template fails or the
// body would exceed MaxCommentLength characters, which the truncation of
// LastError keeps from happening with sensible inputs.
func RenderComment(d CommentData) (string, error) {
	if d.Destroyed {
		d.Status = "destroyed"
	}
	if d.ShortSHA == "" {
		d.ShortSHA = shortSHA(d.HeadSHA)
	}
	var b strings.Builder
	if err := commentTemplate.Execute(&b, d); err != nil {
		return "", fmt.Errorf("render comment for %s: %w", d.Name, err)
	}
	body := b.String()
	if n := utf8.RuneCountInString(body); n > MaxCommentLength {
		return "", fmt.Errorf("render comment for %s: body is %d characters, over GitHub's %d", d.Name, n, MaxCommentLength)
	}
	return body, nil
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// inlineCode wraps s in a code span whose delimiter no backtick run in s can
// close early.
func inlineCode(s string) string {
	if s == "" {
		return "`?`"
	}
	tick := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return tick + " " + s + " " + tick
	}
	return tick + s + tick
}

// tableCell shows s as code inside a Markdown table cell: pipes escaped,
// newlines flattened, at most 120 characters.
func tableCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 120 {
		s = string([]rune(s)[:119]) + "…"
	}
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(inlineCode(s), "|", "\\|")
}

// link shows an http(s) URL as a link and anything else as code, so an
// output of a Terraform module cannot inject Markdown.
func link(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(raw, " <>\n") {
		return inlineCode(raw)
	}
	return "<" + raw + ">"
}

// namedLink shows text linking to raw when raw is an http(s) URL, and text
// followed by raw as code otherwise.
func namedLink(text, raw string) string {
	if l := link(raw); strings.HasPrefix(l, "<") {
		return "[" + text + "](" + l + ")"
	}
	return text + ": " + inlineCode(raw)
}

func when(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// expiry is the sentence saying when an environment expiring at expires is
// torn down, seen at now (unknown when zero).
func expiry(expires, now time.Time) string {
	at := "**" + when(expires) + "**"
	switch left := expires.Sub(now); {
	case now.IsZero():
		return "This environment expires at " + at + " unless the pull request is updated."
	case left <= 0:
		return "This environment expired at " + at + " and is about to be torn down."
	default:
		return "This environment expires " + untilText(left) + " (at " + at + ") unless the pull request is updated."
	}
}

// untilText says how long d is, rounded so that it changes at most once an
// hour: "in less than an hour", "in 5 hours", "in 3 days".
func untilText(d time.Duration) string {
	hours := int((d + 30*time.Minute) / time.Hour)
	switch {
	case d < time.Hour:
		return "in less than an hour"
	case hours == 1:
		return "in 1 hour"
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d hours", hours)
	default:
		return fmt.Sprintf("in %d days", int((d+12*time.Hour)/(24*time.Hour)))
	}
}

// errorBlock puts the end of msg in a fenced block that nothing in msg can
// close. A cut says where the rest is when logURL is set.
func errorBlock(msg, logURL string) string {
	msg = strings.TrimRight(msg, "\n")
	if len(msg) > MaxErrorLength {
		cut := len(msg) - MaxErrorLength
		for cut < len(msg) && !utf8.RuneStart(msg[cut]) {
			cut++
		}
		if nl := strings.IndexByte(msg[cut:], '\n'); nl >= 0 && nl < 200 {
			cut += nl + 1
		}
		where := ""
		if logURL != "" {
			where = "; the run log has them"
		}
		msg = fmt.Sprintf("… (%d earlier bytes cut%s)\n%s", cut, where, msg[cut:])
	}
	fence := strings.Repeat("`", max(3, longestRun(msg, '`')+1))
	return fence + "text\n" + msg + "\n" + fence
}

func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}
