package config

import (
	"strings"
	"testing"
	"time"
)

// TestProductionWatch: a repository's production.state wins over the top
// level's, its watch_interval too (0 included: only when asked), and its
// ignore list adds to the top level's; a repository without a state and
// none at the top level is not watched; a default repository (no entry)
// is not watched.
func TestProductionWatch(t *testing.T) {
	module := t.TempDir()
	path := writeConfig(t, `webhook_secret: `+fileSecret+`
module_dir: `+module+`
production:
  state: {backend: pg, config: {conn_str: "postgres://watch@db/states"}}
  ignore:
    - {path: aws_autoscaling_group.*.desired_capacity, reason: the autoscaler moves it}
repos:
  - name: acme/shop
    production:
      state: {backend: s3, config: {bucket: tf, key: shop.tfstate, dynamodb_table: locks}, workspace: prod}
      watch_interval: 0s
      ignore:
        - {path: aws_ecs_service.web.desired_count, reason: scaled by hand at peaks}
  - name: acme/blog
`)
	cfg, err := Load(path, MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	shop, ok := cfg.ProductionWatch("ACME/shop")
	if !ok || shop.State.Backend != "s3" || shop.State.Workspace != "prod" || shop.WatchInterval != 0 || len(shop.Ignore) != 2 {
		t.Errorf("acme/shop: %+v %v; want its own s3 state, interval 0, both ignore entries", shop, ok)
	}
	blog, ok := cfg.ProductionWatch("acme/blog")
	if !ok || blog.State.Backend != "pg" || blog.WatchInterval != 6*time.Hour || len(blog.Ignore) != 1 {
		t.Errorf("acme/blog: %+v %v; want the top level's pg state, 6h, one ignore entry", blog, ok)
	}
	if _, ok := cfg.ProductionWatch("acme/other"); ok {
		t.Error("a repository without an entry is watched")
	}
	if got := cfg.WatchedProduction(); len(got) != 2 || got["acme/shop"] != 0 || got["acme/blog"] != 6*time.Hour {
		t.Errorf("watched %v", got)
	}
	if st := shop.State.Provisioner(); st.Workspace != "prod" || st.Backend != "s3" || st.Config["key"] != "shop.tfstate" {
		t.Errorf("provisioner state %+v", st)
	}
}

func TestProductionWatchErrors(t *testing.T) {
	module := t.TempDir()
	for _, tt := range []struct{ yaml, want string }{
		{"production:\n  state: {backend: local}\n", "production.state: backend local is previewd's own disk"},
		{"production:\n  state: {config: {bucket: b}}\n", "production.state: backend is empty"},
		{"production:\n  state: {backend: s3, config: {bucket: b, key: k, workspace: x}}\n", `setting "workspace" would choose the workspace`},
		{"production:\n  watch_interval: -1h\n", "production.watch_interval"},
		{"production:\n  ignore: [{path: desired_capacity, reason: x}]\n", `production.ignore: [0].path: "desired_capacity" is not an attribute path`},
		{"production:\n  ignore: [{path: a.b.c}]\n", "production.ignore: [0].reason: say why a.b.c is expected to move"},
		{"repos:\n  - name: acme/shop\n    production:\n      state: {backend: local}\n", "repos[0] (acme/shop): production.state: backend local"},
		{"repos:\n  - name: acme/shop\n    production:\n      watch_interval: -2h\n", "repos[0] (acme/shop): production.watch_interval: cannot be negative"},
		{"repos:\n  - name: acme/shop\n    production:\n      ignore: [{path: x}]\n", "repos[0] (acme/shop): production.ignore: [0].path"},
	} {
		path := writeConfig(t, "webhook_secret: "+fileSecret+"\nmodule_dir: "+module+"\n"+tt.yaml)
		_, err := Load(path, MapEnv(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want an error containing %q", tt.yaml, err, tt.want)
		}
	}
}
