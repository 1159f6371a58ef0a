package config

import (
	"math"
	"regexp"

	preview "github.com/previewd/previewd"
)

// CostConfig is a price of previews as configured (see preview.Price).
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

// price is c as a price.
func (c CostConfig) price() preview.Price {
	return preview.Price{Hourly: c.Hourly, Output: c.Output, Currency: c.Currency}
}

// Pricing is what the configuration prices previews at: cost, and the
// cost of each repos entry that has its own.
func (c *Config) Pricing() preview.Pricing {
	p := preview.Pricing{Default: c.Cost.price(), Repos: map[string]preview.Price{}}
	for _, r := range c.Repos {
		if r.Cost != nil {
			p.Repos[r.Name] = r.Cost.price()
		}
	}
	return p
}
