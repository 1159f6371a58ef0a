package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

// TestPricingFromConfig: the top-level cost prices every repository
// without a cost of its own, a repos entry's cost prices its repository
// (an empty one prices nothing); bad prices are refused. What a price
// makes an environment cost is preview.Pricing's (pricing_test.go).
func TestPricingFromConfig(t *testing.T) {
	cfg := Default()
	cfg.ModuleDir = "/modules/shop"
	cfg.Cost = CostConfig{Hourly: 0.5, Output: "hourly_cost"}
	cfg.Repos = []RepoConfig{{Name: "acme/free", ModuleDir: "/modules/free", Cost: &CostConfig{}}, {Name: "acme/eu", ModuleDir: "/m", Cost: &CostConfig{Hourly: 2, Currency: "€"}},
		{Name: "acme/blog", ModuleDir: "/m"}}
	want := preview.Pricing{Default: preview.Price{Hourly: 0.5, Output: "hourly_cost"},
		Repos: map[string]preview.Price{"acme/free": {}, "acme/eu": {Hourly: 2, Currency: "€"}}}
	if got := cfg.Pricing(); !reflect.DeepEqual(got, want) {
		t.Errorf("pricing: got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"cost:\n  hourly: -1\n", "cost:\n  output: \"a b\"\n", "cost:\n  currency: dollarsdollars\n"} {
		path := filepath.Join(t.TempDir(), "previewd.yaml")
		os.WriteFile(path, []byte("module_dir: .\n"+bad), 0o600)
		if _, err := Load(path, MapEnv(map[string]string{"PREVIEWD_WEBHOOK_SECRET": testSecret})); err == nil || !strings.Contains(err.Error(), "cost") {
			t.Errorf("%q: %v, want it refused naming cost", bad, err)
		}
	}
}
