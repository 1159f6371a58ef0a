package parity

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	preview "github.com/previewd/previewd"
)

// kindOrder is the order findings of each kind are listed in.
var kindOrder = []preview.FindingKind{
	preview.FindingVariable, preview.FindingConfigKey, preview.FindingResource,
	preview.FindingAttribute, preview.FindingProviderVersion, preview.FindingEngineVersion,
	preview.FindingToggle, preview.FindingLiveDrift, preview.FindingRevertsProduction,
}

// The ranks of findings, in the order they are listed
// (preview.Finding.Standing): undeclared ones (drift) first, then
// warnings, then declared ones.
const (
	rankUndeclared = int(preview.StandingDrift)
	rankWarning    = int(preview.StandingWarning)
	rankDeclared   = int(preview.StandingDeclared)
	ranks          = rankDeclared + 1 // how many there are
)

// findingRank is f's rank.
func findingRank(f preview.Finding) int { return int(f.Standing()) }

// Report gathers the findings of every check into a report checked now:
// undeclared findings first, then warnings, then declared ones, each by
// kind (variable, config_key, resource, attribute, provider_version,
// engine_version, toggle, live_drift, reverts_production) and subject. Its
// status is preview.Verdict's; Findings is never nil, so JSON shows [].
func Report(findings ...[]preview.Finding) preview.ParityReport {
	all := slices.Concat(findings...)
	if all == nil {
		all = []preview.Finding{}
	}
	slices.SortStableFunc(all, func(a, b preview.Finding) int {
		return cmp.Or(
			cmp.Compare(findingRank(a), findingRank(b)),
			cmp.Compare(slices.Index(kindOrder, a.Kind), slices.Index(kindOrder, b.Kind)),
			strings.Compare(a.Subject, b.Subject),
		)
	})
	return preview.ParityReport{Status: preview.Verdict(all), CheckedAt: time.Now().UTC().Truncate(time.Second), Findings: all}
}

// LiveDriftFindings turns what a refresh-only plan of a live environment
// found changed outside Terraform (provisioner.DetectDrift's changes) into
// undeclared live_drift findings.
func LiveDriftFindings(changes []string) []preview.Finding {
	findings := make([]preview.Finding, 0, len(changes))
	for _, c := range changes {
		findings = append(findings, preview.Finding{
			Kind: preview.FindingLiveDrift, Subject: c,
			Production: "as last applied", Preview: "changed outside Terraform",
			Reason: "changed outside Terraform",
		})
	}
	return findings
}

// DefaultWidth is the terminal width RenderText fits when given none.
const DefaultWidth = 100

// minWidth is the narrowest layout RenderText makes.
const minWidth = 40

// maxTextValue is the longest value RenderText shows whole, in runes: a
// finding keeps its values whole, and the JSON shows them.
const maxTextValue = 500

// TextOptions says how RenderText lays a report out.
type TextOptions struct {
	// Width is the terminal's width in columns; 0 is DefaultWidth.
	Width int
	// Skipped are the checks that did not run, named under the verdict.
	Skipped Skipped
}

// RenderText writes report for a terminal of opts.Width columns: a verdict
// (and the error of a report whose status is an error), the checks
// skipped, then the findings, undeclared ones marked DRIFT and warnings
// (deploying would revert a change made to production: no drift) WARN, as a
// table when it fits the width, else stacked (as terraform plan does):
// each finding's subject on a line, its production and preview values,
// why and where on lines below, wrapped. No line is wider than the width
// (counting a rune a column): a word longer than a line is broken. Values
// longer than maxTextValue runes are cut; control characters are shown as
// U+FFFD. Width 0 is DefaultWidth; less than 40 is 40.
func RenderText(w io.Writer, report preview.ParityReport, opts TextOptions) error {
	width := opts.Width
	if width <= 0 {
		width = DefaultWidth
	}
	width = max(width, minWidth)
	var b strings.Builder
	writeWrapped(&b, verdictLine(report, len(opts.Skipped.Checks) > 0), width, "", "  ")
	if report.Status == preview.ParityError {
		for line := range strings.SplitSeq(strings.TrimSpace(report.Error), "\n") {
			writeWrapped(&b, oneLine(strings.TrimSpace(line)), width, "  ", "    ")
		}
	}
	if s := opts.Skipped.String(); s != "" {
		writeWrapped(&b, "skipped: "+s, width, "", "  ")
	}
	var counted []string
	if n := report.IdentityDifferences; n > 0 {
		counted = append(counted, fmt.Sprintf("%d %s only by the environment's name (--all lists them)", n, plural(n, "value differs", "values differ")))
	}
	if n := report.UnknownValues; n > 0 {
		counted = append(counted, fmt.Sprintf("%d %s until apply, not compared", n, plural(n, "value unknown", "values unknown")))
	}
	if len(counted) > 0 {
		writeWrapped(&b, strings.Join(counted, "; "), width, "", "  ")
	}
	if len(report.Findings) > 0 {
		if table := findingsTable(report.Findings); fitsWidth(table, width) {
			b.WriteString(table)
		} else {
			writeStacked(&b, report.Findings, width)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// verdictLine is the report's first line: the verdict, and how many
// findings are declared and, when any, warnings.
func verdictLine(report preview.ParityReport, skipped bool) string {
	var counts [ranks]int
	for _, f := range report.Findings {
		counts[findingRank(f)]++
	}
	undeclared, warnings, declared := counts[rankUndeclared], counts[rankWarning], counts[rankDeclared]
	checked := fmt.Sprintf(" (%d declared; checked %s)", declared, report.CheckedAt.Format(time.RFC3339))
	if warnings > 0 {
		checked = fmt.Sprintf(" (%d declared, %d %s; checked %s)", declared, warnings, plural(warnings, "warning", "warnings"), report.CheckedAt.Format(time.RFC3339))
	}
	switch {
	case report.Status == preview.ParityError:
		return "parity: ERROR, the check could not run in full" + checked
	case report.Status == preview.ParityDrift:
		return fmt.Sprintf("parity: DRIFT, %d undeclared %s", undeclared, plural(undeclared, "difference", "differences")) + checked
	case skipped:
		return "parity: ok in the checks that ran, differs from production only where declared" + checked
	}
	return "parity: ok, differs from production only where declared" + checked
}

// findingsTable lays findings out as a table, each finding a row.
func findingsTable(findings []preview.Finding) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	located := slices.ContainsFunc(findings, func(f preview.Finding) bool { return f.Location != "" })
	header := "\n\tKIND\tSUBJECT\tPRODUCTION\tPREVIEW\tWHY"
	if located {
		header += "\tWHERE"
	}
	fmt.Fprintln(tw, header)
	for _, f := range findings {
		mark, why := findingMark(f)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s", mark, f.Kind, oneLine(f.Subject), oneLine(f.Production), oneLine(f.Preview), oneLine(why))
		if located {
			fmt.Fprintf(tw, "\t%s", oneLine(cmp.Or(f.Location, "-")))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	return b.String()
}

// findingMark is how a finding is marked, and why it is what it is.
func findingMark(f preview.Finding) (mark, why string) {
	switch findingRank(f) {
	case rankWarning:
		return "WARN", f.Reason
	case rankDeclared:
		return "ok", "declared: " + f.Reason
	}
	return "DRIFT", f.Reason
}

// fitsWidth reports whether no line of s is wider than width.
func fitsWidth(s string, width int) bool {
	for line := range strings.SplitSeq(s, "\n") {
		if utf8.RuneCountInString(line) > width {
			return false
		}
	}
	return true
}

// writeStacked writes each finding as a paragraph: the subject, then its
// values, why and where, each under a label and wrapped.
func writeStacked(b *strings.Builder, findings []preview.Finding, width int) {
	const indent = "    "
	for _, f := range findings {
		mark, why := findingMark(f)
		b.WriteString("\n")
		writeWrapped(b, fmt.Sprintf("%-5s %s %s", mark, f.Kind, oneLine(f.Subject)), width, "", indent)
		rows := [][2]string{{"production:", shortened(f.Production)}, {"preview:", shortened(f.Preview)}, {"why:", oneLine(why)}}
		if f.Location != "" {
			rows = append(rows, [2]string{"where:", oneLine(f.Location)})
		}
		for _, row := range rows {
			label := indent + fmt.Sprintf("%-12s", row[0])
			writeWrapped(b, label+row[1], width, "", strings.Repeat(" ", len(label)))
		}
	}
}

// shortened is a value as a stacked finding shows it: on one line, cut to
// maxTextValue runes.
func shortened(s string) string {
	s = oneLine(s)
	if n := utf8.RuneCountInString(s); n > maxTextValue {
		return string([]rune(s)[:maxTextValue-1]) + fmt.Sprintf("… (%d characters in all)", n)
	}
	return s
}

// writeWrapped writes text as lines of at most width runes, the first
// starting with first, the others with rest (both counted).
func writeWrapped(b *strings.Builder, text string, width int, first, rest string) {
	prefix := first
	r := []rune(text)
	for {
		room := max(width-utf8.RuneCountInString(prefix), 1)
		if len(r) <= room {
			b.WriteString(prefix + string(r) + "\n")
			return
		}
		cut := breakAt(r, room)
		b.WriteString(prefix + strings.TrimRight(string(r[:cut]), " ") + "\n")
		for cut < len(r) && r[cut] == ' ' {
			cut++
		}
		r, prefix = r[cut:], rest
		if len(r) == 0 {
			return
		}
	}
}

// breakAt is where a line of at most room runes of r ends: after a space,
// else after a dot, comma, slash or colon, in its second half; else at
// room.
func breakAt(r []rune, room int) int {
	if r[room] == ' ' {
		return room
	}
	for _, marks := range []string{" ", ".,/:;"} {
		for i := room; i > room/2; i-- {
			if strings.ContainsRune(marks, r[i-1]) {
				return i
			}
		}
	}
	return room
}

// oneLine keeps a value on one line and out of the layout's way: line
// breaks shown as \n, tabs as spaces, other control characters as U+FFFD,
// and an empty value as "".
func oneLine(s string) string {
	s = strings.NewReplacer("\n", `\n`, "\t", " ", "\r", `\r`).Replace(s)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, s)
	if s == "" {
		return `""`
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
