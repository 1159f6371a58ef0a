package server

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/templates"
)

// What the dashboard's pages show of the environments: the list and an
// environment's page, as views the templates render.

// Pages renders the dashboard's pages. Its Dashboard and Environment are
// Config.Dashboard and Config.Environment.
type Pages struct {
	// Pricing prices the environments shown.
	Pricing preview.Pricing
	// GitHubAPIURL is GitHub's REST base URL; pull requests link to its
	// web site (github.com, or the GitHub Enterprise Server's host).
	GitHubAPIURL string
	// Modules tells an environment's page what its module receives; nil
	// shows no inputs.
	Modules Modules
}

// Modules tells environments' pages what their modules receive.
type Modules interface {
	// Inputs returns what env's module receives; an error leaves the page
	// without inputs.
	Inputs(ctx context.Context, env preview.Environment) (ModuleInputs, error)
}

// ModuleInputs is what an environment's module receives.
type ModuleInputs struct {
	Vars     []Input  // by name, as an apply passes them
	VarFiles []string // in order
	// Secrets are the values its runs redact: an input holding one is
	// hidden (see preview.Hidden).
	Secrets []string
}

// Input is one variable an environment's module receives.
type Input struct {
	Name      string
	Value     any
	Sensitive bool // the module declares it sensitive
}

// Dashboard renders the dashboard's list: the environments of envs q
// selects, each with its cost and a link to its pull request, and this
// month's cost by repository (over every environment, destroyed ones
// included: q.Totals, or envs when they are every environment).
func (p Pages) Dashboard(w io.Writer, envs []preview.Environment, q ListQuery) error {
	d := templates.DashboardData{ShowAll: q.ShowAll, Now: time.Now().UTC(), CSRF: q.CSRF, Production: q.Production,
		Repo: q.Repo, Status: q.Status, Parity: q.Parity, Search: q.Search}
	for _, s := range preview.Statuses {
		d.Statuses = append(d.Statuses, string(s))
	}
	for _, v := range preview.ParityVerdicts {
		d.Parities = append(d.Parities, string(v))
	}
	totals := q.Totals
	if totals == nil {
		totals = totalsOf(envs)
	}
	d.Live, d.Repos = totals.Live, totals.Repos
	for _, e := range envs {
		if !listed(e, q) {
			continue
		}
		row := templates.DashboardRow{
			Name: e.Name, Repo: e.Repo, Branch: e.Branch, Status: string(e.Status), PR: e.PR,
			ShortSHA: preview.ShortSHA(e.HeadSHA), AppliedShortSHA: preview.ShortSHA(e.AppliedSHA),
			URL: e.URL, ExpiresAt: e.ExpiresAt, LastError: e.LastError,
			Drifted: e.Drifted, Parity: string(e.ParityVerdict()), PRURL: p.pullRequestURL(e),
		}
		if cost, priced := p.Pricing.Cost(e.Metered(), d.Now); priced {
			row.Cost = &templates.CostView{Currency: cost.Currency, SoFar: cost.SoFar, UntilExpiry: cost.UntilExpiry}
		}
		d.Rows = append(d.Rows, row)
	}
	for _, m := range p.Pricing.MonthOf(totals.Metered, d.Now) {
		d.Costs = append(d.Costs, templates.RepoCost{Repo: m.Repo, Currency: m.Currency, Hours: m.Hours, Cost: m.Cost})
	}
	return templates.RenderDashboard(w, d)
}

// totalsOf are the totals of envs, every environment.
func totalsOf(envs []preview.Environment) *ListTotals {
	t := &ListTotals{Metered: make([]preview.Metered, 0, len(envs))}
	repos := map[string]bool{}
	for _, e := range envs {
		repos[e.Repo] = true
		if e.Status.Live() {
			t.Live++
		}
		t.Metered = append(t.Metered, e.Metered())
	}
	t.Repos = slices.Sorted(maps.Keys(repos))
	return t
}

// filter is what q selects of the environments' records: the live ones
// unless q shows all or asks for the destroyed ones, of q's repository
// and status.
func (q ListQuery) filter() preview.EnvironmentFilter {
	status := preview.Status(q.Status)
	return preview.EnvironmentFilter{LiveOnly: !q.ShowAll && status != preview.StatusDestroyed, Repo: q.Repo, Status: status}
}

// listed reports whether the list shows e, as q asks.
func listed(e preview.Environment, q ListQuery) bool {
	switch {
	case !q.filter().Match(e):
		return false
	case q.Parity != "" && e.ParityVerdict() != preview.ParityStatus(q.Parity):
		return false
	}
	if s := strings.ToLower(strings.TrimPrefix(q.Search, "#")); s != "" {
		n, err := strconv.Atoi(s)
		return strings.Contains(e.Name, s) || strings.Contains(strings.ToLower(e.Branch), s) || err == nil && e.PR == n
	}
	return true
}

// pullRequestURL is e's pull request on GitHub's web site.
func (p Pages) pullRequestURL(e preview.Environment) string {
	return fmt.Sprintf("%s/%s/pull/%d", gitHubWeb(p.GitHubAPIURL), e.Repo, e.PR)
}

// issueURL is issue n of repo (owner/name) on GitHub's web site.
func issueURL(apiURL, repo string, n int) string {
	return fmt.Sprintf("%s/%s/issues/%d", gitHubWeb(apiURL), repo, n)
}

// gitHubWeb is the web site of the GitHub whose REST base URL is apiURL:
// https://github.com, or a GitHub Enterprise Server's own host.
func gitHubWeb(apiURL string) string {
	if u, err := url.Parse(apiURL); err == nil && u.Host != "" && u.Host != "api.github.com" {
		return u.Scheme + "://" + u.Host
	}
	return "https://github.com"
}

// Environment renders an environment's page: its state, cost, budget,
// module and inputs (sensitive values hidden), parity report, runs, and
// the run in progress with how long such runs usually take.
func (p Pages) Environment(ctx context.Context, w io.Writer, env preview.Environment, runs []preview.Run, st PageState) error {
	now := time.Now().UTC()
	page := templates.EnvironmentPage{
		Name: env.Name, Repo: env.Repo, Branch: env.Branch, Status: string(env.Status), Reason: string(env.Desired.Reason),
		PR: env.PR, PRURL: p.pullRequestURL(env), HeadSHA: env.HeadSHA, AppliedSHA: env.AppliedSHA, URL: env.URL,
		CreatedAt: env.CreatedAt, UpdatedAt: env.UpdatedAt, ExpiresAt: env.ExpiresAt, LastError: env.LastError,
		Pinned: env.Kept(), CSRF: st.CSRF, Message: st.Message, Error: st.Error, LogTail: st.LogTail, Now: now,
	}
	for _, h := range slices.Backward(env.History) {
		page.History = append(page.History, templates.HistoryRow{At: h.At, Status: string(h.Status), Reason: string(h.Reason), Error: h.Error})
	}
	page.Module = moduleText(env.Module)
	if cost, ok := p.Pricing.Cost(env.Metered(), now); ok {
		page.Cost = &templates.CostView{Currency: cost.Currency, SoFar: cost.SoFar, UntilExpiry: cost.UntilExpiry}
	}
	if b := env.Budget; b != nil {
		page.Budget = &templates.BudgetView{Scope: b.Scope, Live: b.Live, Max: b.Max, Position: b.Position}
	}
	if env.Status == preview.StatusFailed && !env.RetryAt.IsZero() {
		page.Retry = fmt.Sprintf("%s again at %s (attempt %d)", env.LastPhase, env.RetryAt.UTC().Format("2006-01-02 15:04 UTC"), env.Attempts+1)
	}
	if !env.Parity.CheckedAt.IsZero() {
		page.Parity = &templates.ParityPage{Status: string(env.Parity.Status), Error: env.Parity.Error, CheckedAt: env.Parity.CheckedAt}
		if s := env.ParityStatus; s.SHA == env.Parity.SHA && s.CheckRunID != 0 && strings.HasPrefix(s.URL, "https://") {
			page.Parity.CheckRunURL = s.URL
		}
		for _, f := range env.Parity.Findings {
			page.Parity.Findings = append(page.Parity.Findings, templates.FindingRow{
				Kind: string(f.Kind), Subject: f.Subject, Production: f.Production, Preview: f.Preview,
				Declared: f.Declared && !f.Warning, Warning: f.Warning, Reason: f.Reason, Location: f.Location,
			})
		}
	}
	page.Database = databasePage(env)
	page.Inputs = p.inputs(ctx, env)
	page.Runs, page.Running = runRows(env, runs, st.LogTail, now)
	return templates.RenderEnvironment(w, page)
}

// moduleText is a module's version from git as the pages show it: its
// source, ref and commit; "" for a module directory.
func moduleText(m preview.ModuleVersion) string {
	switch {
	case m.Commit == "":
		return ""
	case m.Ref == "":
		return fmt.Sprintf("%s at %s", m.Source, m.Commit)
	}
	return fmt.Sprintf("%s (ref %s) at %s", m.Source, m.Ref, m.Commit)
}

// Production renders the dashboard's production page (it is
// Config.ProductionPage): each watched repository's last watch (its
// findings, the ignored count, the drift issue) and its history.
func (p Pages) Production(w io.Writer, repos []ProductionHistory, st PageState) error {
	page := templates.ProductionPage{CSRF: st.CSRF, Message: st.Message, Error: st.Error, Now: time.Now().UTC()}
	for _, r := range repos {
		owner, name, _ := strings.Cut(r.Repo, "/")
		view := templates.ProductionRepoView{Repo: r.Repo, Interval: intervalText(r.Interval),
			WatchURL: "/dashboard/production/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/watch"}
		for i, watch := range r.Watches {
			status := productionStatus(watch.Failed(), len(watch.Findings))
			took := watch.Took.Round(100 * time.Millisecond).String()
			if i == 0 {
				view.Last = p.productionWatch(r.Repo, watch, status, took)
			}
			view.History = append(view.History, templates.ProductionWatchRow{At: watch.At, Status: status, Findings: len(watch.Findings), Took: took, Error: watch.Error})
		}
		page.Repos = append(page.Repos, view)
	}
	return templates.RenderProductionPage(w, page)
}

// productionWatch is w, a watch of repo, whole, as the production page
// shows it.
func (p Pages) productionWatch(repo string, w preview.ProductionWatch, status, took string) *templates.ProductionWatchView {
	view := &templates.ProductionWatchView{Status: status, Error: w.Error, At: w.At, Took: took,
		Module: moduleText(w.Module), Ignored: w.Ignored, Issue: w.Issue}
	if w.Issue != 0 {
		view.IssueURL = issueURL(p.GitHubAPIURL, repo, w.Issue)
	}
	for _, f := range w.Findings {
		view.Findings = append(view.Findings, templates.ProductionFindingRow{Kind: f.Kind, Subject: f.Subject(), Live: f.Live, Module: f.Module, Where: f.Where})
	}
	return view
}

// intervalText says how often production is looked at: "every 6h", or
// "only when asked" for no interval.
func intervalText(d time.Duration) string {
	if d <= 0 {
		return "only when asked"
	}
	s := d.String() // 6h0m0s, 1h30m0s, 10m0s, 45s
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return "every " + s
}

// inputs are the rows of env's inputs: its module's variables, each shown
// in clear unless preview.Hidden hides it, then its var files.
func (p Pages) inputs(ctx context.Context, env preview.Environment) []templates.Input {
	if p.Modules == nil {
		return nil
	}
	mod, err := p.Modules.Inputs(ctx, env)
	if err != nil {
		return nil
	}
	var rows []templates.Input
	for _, in := range mod.Vars {
		row := templates.Input{Name: in.Name, Sensitive: preview.Hidden(in.Value, in.Sensitive, mod.Secrets)}
		if !row.Sensitive {
			row.Value = fmt.Sprint(in.Value)
		}
		rows = append(rows, row)
	}
	for _, f := range mod.VarFiles {
		rows = append(rows, templates.Input{Name: "var file", Value: f})
	}
	return rows
}

// runRows are env's runs, newest first, and the run in progress with how
// long such runs usually take.
func runRows(env preview.Environment, runs []preview.Run, logTail string, now time.Time) ([]templates.RunRow, *templates.RunningView) {
	var rows []templates.RunRow
	typical := map[preview.Phase][]time.Duration{}
	for _, r := range runs {
		row := templates.RunRow{ID: r.ID, Phase: string(r.Phase), State: string(r.State), Error: r.Error, StartedAt: r.StartedAt,
			LogURL: "/dashboard/environments/" + url.PathEscape(env.Name) + "/runs/" + r.ID[strings.LastIndexByte(r.ID, '/')+1:] + "/log"}
		if !r.FinishedAt.IsZero() {
			took := r.FinishedAt.Sub(r.StartedAt)
			row.Duration = took.Round(100 * time.Millisecond).String()
			if r.State == preview.RunSucceeded {
				typical[r.Phase] = append(typical[r.Phase], took)
			}
		}
		rows = append([]templates.RunRow{row}, rows...) // newest first
	}
	n := len(runs)
	if n == 0 || runs[n-1].State != preview.RunRunning {
		return rows, nil
	}
	r := runs[n-1]
	v := &templates.RunningView{Phase: string(r.Phase), Elapsed: now.Sub(r.StartedAt), Step: terraformStep(logTail),
		LogURL: rows[0].LogURL}
	v.ElapsedText = v.Elapsed.Round(time.Second).String()
	if past := typical[r.Phase]; len(past) > 0 {
		slices.Sort(past)
		v.Typical = past[len(past)/2]
		v.TypicalText = v.Typical.Round(100 * time.Millisecond).String()
		v.Percent = min(99, max(1, int(100*v.Elapsed/v.Typical)))
	}
	return rows, v
}

// terraformStep is the Terraform command a run's log says it runs now:
// the last one previewd echoed ("$ terraform plan …").
func terraformStep(log string) string {
	step := ""
	for line := range strings.Lines(log) {
		for _, engine := range []string{"$ terraform ", "$ tofu "} {
			if rest, ok := strings.CutPrefix(line, engine); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					step = f[0]
				}
			}
		}
	}
	return step
}

// databasePage is the migrations verdict as the environment's page shows
// it; nil before a watch.
func databasePage(env preview.Environment) *templates.DatabasePage {
	r := env.Database
	if r.Verdict.Status == "" {
		return nil
	}
	page := &templates.DatabasePage{Status: r.Verdict.Status, Reasons: r.Verdict.Reasons}
	if s := env.DatabaseStatus; s.SHA == r.SHA && s.CheckRunID != 0 && strings.HasPrefix(s.URL, "https://") {
		page.CheckRunURL = s.URL
	}
	for _, h := range r.Holds {
		prod := "—"
		if h.ProductionRows != nil {
			prod = preview.Count(*h.ProductionRows)
		}
		page.Holds = append(page.Holds, templates.HoldRow{Relation: h.Relation, Statement: h.Statement, Mode: h.Mode,
			BlockedWrites: preview.Seconds(h.BlockedWrites), BlockedReads: preview.Seconds(h.BlockedReads), LongestWait: preview.Seconds(h.LongestWait),
			Rows: preview.Count(h.Rows), ProductionRows: prod})
	}
	return page
}
