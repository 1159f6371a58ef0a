package templates

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"unicode/utf8"
)

// MaxIssueLength is the longest issue body GitHub accepts, in characters.
const MaxIssueLength = 65536

// minDriftRowLength is the shortest row of the drift table,
// "| x | — | — | — | — |" and its newline.
const minDriftRowLength = 22

//go:embed production.md.tmpl
var productionSource string

var productionTemplate = template.Must(template.New("production.md.tmpl").Funcs(template.FuncMap{
	"productionMarker": ProductionIssueMarker,
	"code":             code,
	"commit":           commit,
	"cell":             tableCell,
	"subject":          subjectCell,
	"driftKind":        driftKind,
	"moreDrift":        moreDrift,
	"ignored":          ignored,
}).Parse(productionSource))

// ProductionIssueData is what the GitHub issue reporting a repository's
// production drift shows: the findings of the last watch (none: production
// matches its module again), the attributes production.ignore left out, and
// the version of the module production was compared with. Nothing in it
// changes from one watch to the next while the drift stays the same, so the
// body is only edited when the drift changes.
type ProductionIssueData struct {
	Repo string // owner/name
	// ModuleSource, ModuleRef and ModuleCommit are the module's version;
	// each may be empty (a module directory has no source).
	ModuleSource, ModuleRef, ModuleCommit string
	Findings                              []DriftRow
	Ignored                               int
}

// DriftRow is one attribute of production apart from its module. Values
// never hold secrets: sensitive ones arrive redacted.
type DriftRow struct {
	// Kind is changed_outside, deleted_outside or pending; another is
	// shown as it is.
	Kind string
	// Subject is the attribute, address.path ("postgresql_role.app.connection_limit").
	Subject string
	// Live is production's value, Module the module's; "" for none.
	Live, Module string
	// Where is the module's file and line ("main.tf:31"); "" when unknown.
	Where string
}

// productionView is what the template renders: the data, and how much of
// it fits.
type productionView struct {
	ProductionIssueData
	Rows []DriftRow // the findings the table lists
	More int        // the findings it leaves out
}

// ProductionIssueTitle is the title of the issue that reports repo's
// production drift. The issue is titled by its repository, not by its
// module: a repository's production has one module, whose source and ref
// the body names, and a title that never changes is never edited.
func ProductionIssueTitle(repo string) string {
	return "Production drift: " + inert(repo, maxValueLength)
}

// ProductionIssueMarker returns the hidden line that starts the body of
// repo's production drift issue. Characters outside [A-Za-z0-9._/-] become
// hyphens and only the first 201 are kept (an owner, a slash and a name), so
// it is always one line holding one HTML comment.
func ProductionIssueMarker(repo string) string {
	var b strings.Builder
	for _, r := range repo {
		if b.Len() == 201 {
			break
		}
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '.', r == '_', r == '/', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return "<!-- previewd:production-drift " + b.String() + " -->"
}

// RenderProductionIssue renders the body of the issue that reports d's
// production drift: a table of its findings in d's order, or, with no
// findings, the body that closes the issue (production matches its module
// again). It starts with ProductionIssueMarker(d.Repo) and is at most
// MaxIssueLength characters whatever d holds: the table then lists as many
// findings as fit and says how many more there are. It returns an error if
// the template fails.
func RenderProductionIssue(d ProductionIssueData) (string, error) {
	render := func(rows int) (string, error) {
		v := productionView{ProductionIssueData: d, Rows: d.Findings[:rows], More: len(d.Findings) - rows}
		var b strings.Builder
		if err := productionTemplate.Execute(&b, v); err != nil {
			return "", fmt.Errorf("render production drift issue of %s: %w", inert(d.Repo, maxValueLength), err)
		}
		return b.String(), nil
	}
	body, err := render(len(d.Findings))
	if err != nil || utf8.RuneCountInString(body) <= MaxIssueLength {
		return body, err
	}
	// The most rows that fit: every value is bounded, so none always does.
	// A table of more rows than MaxIssueLength/minDriftRowLength is not
	// rendered to find out.
	var failed error
	fit := sort.Search(min(len(d.Findings), MaxIssueLength/minDriftRowLength)+1, func(rows int) bool {
		b, err := render(rows)
		if err != nil {
			failed = err
		}
		return err != nil || utf8.RuneCountInString(b) > MaxIssueLength
	}) - 1
	if failed != nil {
		return "", failed
	}
	return render(max(fit, 0))
}

// driftKind says a production finding's kind in words.
func driftKind(kind string) string {
	switch kind {
	case "changed_outside":
		return "changed outside Terraform"
	case "deleted_outside":
		return "deleted outside Terraform"
	case "pending":
		return "not applied yet"
	}
	return word(kind)
}

// moreDrift is the line under a table that leaves findings out.
func moreDrift(shown, more int) string {
	s := "s"
	if more == 1 {
		s = ""
	}
	if shown == 0 {
		return fmt.Sprintf("%d finding%s, too many to list here: see `GET /api/v1/production` or previewd's dashboard.", more, s)
	}
	return fmt.Sprintf("…and %d more finding%s: see `GET /api/v1/production` or previewd's dashboard.", more, s)
}

// ignored says how many attributes production.ignore left out.
func ignored(n int) string {
	switch n {
	case 0:
		return "No attribute listed in `production.ignore` moved."
	case 1:
		return "1 attribute listed in `production.ignore` moved as expected and is not reported."
	}
	return fmt.Sprintf("%d attributes listed in `production.ignore` moved as expected and are not reported.", n)
}
