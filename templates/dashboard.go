package templates

import (
	_ "embed"
	"html/template"
	"io"
	"net/url"
	"time"
)

//go:embed dashboard.html.tmpl
var dashboardSource string

var dashboardTemplate = template.Must(template.New("dashboard.html.tmpl").Funcs(template.FuncMap{
	"money": money,
}).Parse(dashboardSource))

// DashboardRow is one environment on the dashboard.
type DashboardRow struct {
	Name, Repo, Branch, Status string
	PR                         int
	ShortSHA, AppliedShortSHA  string
	URL                        string // shown as a link only when http(s)
	ExpiresAt                  time.Time
	LastError                  string
	Drifted                    bool   // changed outside Terraform since the last apply
	Parity                     string // its parity verdict: ok, drift, error or unchecked
	Cost                       *CostView
	PRURL                      string // the pull request on GitHub
}

// RepoCost is a repository's environment-hours this month and what they
// cost.
type RepoCost struct {
	Repo, Currency string
	Hours, Cost    float64
}

// DashboardData is the whole dashboard page.
type DashboardData struct {
	Rows  []DashboardRow
	Costs []RepoCost // this month, by repository
	// The list's filters, as asked, and what each may be set to.
	Repo, Status, Parity, Search string
	Repos, Statuses, Parities    []string
	CSRF                         string // the session's token, for logging out; "" without a session
	Production                   bool   // link the production page
	Live                         int
	ShowAll                      bool
	Now                          time.Time
}

// RenderDashboard writes the operators' HTML page listing environments.
// Every value is escaped by html/template; a URL that is not http(s) is not
// made a link.
func RenderDashboard(w io.Writer, d DashboardData) error {
	for i := range d.Rows {
		if u, err := url.Parse(d.Rows[i].URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			d.Rows[i].URL = ""
		}
		d.Rows[i].PRURL = safeURL(d.Rows[i].PRURL)
		if len(d.Rows[i].LastError) > 2000 {
			d.Rows[i].LastError = "…" + d.Rows[i].LastError[len(d.Rows[i].LastError)-2000:]
		}
	}
	return dashboardTemplate.Execute(w, d)
}
