package github

import (
	"math"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/templates"
)

// CommentData is what the pull request's comment shows of env, for
// templates.RenderComment: its state, why it waits, its parity report, its
// budget and its cost (by pricing), with logLink linking a run's log.
func CommentData(env preview.Environment, logLink func(string) string, pricing preview.Pricing) templates.CommentData {
	d := templates.CommentData{
		Name: env.Name, Repo: env.Repo, PR: env.PR, Branch: env.Branch,
		Status: string(env.Status), URL: env.URL, HeadSHA: env.HeadSHA, AppliedSHA: env.AppliedSHA,
		LastError: env.LastError, ExpiresAt: env.ExpiresAt, UpdatedAt: env.UpdatedAt,
		Destroyed: env.Status == preview.StatusDestroyed,
		LogURL:    logLink(env.LastRunID),
		Reason:    string(env.Desired.Reason),
		Parity:    parityView(env.Parity, env.ParityStatus),
		Database:  databaseView(env.Database, env.DatabaseStatus),
		Now:       time.Now(),
	}
	if env.Checks.SHA == env.HeadSHA {
		d.WaitingFor = env.Checks.Waiting
	}
	d.ModuleCommit = env.Module.Commit
	if b := env.Budget; b != nil {
		d.Budget = &templates.BudgetView{Scope: b.Scope, Live: b.Live, Max: b.Max, Position: b.Position}
	}
	if c, ok := pricing.Cost(env.Metered(), d.Now); ok && (!env.LiveSince.IsZero() || len(env.Usage) > 0) {
		// Whole hours so far: the body changes at most hourly. Until
		// expiry it is the same all along (an hour passed is an hour
		// less to go) until the environment sees activity.
		d.Cost = &templates.CostView{Currency: c.Currency, SoFar: math.Floor(env.Hours(d.Now)) * c.Hourly, UntilExpiry: c.UntilExpiry}
	}
	return d
}

// parityView is what the comment shows of a parity report, with the
// check run that shows it (shown): its findings, each undeclared,
// declared or a warning, and how many of the first two; nil before the
// first check.
func parityView(r preview.ParityReport, shown preview.CommitStatus) *templates.ParityView {
	if r.CheckedAt.IsZero() {
		return nil
	}
	v := &templates.ParityView{OK: r.Status == preview.ParityOK, Error: r.Error}
	if shown.SHA == r.SHA && shown.CheckRunID != 0 {
		v.CheckRunURL = shown.URL
	}
	findings := r.WithoutIdentity().Findings
	n := countFindings(findings)
	v.Undeclared, v.Declared = n.undeclared, n.declared
	for _, f := range findings {
		v.Findings = append(v.Findings, templates.FindingRow{Kind: string(f.Kind), Subject: f.Subject, Production: f.Production, Preview: f.Preview,
			Reason: f.Reason, Declared: groupOf(f) == declaredFinding, Warning: groupOf(f) == warningFinding, Location: f.Location})
	}
	return v
}

// databaseView is what the comment shows of the migrations verdict: the
// reason that decided it (a lock over a limit, or a table too small to
// say); nil before a watch.
func databaseView(r preview.DatabaseReport, shown preview.CommitStatus) *templates.DatabaseView {
	if r.Verdict.Status == "" {
		return nil
	}
	v := &templates.DatabaseView{Status: r.Verdict.Status}
	for _, reason := range r.Verdict.Reasons {
		decides := r.Verdict.Status != preview.DatabaseInconclusive || strings.Contains(reason, "%)")
		if v.Reason == "" && decides {
			v.Reason = reason
		}
	}
	if shown.SHA == r.SHA && shown.CheckRunID != 0 {
		v.CheckRunURL = shown.URL
	}
	return v
}
