package main

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/server"
)

// CostConfig prices a repository's previews: what they cost is why they
// are torn down at all.
type CostConfig struct {
	// Hourly is what one environment costs an hour.
	Hourly float64 `yaml:"hourly"`
	// Output names a numeric output of the module holding its own hourly
	// price; it wins over Hourly when the environment has it.
	Output string `yaml:"output"`
	// Currency is shown before amounts (default "$").
	Currency string `yaml:"currency"`
}

var outputName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// problem says what is wrong with c, "" when nothing.
func (c CostConfig) problem() string {
	switch {
	case c.Hourly < 0 || math.IsNaN(c.Hourly) || math.IsInf(c.Hourly, 0):
		return "hourly must be a price of zero or more"
	case c.Output != "" && !outputName.MatchString(c.Output):
		return "output must name a module output"
	case len(c.Currency) > 8:
		return "currency is at most 8 characters"
	}
	return ""
}

// costOf estimates env's cost at now: its hourly price (the module's
// cost.output, else cost.hourly), its environment-hours and what they
// cost, in all and this month, and what it will have cost if it lives
// until its expiry. ok is false when its repository has no price.
func (c *Config) costOf(env preview.Environment, now time.Time) (server.Cost, bool) {
	r, ok := c.repo(env.Repo)
	if !ok || r.Cost == nil {
		return server.Cost{}, false
	}
	rate, known := r.Cost.Hourly, r.Cost.Hourly > 0
	if r.Cost.Output != "" {
		if v, err := strconv.ParseFloat(env.Outputs[r.Cost.Output], 64); err == nil && v >= 0 && !math.IsInf(v, 0) {
			rate, known = v, true
		}
	}
	if !known {
		return server.Cost{}, false
	}
	currency := r.Cost.Currency
	if currency == "" {
		currency = "$"
	}
	hours := env.Hours(now)
	until := hours
	if !env.LiveSince.IsZero() && env.ExpiresAt.After(now) {
		until += env.ExpiresAt.Sub(now).Hours()
	}
	month := env.HoursIn(now)
	return server.Cost{
		Currency: currency, Hourly: rate,
		Hours: round2(hours), SoFar: round2(hours * rate),
		MonthHours: round2(month), Month: round2(month * rate),
		UntilExpiry: round2(until * rate),
	}, true
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// budgets gives the controller the caps on live environments.
type budgets struct{ cfg *Config }

func (b budgets) Budget(repo string) controller.Budget {
	budget := controller.Budget{
		TotalMax: b.cfg.MaxLiveEnvironments,
		Evict:    b.cfg.EvictIdleOverBudget, EvictAcrossRepos: b.cfg.EvictAcrossRepos,
	}
	for _, r := range b.cfg.Repos {
		if strings.EqualFold(r.Name, repo) {
			budget.RepoMax = r.MaxLiveEnvironments
		}
	}
	return budget
}
