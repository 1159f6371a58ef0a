// Package templates holds previewd's embedded text templates: the comment it
// keeps on every pull request, and the issue that reports a repository's
// production drift. It imports nothing of previewd; callers fill the plain
// view structs declared here.
//
// Every value in a comment or an issue comes from outside previewd (a pull
// request, a Terraform module, Terraform's errors, production's live
// values), so the templates show each one only through a function that
// makes it inert: one bounded line inside a code span, or a link or plain
// word once checked, so no value can change the body's structure or the
// line previewd finds it by.
package templates

import (
	_ "embed"
	"fmt"
	"math"
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
	// minWarningLength is shorter than any warning's paragraph under the
	// parity line; likewise, more than MaxCommentLength/minWarningLength
	// warnings are not rendered to find out.
	minWarningLength = 60
)

// fits are the renderings RenderComment tries in turn until the body fits in
// MaxCommentLength: every finding and warning, then a findings table of 50
// rows and 10 warnings under the verdict, then a shorter error, then no
// table: the warnings stay, they are what the people about to merge must
// see. Every other value is bounded, so the last one always fits: at worst
// about 40,000 characters, most of them the backticks that delimit values
// made of backticks.
var fits = []struct{ rows, warnings, errorBytes int }{
	{math.MaxInt, math.MaxInt, MaxErrorLength},
	{50, 10, MaxErrorLength},
	{50, 10, 2000},
	{0, 10, 2000},
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
	"moreWarnings": moreWarnings,
	"money":        money,
	"ordinal":      ordinal,
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
	// Database is the migrations verdict; nil before a watch.
	Database *DatabaseView
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

// DatabaseView is the migrations verdict as the comment shows it: its
// status (ok, failure, inconclusive, unwatched), the reason that decided
// it, and the check run with the whole table (App mode).
type DatabaseView struct {
	Status, Reason, CheckRunURL string
}

// ParityView is a parity check as the comment shows it. A warning is
// neither undeclared nor declared: it is shown under the verdict, and
// marked in the table.
type ParityView struct {
	OK                   bool   // no undeclared finding
	Error                string // the check could not run
	Undeclared, Declared int
	Findings             []FindingRow // undeclared first, then warnings
	// CheckRunURL is the previewd/parity check run of the verdict (App
	// mode), with the findings at the module's lines.
	CheckRunURL string
}

// FindingRow is one parity finding. Values never hold secrets: sensitive
// ones arrive as "(sensitive)".
type FindingRow struct {
	Kind, Subject, Production, Preview, Reason string
	Declared                                   bool
	// Warning marks a finding that is no difference of the preview: for
	// Kind reverts_production, production runs Production since a change
	// outside Terraform, and deploying would set it back to Preview, the
	// module's value at Location.
	Warning bool
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
	Warnings     []FindingRow // the warnings shown under the verdict
	MoreWarnings int          // the warnings left out there
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
// d holds: when it would be longer, the findings table is cut to a few rows
// and the warnings under the verdict to a few, then the error shortened,
// then the table left out, each pointing at where the rest can be read. It
// returns an error if the template fails.
func RenderComment(d CommentData) (string, error) {
	if d.Destroyed {
		d.Status = "destroyed"
	}
	if d.ShortSHA == "" {
		d.ShortSHA = shortSHA(d.HeadSHA)
	}
	var warnings []FindingRow
	if d.Parity != nil {
		for _, f := range d.Parity.Findings {
			if f.Warning {
				warnings = append(warnings, f)
			}
		}
	}
	var body string
	for _, fit := range fits {
		v := commentView{CommentData: d, ErrorLimit: fit.errorBytes}
		if d.Parity != nil {
			n, w := min(fit.rows, len(d.Parity.Findings)), min(fit.warnings, len(warnings))
			if n > MaxCommentLength/minRowLength || w > MaxCommentLength/minWarningLength {
				continue
			}
			v.Rows, v.MoreFindings = d.Parity.Findings[:n], len(d.Parity.Findings)-n
			v.Warnings, v.MoreWarnings = warnings[:w], len(warnings)-w
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

// moreWarnings is the line under the warnings that leaves more out.
func moreWarnings(more int, name string) string {
	s := "s"
	if more == 1 {
		s = ""
	}
	return fmt.Sprintf("⚠️ … and %d more warning%s: see %s.", more, s, inlineCode("GET /api/v1/environments/"+markerName(name)+"/parity"))
}
