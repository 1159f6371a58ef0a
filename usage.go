package preview

import (
	"slices"
	"time"
)

// Environment-hours: how long an environment's resources lived, from its
// first successful apply to its destroy. They are what previews cost.

// usageMonths is how many months of hours an environment keeps.
const usageMonths = 12

// month names the month t falls in, in UTC: "2026-12".
func month(t time.Time) string { return t.UTC().Format("2006-01") }

// Applied records a successful apply at now: the environment is live from
// now on, unless it already was.
func (e *Environment) Applied(now time.Time) {
	if e.LiveSince.IsZero() {
		e.LiveSince = now.UTC()
	}
}

// Destroyed records a successful destroy at now: the hours since LiveSince
// join Usage, by month.
func (e *Environment) Destroyed(now time.Time) {
	if e.LiveSince.IsZero() {
		return
	}
	if e.Usage == nil {
		e.Usage = map[string]float64{}
	}
	for m, h := range spanHours(e.LiveSince, now) {
		e.Usage[m] += h
	}
	e.LiveSince = time.Time{}
	if len(e.Usage) > usageMonths {
		months := make([]string, 0, len(e.Usage))
		for m := range e.Usage {
			months = append(months, m)
		}
		slices.Sort(months)
		for _, m := range months[:len(months)-usageMonths] {
			delete(e.Usage, m)
		}
	}
}

// Metered is what pricing reads of an environment (see Pricing.Cost): its
// repository, its outputs (one may hold its own price), and its hours.
// Pricing reads nothing else, so a Metered kept apart from the environment
// (a cache) prices it as the environment itself would.
type Metered struct {
	Repo      string
	Outputs   map[string]string
	LiveSince time.Time          // see Environment.LiveSince
	ExpiresAt time.Time          // a live environment's hours go on until then
	Usage     map[string]float64 // see Environment.Usage
}

// Metered returns what pricing reads of e; it shares e's maps.
func (e Environment) Metered() Metered {
	return Metered{Repo: e.Repo, Outputs: e.Outputs, LiveSince: e.LiveSince, ExpiresAt: e.ExpiresAt, Usage: e.Usage}
}

// Hours returns the environment's hours up to now: of every kept month,
// and of the life it is in.
func (e Environment) Hours(now time.Time) float64 { return e.Metered().Hours(now) }

// HoursIn returns the environment's hours in the month now falls in, up to
// now.
func (e Environment) HoursIn(now time.Time) float64 { return e.Metered().HoursIn(now) }

// Hours returns the environment's hours up to now: of every kept month,
// and of the life it is in.
func (m Metered) Hours(now time.Time) float64 {
	h := 0.0
	for _, v := range m.Usage {
		h += v
	}
	if !m.LiveSince.IsZero() && now.After(m.LiveSince) {
		h += now.Sub(m.LiveSince).Hours()
	}
	return h
}

// HoursIn returns the environment's hours in the month now falls in, up to
// now.
func (m Metered) HoursIn(now time.Time) float64 {
	mo := month(now)
	h := m.Usage[mo]
	if !m.LiveSince.IsZero() {
		h += spanHours(m.LiveSince, now)[mo]
	}
	return h
}

// spanHours splits [from, to) into hours by month.
func spanHours(from, to time.Time) map[string]float64 {
	out := map[string]float64{}
	from, to = from.UTC(), to.UTC()
	for from.Before(to) {
		next := time.Date(from.Year(), from.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		end := next
		if to.Before(next) {
			end = to
		}
		out[month(from)] += end.Sub(from).Hours()
		from = end
	}
	return out
}

// BudgetWait is a new environment waiting for room within a budget
// (max_live_environments).
type BudgetWait struct {
	Since    time.Time `json:"since"`    // when it started waiting
	Scope    string    `json:"scope"`    // the repository (owner/name) whose budget is full, or "all"
	Live     int       `json:"live"`     // environments holding resources in that scope
	Max      int       `json:"max"`      // how many may
	Position int       `json:"position"` // its place in line, from 1
}

// HoldsResources reports whether the environment's resources exist, may
// exist, or are being made or torn down: what a budget counts. Resources
// may exist from the start of an apply until a destroy succeeds, so an
// apply that failed or was cut short, and a destroy that failed, leave the
// environment holding them; one that never began an apply (its required
// checks failed first) holds none, failed or not.
func (e Environment) HoldsResources() bool {
	switch {
	case busy(e.Status) || !e.LiveSince.IsZero():
		return true
	case e.Status == StatusDestroyed || e.AttemptedSHA == "":
		return false // torn down, or never applied
	case e.LastPhase == PhaseApply:
		return true // an apply began since the last destroy
	}
	// The last run was a destroy, which may have left resources unless it
	// succeeded. A failed one counts its attempts, or (Destroy tries it
	// again from zero) is still wanted gone; after one that succeeded,
	// nothing is held until an apply begins.
	return e.LastPhase == PhaseDestroy && (e.Attempts > 0 || !e.Desired.Present)
}
