// Package templates holds previewd's embedded text templates: the comment it
// keeps on every pull request. It imports nothing of previewd; callers fill
// the plain view structs declared here.
//
// Every value in a comment comes from outside previewd (a pull request, a
// Terraform module, Terraform's errors), so the comment template shows each
// one only through a function that makes it inert: one bounded line inside a
// code span, or a link or plain word once checked, so no value can change the
// comment's structure or the line previewd finds it by.
package templates

import (
	_ "embed"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxCommentLength is the longest body GitHub accepts for an issue comment,
// in characters.
const MaxCommentLength = 65536

// MaxErrorLength is how many bytes of an error RenderComment keeps. A longer
// error loses its start: Terraform puts the reason for a failure at the end.
const MaxErrorLength = 8000

// Bounds on what the comment shows of one value, in characters.
const (
	maxValueLength  = 200  // a name, branch, repository or URL shown as code
	maxNoteLength   = 500  // the reason a parity check could not run
	maxCellLength   = 120  // a cell of the findings table
	maxCommitLength = 40   // a commit that is not hex
	maxURLLength    = 2000 // a URL shown as a link; a longer one is code
	maxMarkerName   = 63   // the environment in the marker: one DNS label
	// minRowLength is the shortest row of the findings table,
	// "| declared | — | — | — | — | — |" and its newline: a table of more
	// rows than MaxCommentLength/minRowLength is not rendered to find out.
	minRowLength = 33
)

// fits are the renderings RenderComment tries in turn until the body fits in
// MaxCommentLength: every finding, then a findings table of 50 rows, then a
// shorter error, then no table. Every other value is bounded, so the last one
// always fits: at worst about 15,000 characters, most of them the backticks
// that delimit values made of backticks.
var fits = []struct{ rows, errorBytes int }{
	{math.MaxInt, MaxErrorLength},
	{50, MaxErrorLength},
	{50, 2000},
	{0, 2000},
}

//go:embed comment.md.tmpl
var commentSource string

var commentTemplate = template.Must(template.New("comment.md.tmpl").Funcs(template.FuncMap{
	"marker":       CommentMarker,
	"code":         code,
	"note":         note,
	"commit":       commit,
	"short":        shortSHA,
	"link":         link,
	"namedLink":    namedLink,
	"pullRef":      pullRef,
	"when":         when,
	"expiry":       expiry,
	"errorBlock":   errorBlock,
	"cell":         tableCell,
	"subject":      subjectCell,
	"word":         word,
	"moreFindings": moreFindings,
	"money":        money,
	"ordinal":      ordinal,
}).Parse(commentSource))

// ordinal writes n as "1st", "2nd", "3rd", "4th", "11th", "22nd"….
func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

// money shows an amount with its currency, the currency kept to at most 8
// letters and currency signs so it cannot carry markup.
func money(currency string, amount float64) string {
	var c []rune
	for _, r := range currency {
		if len(c) < 8 && (unicode.IsLetter(r) || unicode.Is(unicode.Sc, r)) {
			c = append(c, r)
		}
	}
	if len(c) > 1 && unicode.IsLetter(c[0]) {
		return strconv.FormatFloat(amount, 'f', 2, 64) + " " + string(c)
	}
	return string(c) + strconv.FormatFloat(amount, 'f', 2, 64)
}

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
	// WaitingFor names the required checks the head waits for before it
	// is deployed (wait_for_checks).
	WaitingFor []string
	// ModuleCommit is the commit of production's module (module_source)
	// the environment was deployed with; "" for a module directory.
	ModuleCommit string
	// Cost is what the environment cost, nil without a price.
	Cost *CostView
	// Budget is set while a new environment waits for room
	// (max_live_environments).
	Budget *BudgetView
}

// BudgetView is a new environment waiting for room within a budget.
type BudgetView struct {
	Scope               string // owner/name, or "all"
	Live, Max, Position int
}

// CostView is an environment's estimated cost as the comment shows it.
// SoFar should change at most hourly, or the comment is edited on every
// write.
type CostView struct {
	Currency           string // "$", "€", "USD": letters and currency signs only
	SoFar, UntilExpiry float64
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
	// Location is where the differing value is written ("main.tf:12");
	// empty when unknown.
	Location string
}

// commentView is what the comment template renders: the data, and how much
// of it fits.
type commentView struct {
	CommentData
	Rows         []FindingRow // the findings the table lists
	MoreFindings int          // the findings it leaves out
	ErrorLimit   int          // bytes of LastError shown
}

// CommentMarker returns the hidden line that starts the comment of the
// environment called name, by which previewd finds its comment again.
// Environment names are DNS labels and appear unchanged; in anything else
// each character outside [a-z0-9-] becomes a hyphen (upper case letters
// become lower case) and only the first 63 are kept, so the marker is always
// one line holding one HTML comment.
func CommentMarker(name string) string {
	return "<!-- previewd:environment=" + markerName(name) + " -->"
}

func markerName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if b.Len() == maxMarkerName {
			break
		}
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-':
			b.WriteRune(r)
		case 'A' <= r && r <= 'Z':
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// RenderComment renders the pull-request comment for d. The body starts with
// CommentMarker(d.Name) and is at most MaxCommentLength characters whatever
// d holds: when it would be longer, the findings table is cut to a few rows,
// then the error shortened, then the table left out, each pointing at where
// the rest can be read. It returns an error if the template fails.
func RenderComment(d CommentData) (string, error) {
	if d.Destroyed {
		d.Status = "destroyed"
	}
	if d.ShortSHA == "" {
		d.ShortSHA = shortSHA(d.HeadSHA)
	}
	var body string
	for _, fit := range fits {
		v := commentView{CommentData: d, ErrorLimit: fit.errorBytes}
		if d.Parity != nil {
			n := min(fit.rows, len(d.Parity.Findings))
			if n > MaxCommentLength/minRowLength {
				continue
			}
			v.Rows, v.MoreFindings = d.Parity.Findings[:n], len(d.Parity.Findings)-n
		}
		var b strings.Builder
		if err := commentTemplate.Execute(&b, v); err != nil {
			return "", fmt.Errorf("render comment for %s: %w", markerName(d.Name), err)
		}
		body = b.String()
		if utf8.RuneCountInString(body) <= MaxCommentLength {
			return body, nil
		}
	}
	// Unreachable while every value the template shows is bounded; see fits.
	return "", fmt.Errorf("render comment for %s: body is %d characters, over GitHub's %d", markerName(d.Name), utf8.RuneCountInString(body), MaxCommentLength)
}

// inert returns s as one line of at most limit characters (any number when
// limit is negative): each run of white space, line breaks and Unicode line
// and paragraph separators included, becomes one space, none at either end;
// control characters, marks that reorder text and invalid UTF-8 become
// U+FFFD; a cut ends in "…". It reads no more of s than it keeps, apart
// from white space.
func inert(s string, limit int) string {
	var out []rune
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = len(out) > 0
			continue
		}
		if unicode.IsControl(r) || reordering(r) {
			r = utf8.RuneError
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		out = append(out, r)
		if limit >= 0 && len(out) > limit {
			out = append([]rune(strings.TrimRight(string(out[:max(0, limit-1)]), " ")), '…')
			break
		}
	}
	return string(out)
}

// reordering reports whether r is a bidirectional control, which makes text
// display in another order than it reads.
func reordering(r rune) bool {
	return r == '\u061c' || r == '\u200e' || r == '\u200f' ||
		'\u202a' <= r && r <= '\u202e' || '\u2066' <= r && r <= '\u2069'
}

// inlineCode shows s, made inert, as a code span whose delimiter no backtick
// run in s can close early.
func inlineCode(s string) string {
	s = inert(s, -1)
	if s == "" {
		return "`?`"
	}
	tick := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return tick + " " + s + " " + tick
	}
	return tick + s + tick
}

// code shows a value as code of at most maxValueLength characters.
func code(s string) string { return inlineCode(inert(s, maxValueLength)) }

// note shows a message as code of at most maxNoteLength characters.
func note(s string) string { return inlineCode(inert(s, maxNoteLength)) }

// tableCell shows s as code inside a Markdown table cell: pipes escaped,
// newlines flattened, at most maxCellLength characters.
func tableCell(s string) string {
	s = inert(s, maxCellLength)
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(inlineCode(s), "|", "\\|")
}

// subjectCell shows a finding's subject as a table cell. One too long for
// a cell loses its middle, not its end: the end names the key that
// differs (….input.settings.feature_flags.new_checkout).
// Like inert, it reads little more of s than it keeps.
func subjectCell(s string) string {
	if inert(s, maxCellLength) == inert(s, maxCellLength+1) {
		return tableCell(s) // not cut: it fits
	}
	head := inert(s, maxCellLength/3) // ends in "…"
	start := max(0, len(s)-4*maxCellLength)
	for start < len(s) && !utf8.RuneStart(s[start]) {
		start++
	}
	tail := []rune(inert(s[start:], -1))
	tail = tail[max(0, len(tail)-(maxCellLength-utf8.RuneCountInString(head))):]
	return tableCell(head + string(tail))
}

var plainWord = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)

// word shows s in a table as plain text when it is a lower-case identifier
// such as a finding's kind (variable, config_key), and as a cell otherwise.
// A leading letter keeps underscores from starting emphasis.
func word(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return tableCell(s)
}

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

// moreFindings is the line under a findings table that lists shown findings
// and leaves more out: how many it leaves out, and where all can be read.
func moreFindings(shown, more int, name string) string {
	s := "s"
	if more == 1 {
		s = ""
	}
	api := inlineCode("GET /api/v1/environments/" + markerName(name) + "/parity")
	if shown == 0 {
		return fmt.Sprintf("%d finding%s, too many to list here: see %s.", more, s, api)
	}
	return fmt.Sprintf("… and %d more finding%s: see %s.", more, s, api)
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

// errorBlock puts the last limit bytes of msg, as blockText, in a fenced
// block that nothing in msg can close. A cut says where the rest is when
// logURL is set.
func errorBlock(msg, logURL string, limit int) string {
	msg = strings.TrimRight(msg, "\r\n")
	cut := 0
	if len(msg) > limit {
		cut = len(msg) - limit
		for cut < len(msg) && !utf8.RuneStart(msg[cut]) {
			cut++
		}
		if nl := strings.IndexByte(msg[cut:], '\n'); nl >= 0 && nl < 200 {
			cut += nl + 1
		}
	}
	text := blockText(msg[cut:])
	if cut > 0 {
		where := ""
		if logURL != "" {
			where = "; the run log has them"
		}
		text = fmt.Sprintf("… (%d earlier bytes cut%s)\n%s", cut, where, text)
	}
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	return fence + "text\n" + text + "\n" + fence
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-?]*[ -/]*[@-~]")

// blockText makes msg plain text for a fenced block: CR LF, CR, NEL and the
// Unicode line and paragraph separators become LF, terminal colour codes are
// dropped, and other control characters but tabs, marks that reorder text
// and invalid UTF-8 become U+FFFD.
func blockText(msg string) string {
	msg = strings.ReplaceAll(ansiEscape.ReplaceAllString(msg, ""), "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029':
			return '\n'
		case unicode.IsControl(r) || reordering(r):
			return utf8.RuneError
		}
		return r
	}, msg)
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
