package templates

import (
	_ "embed"
	"html/template"
	"io"
	"time"
	"unicode/utf8"
)

//go:embed dashboard_production.html.tmpl
var productionPageSource string

var productionPageTemplate = template.Must(template.New("dashboard_production.html.tmpl").Funcs(template.FuncMap{
	"safeURL":   safeURL,
	"driftKind": driftKind,
	"clip":      clipValue,
}).Parse(productionPageSource))

// ProductionPage is the dashboard's page of production: each watched
// repository's last watch and its history.
type ProductionPage struct {
	Repos []ProductionRepoView // by name
	// CSRF is the session's token for the "Watch now" forms; "" shows
	// none.
	CSRF, Message, Error string
	Now                  time.Time
}

// ProductionRepoView is a watched repository's production.
type ProductionRepoView struct {
	Repo     string // owner/name; its section's id
	Interval string // how often it is looked at: "every 6h", "only when asked"
	WatchURL string // where "Watch now" posts
	// Last is its last watch; nil before the first.
	Last    *ProductionWatchView
	History []ProductionWatchRow // its last watches, newest first
}

// ProductionWatchView is a watch of production, whole. Every value is
// production's or its module's, and shown as text.
type ProductionWatchView struct {
	Status   string // ok, drift or failed
	Error    string // why it failed
	At       time.Time
	Took     string
	Module   string // the module's source, ref and commit, when known
	Findings []ProductionFindingRow
	Ignored  int    // attributes production.ignore expects to move
	Issue    int    // the repository's drift issue, once there is one
	IssueURL string // shown as a link only when http(s)
}

// ProductionFindingRow is one attribute of production apart from its
// module; sensitive values arrive redacted.
type ProductionFindingRow struct {
	// Kind is changed_outside, deleted_outside or pending, shown in words.
	Kind                         string
	Subject, Live, Module, Where string
}

// ProductionWatchRow is one watch in a repository's history.
type ProductionWatchRow struct {
	At       time.Time
	Status   string // ok, drift or failed
	Findings int
	Took     string
	Error    string
}

// maxShownValue is how much of a value (production's, the module's, an
// error) the production page shows; the admin API has all of it.
const maxShownValue = 2000

// RenderProductionPage writes the dashboard's production page;
// html/template escapes every value, long ones are cut, and only an
// http(s) issue URL becomes a link.
func RenderProductionPage(w io.Writer, p ProductionPage) error {
	return productionPageTemplate.Execute(w, p)
}

// clipValue cuts s to maxShownValue characters.
func clipValue(s string) string {
	if utf8.RuneCountInString(s) <= maxShownValue {
		return s
	}
	return string([]rune(s)[:maxShownValue]) + "…"
}
