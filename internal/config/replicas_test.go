package config

import (
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/controller"
)

// TestConfigKeepsTerraformOffTheStore refuses, with the postgres store, a
// state backend or a Terraform environment that would log in as previewd's
// own user to its database, and state that nothing locks; the same
// settings with a role of their own and a locking backend load.
func TestConfigKeepsTerraformOffTheStore(t *testing.T) {
	module := t.TempDir()
	const store = "postgres://previewd:pw@db.internal:5432/previewd"
	t.Setenv("PGUSER", "")
	t.Setenv("PGDATABASE", "")
	base := map[string]string{
		"PREVIEWD_WEBHOOK_SECRET": strings.Repeat("s", 32), "PREVIEWD_MODULE_DIR": module,
		"PREVIEWD_DATABASE_URL": store,
		"STATE_DB":              "postgres://previewd:pw@10.0.0.5/previewd", // the store, by another host name
		"OWN_STATE_DB":          "postgres://previewd_state:pw@db.internal/previewd_state",
	}
	pg := func(conn string) string { return "state:\n  backend: pg\n  config: {conn_str: \"" + conn + "\"}\n" }
	tests := []struct {
		name, yaml, want string // want "": it loads
	}{
		{"the state in the store's database as its user", pg(store), `state: connects as previewd's own store user to its database`},
		{"the state by libpq's keywords", pg("host=db user=previewd dbname=previewd"), `state: connects as previewd's own store user`},
		{"a repository's state", "repos:\n  - name: acme/shop\n    state: {backend: pg, config: {conn_str: \"" + store + "\"}}\n", `repos[acme/shop].state: connects as previewd's own store user`},
		{"the store passed through", "state: {backend: pg}\nterraform:\n  env_passthrough: [STATE_DB]\n", `terraform.env_passthrough: STATE_DB: connects as previewd's own store user`},
		{"the store in a fixed variable", "state: {backend: pg}\nterraform:\n  env: {PG_CONN_STR: \"" + store + "\"}\n", `terraform.env: PG_CONN_STR: connects as previewd's own store user`},
		{"local state", "", "config: state: local state is a file on one replica's disk"},
		{"s3 without a lock", "state: {backend: s3, config: {bucket: b, key: k}}\n", "locks nothing without dynamodb_table or use_lockfile"},
		{"a repository's s3 without a lock", pg("postgres://previewd_state@db/previewd_state") + "repos:\n  - name: acme/shop\n    state: {backend: s3, config: {bucket: b, key: k}}\n", "repos[acme/shop].state: the s3 backend locks nothing"},
		{"a role of its own", pg("postgres://previewd_state:pw@db.internal/previewd_state"), ""},
		{"a role of its own, passed through", "state: {backend: pg}\nterraform:\n  env_passthrough: [OWN_STATE_DB]\n", ""},
		{"the store's user in another database", pg("postgres://previewd@db.internal/terraform"), ""},
		{"s3 with a lock table", "state: {backend: s3, config: {bucket: b, key: k, dynamodb_table: locks}}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = writeConfig(t, tt.yaml)
			}
			_, err := Load(path, MapEnv(base))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want it to load", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), ":pw@"):
				t.Errorf("the error quotes a password: %v", err)
			}
		})
	}
	// bbolt, one process: local state stays the default.
	if _, err := Load("", MapEnv(map[string]string{"PREVIEWD_WEBHOOK_SECRET": strings.Repeat("s", 32), "PREVIEWD_MODULE_DIR": module})); err != nil {
		t.Errorf("bbolt with local state: %v", err)
	}
}

// TestStopDelay leaves an interrupted Terraform the provisioner's default
// time alone, and with replicas less than the lease.
func TestStopDelay(t *testing.T) {
	if got := (&Config{LeaseTTL: 30 * time.Second}).StopDelay(); got != 0 {
		t.Errorf("bbolt: got %s, want 0 (the provisioner's default)", got)
	}
	cfg := Config{Store: StoreConfig{Driver: "postgres"}, LeaseTTL: 30 * time.Second}
	if got, want := cfg.StopDelay(), controller.StopDelay(30*time.Second); got != want || got <= 0 || got >= cfg.LeaseTTL {
		t.Errorf("postgres: got %s, want %s, within the lease", got, want)
	}
}
