package main

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/provisioner"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/templates"
)

// dashboard renders the dashboard's list: the environments q selects,
// each with its cost and a link to its pull request, and this month's
// cost by repository (over every environment, destroyed ones included).
func (c *Config) dashboard(w io.Writer, envs []preview.Environment, q server.ListQuery) error {
	d := templates.DashboardData{ShowAll: q.ShowAll, Now: time.Now().UTC(), CSRF: q.CSRF,
		Repo: q.Repo, Status: q.Status, Parity: q.Parity, Search: q.Search}
	months := map[string]*templates.RepoCost{}
	repos := map[string]bool{}
	for _, e := range envs {
		repos[e.Repo] = true
		cost, priced := c.costOf(e, d.Now)
		if priced && e.HoursIn(d.Now) > 0 {
			m := months[e.Repo]
			if m == nil {
				m = &templates.RepoCost{Repo: e.Repo, Currency: cost.Currency}
				months[e.Repo] = m
			}
			m.Hours += cost.MonthHours
			m.Cost += cost.Month
		}
		if e.Status.Live() {
			d.Live++
		}
		if !listed(e, q) {
			continue
		}
		row := templates.DashboardRow{
			Name: e.Name, Repo: e.Repo, Branch: e.Branch, Status: string(e.Status), PR: e.PR,
			ShortSHA: preview.ShortSHA(e.HeadSHA), AppliedShortSHA: preview.ShortSHA(e.AppliedSHA),
			URL: e.URL, ExpiresAt: e.ExpiresAt, LastError: e.LastError,
			Drifted: e.Drifted, Parity: string(e.Parity.Status), PRURL: c.pullRequestURL(e),
		}
		if priced {
			row.Cost = &templates.CostView{Currency: cost.Currency, SoFar: cost.SoFar, UntilExpiry: cost.UntilExpiry}
		}
		d.Rows = append(d.Rows, row)
	}
	for _, m := range months {
		d.Costs = append(d.Costs, *m)
	}
	slices.SortFunc(d.Costs, func(a, b templates.RepoCost) int { return strings.Compare(a.Repo, b.Repo) })
	for r := range repos {
		d.Repos = append(d.Repos, r)
	}
	slices.Sort(d.Repos)
	return templates.RenderDashboard(w, d)
}

// listed reports whether the list shows e, as q asks.
func listed(e preview.Environment, q server.ListQuery) bool {
	switch {
	case !q.ShowAll && !e.Status.Live() && q.Status != string(preview.StatusDestroyed):
		return false
	case q.Repo != "" && !strings.EqualFold(e.Repo, q.Repo):
		return false
	case q.Status != "" && string(e.Status) != q.Status:
		return false
	case q.Parity != "" && e.ParityVerdict() != q.Parity:
		return false
	}
	if s := strings.ToLower(strings.TrimPrefix(q.Search, "#")); s != "" {
		n, err := strconv.Atoi(s)
		return strings.Contains(e.Name, s) || strings.Contains(strings.ToLower(e.Branch), s) || err == nil && e.PR == n
	}
	return true
}

// pullRequestURL is e's pull request on GitHub's web site: github.com, or
// the GitHub Enterprise Server host of github.api_url.
func (c *Config) pullRequestURL(e preview.Environment) string {
	base := "https://github.com"
	if u, err := url.Parse(c.GitHub.APIURL); err == nil && u.Host != "" && u.Host != "api.github.com" {
		base = u.Scheme + "://" + u.Host
	}
	return fmt.Sprintf("%s/%s/pull/%d", base, e.Repo, e.PR)
}

// environmentPage renders an environment's page: its state, cost, budget,
// module and inputs (sensitive values hidden), parity report, runs, and
// the run in progress with how long such runs usually take.
func (c *Config) environmentPage(w io.Writer, env preview.Environment, runs []preview.Run, st server.PageState) error {
	now := time.Now().UTC()
	p := templates.EnvironmentPage{
		Name: env.Name, Repo: env.Repo, Branch: env.Branch, Status: string(env.Status), Reason: string(env.Desired.Reason),
		PR: env.PR, PRURL: c.pullRequestURL(env), HeadSHA: env.HeadSHA, AppliedSHA: env.AppliedSHA, URL: env.URL,
		CreatedAt: env.CreatedAt, UpdatedAt: env.UpdatedAt, ExpiresAt: env.ExpiresAt, LastError: env.LastError,
		Pinned: env.Kept(), CSRF: st.CSRF, Message: st.Message, Error: st.Error, LogTail: st.LogTail, Now: now,
	}
	for _, h := range slices.Backward(env.History) {
		p.History = append(p.History, templates.HistoryRow{At: h.At, Status: string(h.Status), Reason: string(h.Reason), Error: h.Error})
	}
	if m := env.Module; m.Commit != "" {
		p.Module = fmt.Sprintf("%s (ref %s) at %s", m.Source, m.Ref, m.Commit)
	}
	if cost, ok := c.costOf(env, now); ok {
		p.Cost = &templates.CostView{Currency: cost.Currency, SoFar: cost.SoFar, UntilExpiry: cost.UntilExpiry}
	}
	if b := env.Budget; b != nil {
		p.Budget = &templates.BudgetView{Scope: b.Scope, Live: b.Live, Max: b.Max, Position: b.Position}
	}
	if env.Status == preview.StatusFailed && !env.RetryAt.IsZero() {
		p.Retry = fmt.Sprintf("%s again at %s (attempt %d)", env.LastPhase, env.RetryAt.UTC().Format("2006-01-02 15:04 UTC"), env.Attempts+1)
	}
	if !env.Parity.CheckedAt.IsZero() {
		p.Parity = &templates.ParityPage{Status: string(env.Parity.Status), Error: env.Parity.Error, CheckedAt: env.Parity.CheckedAt}
		for _, f := range env.Parity.Findings {
			p.Parity.Findings = append(p.Parity.Findings, templates.FindingRow{
				Kind: string(f.Kind), Subject: f.Subject, Production: f.Production, Preview: f.Preview,
				Declared: f.Declared, Reason: f.Reason, Location: f.Location,
			})
		}
	}
	if mod, err := c.module(env); err == nil {
		if inputs, err := provisioner.Inputs(mod, env); err == nil {
			for _, in := range inputs {
				row := templates.Input{Name: in.Name, Sensitive: preview.Hidden(in.Value, in.Sensitive, mod.Secrets)}
				if !row.Sensitive {
					row.Value = fmt.Sprint(in.Value)
				}
				p.Inputs = append(p.Inputs, row)
			}
		}
		for _, f := range mod.VarFiles {
			p.Inputs = append(p.Inputs, templates.Input{Name: "var file", Value: f})
		}
	}
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
		p.Runs = append([]templates.RunRow{row}, p.Runs...) // newest first
	}
	if n := len(runs); n > 0 && runs[n-1].State == preview.RunRunning {
		r := runs[n-1]
		v := &templates.RunningView{Phase: string(r.Phase), Elapsed: now.Sub(r.StartedAt), Step: terraformStep(st.LogTail),
			LogURL: p.Runs[0].LogURL}
		v.ElapsedText = v.Elapsed.Round(time.Second).String()
		if past := typical[r.Phase]; len(past) > 0 {
			slices.Sort(past)
			v.Typical = past[len(past)/2]
			v.TypicalText = v.Typical.Round(100 * time.Millisecond).String()
			v.Percent = min(99, max(1, int(100*v.Elapsed/v.Typical)))
		}
		p.Running = v
	}
	return templates.RenderEnvironment(w, p)
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
