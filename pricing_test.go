package preview

import (
	"reflect"
	"testing"
	"time"
)

// TestPricingCost prices an environment from the module's own output when
// it has one, else from the repository's hourly price, over its lives; a
// repository without a price has no cost.
func TestPricingCost(t *testing.T) {
	p := Pricing{Default: Price{Hourly: 0.5, Output: "hourly_cost"},
		Repos: map[string]Price{"acme/free": {}, "acme/eu": {Hourly: 2, Currency: "€"}}}
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
	env := Environment{Repo: "acme/shop", LiveSince: now.Add(-10 * time.Hour), ExpiresAt: now.Add(6 * time.Hour),
		Usage: map[string]float64{"2026-11": 4}}
	c, ok := p.Cost(env.Metered(), now)
	if !ok || c.Currency != "$" || c.Hourly != 0.5 || c.Hours != 14 || c.SoFar != 7 || c.MonthHours != 10 || c.Month != 5 || c.UntilExpiry != 10 {
		t.Errorf("hourly price: %+v %v", c, ok)
	}
	env.Outputs = map[string]string{"hourly_cost": "1.25"}
	if c, _ := p.Cost(env.Metered(), now); c.Hourly != 1.25 || c.SoFar != 17.5 {
		t.Errorf("the module's own price: %+v", c)
	}
	env.Outputs = map[string]string{"hourly_cost": "cheap"}
	if c, _ := p.Cost(env.Metered(), now); c.Hourly != 0.5 {
		t.Errorf("a price output that is no number: %+v, want the hourly price", c)
	}
	if _, ok := p.Cost(Metered{Repo: "acme/free"}, now); ok {
		t.Error("a repository without a price has a cost")
	}
	if c, _ := p.Cost(Metered{Repo: "acme/eu", LiveSince: now.Add(-time.Hour)}, now); c.Currency != "€" || c.SoFar != 2 {
		t.Errorf("a repository's own price: %+v", c)
	}
	if c, _ := p.Cost(Metered{Repo: "ACME/EU", LiveSince: now.Add(-time.Hour)}, now); c.Currency != "€" {
		t.Errorf("a repository's own price, named in other case: %+v", c)
	}
	if _, ok := (Pricing{}).Cost(env.Metered(), now); ok {
		t.Error("no prices, and yet a cost")
	}
	if !p.Priced(env.Metered()) || p.Priced(Metered{Repo: "acme/free"}) {
		t.Error("Priced disagrees with Cost")
	}
}

// TestPricingMonth sums this month's hours and cost by repository, of the
// repositories with a price and hours this month.
func TestPricingMonth(t *testing.T) {
	p := Pricing{Repos: map[string]Price{"acme/shop": {Hourly: 2, Currency: "€"}, "acme/blog": {Hourly: 1}}}
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
	envs := []Environment{
		{Repo: "acme/shop", LiveSince: now.Add(-3 * time.Hour)},
		{Repo: "acme/shop", Usage: map[string]float64{"2026-12": 1.5, "2026-11": 10}},
		{Repo: "acme/blog", Usage: map[string]float64{"2026-11": 10}}, // none this month
		{Repo: "acme/free", LiveSince: now.Add(-time.Hour)},           // no price
	}
	want := []RepoMonth{{Repo: "acme/shop", Currency: "€", Hours: 4.5, Cost: 9}}
	if got := p.Month(envs, now); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
