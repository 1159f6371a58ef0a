package templates

import (
	"embed"
	"html/template"
	"io"
	"net/url"
	"time"
)

//go:embed environment.html.tmpl
var environmentSource string

//go:embed login.html.tmpl
var loginSource string

var pageFuncs = template.FuncMap{"money": money, "safeURL": safeURL}

var (
	environmentTemplate = template.Must(template.New("environment.html.tmpl").Funcs(pageFuncs).Parse(environmentSource))
	loginTemplate       = template.Must(template.New("login.html.tmpl").Parse(loginSource))
)

// EnvironmentPage is one environment's page on the dashboard.
type EnvironmentPage struct {
	Name, Repo, Branch, Status, Reason string
	PR                                 int
	PRURL                              string // the pull request on GitHub
	HeadSHA, AppliedSHA, URL           string
	CreatedAt, UpdatedAt, ExpiresAt    time.Time
	LastError                          string
	Pinned                             bool
	Module                             string // source@ref and commit, when from git
	Cost                               *CostView
	Budget                             *BudgetView
	Retry                              string // when a failed run is tried again
	Inputs                             []Input
	History                            []HistoryRow // newest first
	Parity                             *ParityPage
	// Database is the migrations verdict and what was held; nil before a
	// watch.
	Database *DatabasePage
	Runs     []RunRow // newest first
	// Running is the run in progress, if any: its phase, how long it has
	// run, and how long this environment's runs of that phase usually take.
	Running *RunningView
	LogTail string // the end of the newest run's log
	// CSRF is the session's token for the action forms; "" shows none.
	CSRF, Message, Error string
	Now                  time.Time
}

// Input is a variable the environment received; sensitive values are
// never shown.
type Input struct {
	Name, Value string
	Sensitive   bool
}

// HistoryRow is one change of the environment's status.
type HistoryRow struct {
	At                    time.Time
	Status, Reason, Error string
}

// ParityPage is an environment's newest parity report, every finding.
type ParityPage struct {
	Status, Error string
	CheckedAt     time.Time
	Findings      []FindingRow
	// CheckRunURL is the previewd/parity check run of this verdict (App
	// mode), with the findings at the module's lines.
	CheckRunURL string
}

// DatabasePage is the migrations verdict on the environment's page.
type DatabasePage struct {
	Status      string
	Reasons     []string
	Holds       []HoldRow
	CheckRunURL string
}

// HoldRow is one relation's locks, each figure shown.
type HoldRow struct {
	Relation, Statement, Mode, BlockedWrites, BlockedReads, LongestWait, Rows, ProductionRows string
}

// RunRow is one Terraform run of the environment.
type RunRow struct {
	ID, Phase, State, Error, Duration, LogURL string
	StartedAt                                 time.Time
}

// RunningView is a run in progress.
type RunningView struct {
	Phase                    string
	Step                     string // the Terraform command it runs now: init, plan, apply, destroy…
	LogURL                   string // its log, followed as it is written
	Elapsed, Typical         time.Duration
	Percent                  int // of Typical, at most 99; 0 without a typical duration
	ElapsedText, TypicalText string
}

// RenderEnvironment writes an environment's page; html/template escapes
// every value, and only http(s) URLs become links.
func RenderEnvironment(w io.Writer, p EnvironmentPage) error {
	return environmentTemplate.Execute(w, p)
}

// RenderLogin writes the login form; failed says the last token was wrong.
func RenderLogin(w io.Writer, failed bool) error {
	return loginTemplate.Execute(w, struct{ Failed bool }{failed})
}

// safeURL returns u when it is an http(s) URL, "" otherwise.
func safeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") {
		return ""
	}
	return u
}

//go:embed list.css environment.css login.css
var stylesheets embed.FS

// Stylesheets returns the pages' stylesheets by file name, served by
// previewd itself: the pages load nothing from anywhere else, and no
// inline style needs allowing.
func Stylesheets() map[string][]byte {
	out := map[string][]byte{}
	for _, name := range []string{"list.css", "environment.css", "login.css"} {
		b, err := stylesheets.ReadFile(name)
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		out[name] = b
	}
	return out
}
