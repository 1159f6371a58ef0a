package parity

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

func TestLoadToggles(t *testing.T) {
	tests := []struct {
		name, body string
		wantErr    string
	}{
		{"not an object", `[1]`, "not a JSON object of toggles"},
		{"tiers not an object", `{"a": true}`, `toggle "a": not an object of tiers`},
		{"not a bool", `{"a": {"production": "yes"}}`, `toggle "a": tier "production": not true or false`},
		{"no production", `{"a": {"staging": true}}`, `toggle "a": has no "production" value`},
		{"bad json", `{"a": `, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "toggles.json")
			os.WriteFile(path, []byte(tt.body), 0o600)
			_, err := LoadToggles(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("got %v, want an error naming the file and containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestTogglesForTier(t *testing.T) {
	toggles, err := LoadToggles(filepath.Join("testdata", "toggles", "toggles.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tier string
		want map[string]bool
	}{
		{"production", map[string]bool{"new_checkout": false, "experimental_pricing": false, "dark_mode": true, "search_v2": false, "fast_cart": true}},
		{"staging", map[string]bool{"new_checkout": true, "experimental_pricing": false, "dark_mode": true, "search_v2": true, "fast_cart": true}},
		// preview: its own value, else staging's, else production's.
		{"preview", map[string]bool{"new_checkout": true, "experimental_pricing": false, "dark_mode": true, "search_v2": false, "fast_cart": false}},
		{"development", map[string]bool{"new_checkout": true, "experimental_pricing": true, "dark_mode": true, "search_v2": false, "fast_cart": true}},
	}
	for _, tt := range tests {
		if got := toggles.ForTier(tt.tier); !maps.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.tier, got, tt.want)
		}
	}
}

func TestCompareToggles(t *testing.T) {
	toggles, err := LoadToggles(filepath.Join("testdata", "toggles", "toggles.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []preview.Finding{
		{Kind: preview.FindingToggle, Subject: "fast_cart", Production: "true", Preview: "false", Declared: true, Reason: "toggle: preview tier"},
		{Kind: preview.FindingToggle, Subject: "new_checkout", Production: "false", Preview: "true", Declared: true, Reason: "toggle: staging tier"},
	}
	if got := CompareToggles(toggles); !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got := CompareToggles(nil); got != nil {
		t.Errorf("no toggles: got %+v", got)
	}
}
