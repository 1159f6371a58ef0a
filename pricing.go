package preview

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What previews cost is why they are torn down at all. Pricing turns an
// environment's hours (usage.go) into money, for the API, the dashboard,
// the pull request's comment and the metrics alike.

// Price is what a repository's previews cost. The zero Price prices
// nothing.
type Price struct {
	// Hourly is what one environment costs an hour.
	Hourly float64
	// Output names a numeric output of the module holding its own hourly
	// price; it wins over Hourly when the environment has it.
	Output string
	// Currency is shown before amounts ("" is "$").
	Currency string
}

// Pricing prices environments by repository.
type Pricing struct {
	// Default prices the repositories without a price of their own.
	Default Price
	// Repos are repositories' own prices, by owner/name (matched
	// case-insensitively).
	Repos map[string]Price
}

// Cost is an environment's estimated cost at a time. Hours and amounts
// are rounded to hundredths.
type Cost struct {
	Currency    string
	Hourly      float64 // the price of an hour
	Hours       float64 // environment-hours so far
	SoFar       float64 // what they cost
	MonthHours  float64 // environment-hours this month (UTC)
	Month       float64 // what they cost
	UntilExpiry float64 // what it will have cost if it lives until its expiry
}

// price returns repo's price: its own, else the default.
func (p Pricing) price(repo string) Price {
	if price, ok := p.Repos[repo]; ok {
		return price
	}
	for name, price := range p.Repos {
		if strings.EqualFold(name, repo) {
			return price
		}
	}
	return p.Default
}

// Cost estimates m's cost at now: its hourly price (the module's output
// named by the price's Output, else its Hourly), its environment-hours and
// what they cost, in all and this month, and what it will have cost if it
// lives until its expiry. ok is false when its repository has no price.
func (p Pricing) Cost(m Metered, now time.Time) (Cost, bool) {
	price := p.price(m.Repo)
	rate, known := price.rate(m)
	if !known {
		return Cost{}, false
	}
	currency := price.Currency
	if currency == "" {
		currency = "$"
	}
	hours := m.Hours(now)
	until := hours
	if !m.LiveSince.IsZero() && m.ExpiresAt.After(now) {
		until += m.ExpiresAt.Sub(now).Hours()
	}
	month := m.HoursIn(now)
	return Cost{
		Currency: currency, Hourly: rate,
		Hours: Hundredths(hours), SoFar: Hundredths(hours * rate),
		MonthHours: Hundredths(month), Month: Hundredths(month * rate),
		UntilExpiry: Hundredths(until * rate),
	}, true
}

// Priced reports whether m has a cost (see Cost), at any time.
func (p Pricing) Priced(m Metered) bool {
	_, known := p.price(m.Repo).rate(m)
	return known
}

// rate is m's hourly price: the module's output named by Output, else
// Hourly. known is false when there is neither.
func (price Price) rate(m Metered) (rate float64, known bool) {
	if price.Output != "" {
		if v, err := strconv.ParseFloat(m.Outputs[price.Output], 64); err == nil && v >= 0 && !math.IsInf(v, 0) {
			return v, true
		}
	}
	return price.Hourly, price.Hourly > 0
}

// RepoMonth is a repository's environment-hours this month (UTC) and what
// they cost.
type RepoMonth struct {
	Repo, Currency string
	Hours, Cost    float64
}

// Month sums the hours envs have this month (UTC) up to now, and their
// cost, by repository: of the repositories with a price whose
// environments have hours this month, sorted by repository.
func (p Pricing) Month(envs []Environment, now time.Time) []RepoMonth {
	metered := make([]Metered, len(envs))
	for i, e := range envs {
		metered[i] = e.Metered()
	}
	return p.MonthOf(metered, now)
}

// MonthOf is Month of the environments pricing reads as metered.
func (p Pricing) MonthOf(metered []Metered, now time.Time) []RepoMonth {
	months := map[string]*RepoMonth{}
	for _, e := range metered {
		cost, priced := p.Cost(e, now)
		if !priced || e.HoursIn(now) <= 0 {
			continue
		}
		m := months[e.Repo]
		if m == nil {
			m = &RepoMonth{Repo: e.Repo, Currency: cost.Currency}
			months[e.Repo] = m
		}
		m.Hours += cost.MonthHours
		m.Cost += cost.Month
	}
	out := make([]RepoMonth, 0, len(months))
	for _, m := range months {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b RepoMonth) int { return strings.Compare(a.Repo, b.Repo) })
	return out
}

// Hundredths rounds v to two decimals, as hours and amounts are shown.
func Hundredths(v float64) float64 { return math.Round(v*100) / 100 }
