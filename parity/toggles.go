package parity

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"

	preview "github.com/previewd/previewd"
)

// Tier names a Toggles file uses.
const (
	TierProduction = "production"
	TierStaging    = "staging"
	TierPreview    = "preview"
)

// Toggles are feature toggles per tier, as a toggles file holds them:
// {"new_checkout": {"development": true, "staging": true, "production": false}}.
// Every toggle names its production value; other tiers are optional.
type Toggles map[string]map[string]bool

// LoadToggles reads a toggles file. It returns an error naming the file and
// the toggle when the file is not such a JSON object or a toggle has no
// production value.
func LoadToggles(path string) (Toggles, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("toggles: %w", err)
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("toggles %s: %w", path, jsonError(data, err))
	}
	t, err := togglesFrom(v)
	if err != nil {
		return nil, fmt.Errorf("toggles %s: %w", path, err)
	}
	return t, nil
}

func togglesFrom(v any) (Toggles, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New(`not a JSON object of toggles ({"flag": {"production": false, …}})`)
	}
	t := Toggles{}
	for _, flag := range slices.Sorted(maps.Keys(obj)) {
		tiers, ok := obj[flag].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("toggle %q: not an object of tiers", flag)
		}
		t[flag] = map[string]bool{}
		for tier, on := range tiers {
			b, ok := on.(bool)
			if !ok {
				return nil, fmt.Errorf("toggle %q: tier %q: not true or false", flag, tier)
			}
			t[flag][tier] = b
		}
		if _, ok := t[flag][TierProduction]; !ok {
			return nil, fmt.Errorf("toggle %q: has no %q value", flag, TierProduction)
		}
	}
	return t, nil
}

// ForTier returns each toggle's value in tier, the map previewd passes the
// module. A toggle that does not name tier falls back: preview to staging,
// and then every tier to production.
func (t Toggles) ForTier(tier string) map[string]bool {
	out := make(map[string]bool, len(t))
	for flag := range t {
		out[flag], _ = t.value(flag, tier)
	}
	return out
}

// value returns flag's value in tier and the tier it came from.
func (t Toggles) value(flag, tier string) (bool, string) {
	tiers := t[flag]
	if v, ok := tiers[tier]; ok {
		return v, tier
	}
	if tier == TierPreview {
		if v, ok := tiers[TierStaging]; ok {
			return v, TierStaging
		}
	}
	return tiers[TierProduction], TierProduction
}

// CompareToggles returns a toggle finding for each toggle whose preview
// value differs from production's. A toggles file is where teams decide,
// per tier, what runs where, so these differences are declared: the finding
// is declared and its Reason names the tier the preview's value comes from
// ("toggle: preview tier", or "toggle: staging tier" when the toggle names
// no preview tier). They are shown so reviewers see that the preview runs
// code production does not.
func CompareToggles(t Toggles) []preview.Finding {
	var findings []preview.Finding
	for _, flag := range slices.Sorted(maps.Keys(t)) {
		prod, _ := t.value(flag, TierProduction)
		prev, from := t.value(flag, TierPreview)
		if prod == prev {
			continue
		}
		findings = append(findings, preview.Finding{
			Kind: preview.FindingToggle, Subject: flag,
			Production: strconv.FormatBool(prod), Preview: strconv.FormatBool(prev),
			Declared: true, Reason: "toggle: " + from + " tier",
		})
	}
	return findings
}
