package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"gopkg.in/yaml.v3"
)

// testSecret is a webhook secret given in the environment.
const testSecret = "config-webhook-secret-5f1d8c2a9b3e7f6041d2c8a7e9b0"

// fileSecret is a webhook secret given in a configuration file.
const fileSecret = "webhook-secret-from-the-file-7d3a9c1e5b2f8d4a6c0e"

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "previewd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigDefaultsAndOverrides(t *testing.T) {
	module := t.TempDir()
	path := writeConfig(t, "webhook_secret: "+fileSecret+"\nttl: 24h\nmax_concurrent_runs: 2\nmodule_dir: "+module+"\n")
	cfg, err := Load(path, MapEnv(map[string]string{"PREVIEWD_TTL": "36h", "PREVIEWD_LISTEN_ADDR": "0.0.0.0:9000"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TTL != 36*time.Hour {
		t.Errorf("ttl: got %v, want the variable's 36h to win over the file", cfg.TTL)
	}
	if cfg.MaxConcurrentRuns != 2 || cfg.WebhookSecret != fileSecret || cfg.ListenAddr != "0.0.0.0:9000" {
		t.Errorf("got %+v", cfg)
	}
	if cfg.MaxConcurrentChecks != 2 {
		t.Errorf("max_concurrent_checks: got %d, want max_concurrent_runs' 2 by default", cfg.MaxConcurrentChecks)
	}
	if cfg.DataDir != "./.previewd" || cfg.URLOutput != "url" || cfg.GitHub.APIURL != "https://api.github.com/" {
		t.Errorf("defaults: got data_dir %q url_output %q api_url %q", cfg.DataDir, cfg.URLOutput, cfg.GitHub.APIURL)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	module := t.TempDir()
	file := filepath.Join(module, "main.tf")
	os.WriteFile(file, nil, 0o600)
	base := map[string]string{"PREVIEWD_WEBHOOK_SECRET": testSecret, "PREVIEWD_MODULE_DIR": module}
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want string // the error must contain this
	}{
		{"no secret", "", map[string]string{"PREVIEWD_MODULE_DIR": module}, "webhook_secret (PREVIEWD_WEBHOOK_SECRET): is empty"},
		{"blank secret", "", map[string]string{"PREVIEWD_WEBHOOK_SECRET": "  "}, "PREVIEWD_WEBHOOK_SECRET"},
		{"short secret", "", map[string]string{"PREVIEWD_WEBHOOK_SECRET": "correct-horse-battery-staple"}, "webhook_secret (PREVIEWD_WEBHOOK_SECRET): is 28 characters, fewer than 32: generate one with `openssl rand -hex 32`"},
		{"short admin token", "", map[string]string{"PREVIEWD_ADMIN_TOKEN": "admin"}, "admin_token (PREVIEWD_ADMIN_TOKEN): is 5 characters, fewer than 32: generate one with `openssl rand -hex 32`, or leave it empty"},
		{"short admin token in the file", "admin_token: " + strings.Repeat("t", 31) + "\n", nil, "admin_token (PREVIEWD_ADMIN_TOKEN): is 31 characters, fewer than 32"},
		{"metrics address not host:port", "", map[string]string{"PREVIEWD_METRICS_LISTEN_ADDR": "9090"}, `metrics_listen_addr (PREVIEWD_METRICS_LISTEN_ADDR): "9090" is not host:port`},
		{"metrics on the main address", "listen_addr: 127.0.0.1:8080\nmetrics_listen_addr: 127.0.0.1:8080\n", nil, "metrics_listen_addr (PREVIEWD_METRICS_LISTEN_ADDR): is listen_addr"},
		{"short metrics token", "", map[string]string{"PREVIEWD_METRICS_TOKEN": "scrape"}, "metrics_token (PREVIEWD_METRICS_TOKEN): is 6 characters, fewer than 32"},
		{"unknown key", "webhook_secrett: x\n", nil, "field webhook_secrett not found"},
		{"bad yaml", "ttl: [\n", nil, "config "},
		{"yaml wrong type", "max_concurrent_runs: lots\n", nil, "max_concurrent_runs"},
		{"bad ttl variable", "", map[string]string{"PREVIEWD_TTL": "3 days"}, `PREVIEWD_TTL: "3 days" is not a duration`},
		{"negative ttl", "ttl: -1h\n", nil, "ttl (PREVIEWD_TTL): must be positive"},
		{"runs not a number", "", map[string]string{"PREVIEWD_MAX_CONCURRENT_RUNS": "four"}, "PREVIEWD_MAX_CONCURRENT_RUNS"},
		{"zero runs", "max_concurrent_runs: 0\n", nil, "max_concurrent_runs (PREVIEWD_MAX_CONCURRENT_RUNS): must be between 1 and 256"},
		{"bad listen address", "", map[string]string{"PREVIEWD_LISTEN_ADDR": "8080"}, "listen_addr (PREVIEWD_LISTEN_ADDR)"},
		{"bad api url", "", map[string]string{"PREVIEWD_GITHUB_API_URL": "ftp://x"}, "github.api_url"},
		{"app id without key", "", map[string]string{"PREVIEWD_GITHUB_APP_ID": "12"}, "github.app_private_key_file (PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE): is required"},
		{"app key without id", "", map[string]string{"PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE": file}, "github.app_id (PREVIEWD_GITHUB_APP_ID): is required"},
		{"app key missing", "", map[string]string{"PREVIEWD_GITHUB_APP_ID": "12", "PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE": "/nonexistent.pem"}, "no such file"},
		{"token and app", "", map[string]string{"PREVIEWD_GITHUB_APP_ID": "12", "PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE": file, "PREVIEWD_GITHUB_TOKEN": "t"}, "not both"},
		{"app key not PEM", "", map[string]string{"PREVIEWD_GITHUB_APP_ID": "12", "PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE": file}, "holds no PEM private key"},
		{"bad allowlist", "allowed_repos: [acme]\n", nil, `allowed_repos[0]: "acme" is not owner/name`},
		{"missing module dir", "", map[string]string{"PREVIEWD_MODULE_DIR": "/nonexistent/module"}, "module_dir (PREVIEWD_MODULE_DIR)"},
		{"module dir is a file", "", map[string]string{"PREVIEWD_MODULE_DIR": file}, "is not a directory"},
		{"no module at all", "", map[string]string{"PREVIEWD_MODULE_DIR": ""}, "module_dir (PREVIEWD_MODULE_DIR): no module is configured"},
		{"secret passthrough", "terraform:\n  env_passthrough: [PREVIEWD_ADMIN_TOKEN]\n", nil, "terraform.env_passthrough"},
		{"secret passthrough by variable", "", map[string]string{"PREVIEWD_TERRAFORM_ENV_PASSTHROUGH": "AWS_*, GITHUB_TOKEN"}, `terraform.env_passthrough (PREVIEWD_TERRAFORM_ENV_PASSTHROUGH): "GITHUB_TOKEN"`},
		{"fixed GitHub token", "terraform:\n  env: {GITHUB_TOKEN: x}\n", nil, `config: terraform.env: "GITHUB_TOKEN": names starting with PREVIEWD_ or GITHUB_`},
		{"fixed GitHub token in lower case", "terraform:\n  env: {github_token: x}\n", nil, `config: terraform.env: "github_token": names starting with PREVIEWD_ or GITHUB_`},
		{"fixed previewd setting", "terraform:\n  env: {PREVIEWD_ADMIN_TOKEN: x}\n", nil, `config: terraform.env: "PREVIEWD_ADMIN_TOKEN": names starting with PREVIEWD_ or GITHUB_`},
		{"fixed empty name", "terraform:\n  env: {\"\": x}\n", nil, `config: terraform.env: "": is not a variable name`},
		{"fixed name with =", "terraform:\n  env: {\"A=B\": x}\n", nil, `config: terraform.env: "A=B": is not a variable name`},
		{"fixed data dir", "terraform:\n  env: {TF_DATA_DIR: /tmp}\n", nil, `config: terraform.env: "TF_DATA_DIR": previewd sets this variable`},
		{"fixed plugin cache", "terraform:\n  env: {TF_PLUGIN_CACHE_DIR: /tmp}\n", nil, `config: terraform.env: "TF_PLUGIN_CACHE_DIR": previewd sets this variable`},
		{"fixed terraform-exec setting", "terraform:\n  env: {TF_LOG: trace}\n", nil, `config: terraform.env: "TF_LOG": terraform-exec manages this variable`},
		{"fixed module variable", "terraform:\n  env: {TF_VAR_replicas: \"9\"}\n", nil, `config: terraform.env: "TF_VAR_replicas": terraform-exec manages this variable`},
		{"drafts not a bool", "", map[string]string{"PREVIEWD_DRAFTS": "maybe"}, `config: PREVIEWD_DRAFTS: "maybe" is not true or false`},
		{"attempts not a number", "", map[string]string{"PREVIEWD_MAX_ATTEMPTS": "5x"}, `config: PREVIEWD_MAX_ATTEMPTS: "5x" is not a whole number`},
		{"log link ttl not a duration", "", map[string]string{"PREVIEWD_LOG_LINK_TTL": "30 days"}, `config: PREVIEWD_LOG_LINK_TTL: "30 days" is not a duration`},
		{"negative checks", "", map[string]string{"PREVIEWD_MAX_CONCURRENT_CHECKS": "-1"}, "max_concurrent_checks (PREVIEWD_MAX_CONCURRENT_CHECKS): must be between 1 and 256"},
		{"bad allowlist by variable", "", map[string]string{"PREVIEWD_ALLOWED_REPOS": "acme/*,shop"}, `allowed_repos[1]: "shop" is not owner/name`},
		{"bad repo name", "repos:\n  - name: shop\n", nil, `repos[0]: name: "shop" is not owner/name`},
		{"duplicate repo", "repos:\n  - name: acme/shop\n  - name: ACME/shop\n", nil, "repos[1].name"},
		{"bad reason", "repos:\n  - name: acme/shop\n    differences:\n      - variable: replicas\n        value: 1\n        reason: because\n", nil, `differences[0].reason: "because" is not one of scale`},
		{"difference on a per-pull-request variable", "repos:\n  - name: acme/shop\n    differences:\n      - {variable: environment, value: x, reason: cost}\n", nil, `differences[0].variable: "environment" is set by previewd`},
		{"difference without variable", "repos:\n  - name: acme/shop\n    differences:\n      - reason: scale\n", nil, "differences[0].variable: is empty"},
		{"bad log level", "log_level: loud\n", nil, "log_level"},
		{"bad name length", "name_max_length: 100\n", nil, "name_max_length"},
		{"state in a backend without workspaces", "state:\n  backend: http\n  config: {address: https://state.example.com}\n", nil, `config: state: backend "http" has no workspaces`},
		{"state backend by variable", "", map[string]string{"PREVIEWD_STATE_BACKEND": "cloud"}, `backend "cloud" picks its workspaces`},
		{"a repository's state picking the workspace", "repos:\n  - name: acme/shop\n    state: {backend: pg, config: {workspace: default}}\n", nil, `repos[0]: state: setting "workspace" would choose the workspace`},
		{"required checks offline", "repos:\n  - name: acme/shop\n    wait_for_checks: [build-image]\n", nil, "wait_for_checks (PREVIEWD_WAIT_FOR_CHECKS): needs GitHub to read the checks"},
		{"an empty check name", "wait_for_checks: [build-image, \"\"]\n", map[string]string{"PREVIEWD_GITHUB_TOKEN": "t"}, "wait_for_checks (PREVIEWD_WAIT_FOR_CHECKS): a check name is empty"},
		{"a poll too often", "", map[string]string{"PREVIEWD_CHECK_POLL_INTERVAL": "10ms"}, "check_poll_interval (PREVIEWD_CHECK_POLL_INTERVAL): must be at least 1s"},
		{"module dir and source", "", map[string]string{"PREVIEWD_MODULE_SOURCE": "base//infra"}, "module_source (PREVIEWD_MODULE_SOURCE): set module_dir or module_source, not both"},
		{"base leaving the repository", "", map[string]string{"PREVIEWD_MODULE_DIR": "", "PREVIEWD_MODULE_SOURCE": "base//../etc"}, "base takes a directory inside the repository"},
		{"base for every repository", "", map[string]string{"PREVIEWD_MODULE_DIR": "", "PREVIEWD_MODULE_SOURCE": "base//infra"}, `module_source (PREVIEWD_MODULE_SOURCE): "base//infra" takes the module from each pull request's own repository`},
		{"base for every repository of an owner", "", map[string]string{"PREVIEWD_MODULE_DIR": "", "PREVIEWD_MODULE_SOURCE": "base//infra", "PREVIEWD_ALLOWED_REPOS": "acme/*"}, "name the repositories it serves in allowed_repos"},
		{"base beside repos that all have their own module", "repos:\n  - {name: acme/shop, module_source: \"git::https://github.com/acme/infra.git\"}\n", map[string]string{"PREVIEWD_MODULE_DIR": "", "PREVIEWD_MODULE_SOURCE": "base"}, "name the repositories it serves in allowed_repos"},
		{"a source following a ref named HEAD", "", map[string]string{"PREVIEWD_MODULE_DIR": "", "PREVIEWD_MODULE_SOURCE": "git::https://github.com/acme/infra.git?ref=HEAD"}, "leave ref out to follow the default branch"},
		{"a source with credentials", "", map[string]string{"PREVIEWD_MODULE_DIR": "", "PREVIEWD_MODULE_SOURCE": "git::https://u:p@github.com/acme/infra.git"}, "credentials in the URL"},
		{"an unknown store", "", map[string]string{"PREVIEWD_STORE_DRIVER": "mysql"}, `store.driver (PREVIEWD_STORE_DRIVER): "mysql": use bbolt or postgres`},
		{"postgres without a URL", "", map[string]string{"PREVIEWD_STORE_DRIVER": "postgres"}, "store.url (PREVIEWD_STORE_URL): must be a postgres:// URL"},
		{"a URL for bbolt", "", map[string]string{"PREVIEWD_STORE_URL": "postgres://db/previewd"}, "store.url (PREVIEWD_STORE_URL): is for the postgres driver"},
		{"missing CLI configuration", "", map[string]string{"PREVIEWD_TERRAFORM_CLI_CONFIG": "/nonexistent.tfrc"}, "terraform.cli_config (PREVIEWD_TERRAFORM_CLI_CONFIG): stat /nonexistent.tfrc"},
		{"CLI configuration passed through", "terraform:\n  env_passthrough: [TF_CLI_CONFIG_FILE]\n", nil, `(PREVIEWD_TERRAFORM_ENV_PASSTHROUGH): "TF_CLI_CONFIG_FILE": previewd sets this variable`},
		{"local state with a path", "state:\n  config: {path: /srv/shared.tfstate}\n", nil, "the local backend takes no settings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.name == "no secret" {
				delete(env, "PREVIEWD_WEBHOOK_SECRET")
			}
			path := ""
			if tt.yaml != "" {
				path = writeConfig(t, tt.yaml)
			}
			_, err := Load(path, MapEnv(env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/previewd.yaml", MapEnv(nil))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/previewd.yaml") {
		t.Errorf("got %v, want an error naming the file", err)
	}
}

func TestLoadConfigRelativePathsFromARelativeFile(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf", "module"), 0o755)
	os.WriteFile(filepath.Join(dir, "conf", "previewd.yaml"), []byte("webhook_secret: "+fileSecret+"\nrepos:\n  - name: acme/shop\n    module_dir: module\n"), 0o600)
	t.Chdir(dir)
	cfg, err := Load("conf/previewd.yaml", MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "conf", "module"); cfg.Repos[0].ModuleDir != want {
		t.Errorf("module_dir: got %q, want the absolute %q", cfg.Repos[0].ModuleDir, want)
	}
}

// TestEnvSettingsKeepTheirNames pins the variables operators already use:
// each is named by the rule, from its YAML path.
func TestEnvSettingsKeepTheirNames(t *testing.T) {
	existing := []string{
		"PREVIEWD_LISTEN_ADDR", "PREVIEWD_PUBLIC_URL", "PREVIEWD_DATA_DIR", "PREVIEWD_WEBHOOK_SECRET",
		"PREVIEWD_ADMIN_TOKEN", "PREVIEWD_GITHUB_API_URL", "PREVIEWD_GITHUB_TOKEN", "PREVIEWD_GITHUB_APP_ID",
		"PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE", "PREVIEWD_TERRAFORM_BIN", "PREVIEWD_MODULE_DIR", "PREVIEWD_URL_OUTPUT",
		"PREVIEWD_LOG_LEVEL", "PREVIEWD_LOG_FORMAT", "PREVIEWD_TTL", "PREVIEWD_SHUTDOWN_TIMEOUT", "PREVIEWD_MAX_KEEP",
		"PREVIEWD_RESYNC_INTERVAL", "PREVIEWD_RETRY_BASE", "PREVIEWD_MAX_CONCURRENT_RUNS", "PREVIEWD_NAME_MAX_LENGTH",
	}
	vars := map[string]bool{}
	for _, s := range EnvSettings() {
		if want := "PREVIEWD_" + strings.ToUpper(strings.ReplaceAll(s.Key, ".", "_")); s.Var != want {
			t.Errorf("%s: got variable %s, want %s", s.Key, s.Var, want)
		}
		vars[s.Var] = true
	}
	for _, v := range existing {
		if !vars[v] {
			t.Errorf("%s is no longer a variable", v)
		}
	}
}

// TestEveryScalarSettingHasAVariable walks Config apart from envSettings:
// every setting but a map or a list of records must have a variable, so a
// field of a type envSettings cannot parse fails here, not silently.
func TestEveryScalarSettingHasAVariable(t *testing.T) {
	vars := map[string]string{}
	for _, s := range EnvSettings() {
		vars[s.Key] = s.Var
	}
	var walk func(t reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() {
				continue // run-time state, not a setting (YAML never sets it)
			}
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			key := prefix + name
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, key+".")
			case f.Type.Kind() == reflect.Map, f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				if vars[key] != "" {
					t.Errorf("%s has variable %s, want none for a map or a list of records", key, vars[key])
				}
			case vars[key] == "":
				t.Errorf("%s (%s) has no PREVIEWD_* variable", key, f.Type)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
}

// flatSettings is cfg as YAML, one entry per dotted setting path.
func flatSettings(t *testing.T, cfg Config) map[string]any {
	t.Helper()
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok && prefix+k != "terraform.env" {
				flatten(prefix+k+".", sub)
			} else {
				out[prefix+k] = v
			}
		}
	}
	flatten("", doc)
	return out
}

func TestEachVariableSetsExactlyItsSetting(t *testing.T) {
	valid := map[string]struct {
		value string
		want  any // as the setting reads back from YAML
	}{
		"string":   {"from-variable", "from-variable"},
		"int":      {"7", 7},
		"bool":     {"true", true},
		"duration": {"17m", "17m0s"},
		"float":    {"0.42", 0.42},
		"list":     {"acme/shop, acme/*,", []any{"acme/shop", "acme/*"}},
	}
	before := flatSettings(t, Default())
	for _, s := range EnvSettings() {
		t.Run(s.Var, func(t *testing.T) {
			v, ok := valid[s.Kind]
			if !ok {
				t.Fatalf("kind %q has no valid value in this test", s.Kind)
			}
			cfg := Default()
			if err := cfg.ApplyEnv(MapEnv(map[string]string{s.Var: v.value})); err != nil {
				t.Fatalf("%s=%q: %v", s.Var, v.value, err)
			}
			after := flatSettings(t, cfg)
			if !reflect.DeepEqual(after[s.Key], v.want) {
				t.Errorf("%s=%q: got %s %v, want %v", s.Var, v.value, s.Key, after[s.Key], v.want)
			}
			for key, was := range before {
				if key != s.Key && !reflect.DeepEqual(after[key], was) {
					t.Errorf("%s=%q also changed %s from %v to %v", s.Var, v.value, key, was, after[key])
				}
			}
		})
	}
}

func TestBadVariableValuesAreRefusedByName(t *testing.T) {
	bad := map[string]struct{ value, want string }{
		"int":      {"four", `"four" is not a whole number`},
		"bool":     {"maybe", `"maybe" is not true or false`},
		"duration": {"3 days", `"3 days" is not a duration (use e.g. 72h or 30m)`},
		"float":    {"cheap", `"cheap" is not a number`},
	}
	for _, s := range EnvSettings() {
		b, ok := bad[s.Kind]
		if !ok {
			continue // any string is a string, any list a list
		}
		t.Run(s.Var, func(t *testing.T) {
			cfg := Default()
			err := cfg.ApplyEnv(MapEnv(map[string]string{s.Var: b.value}))
			if want := "config: " + s.Var + ": " + b.want; err == nil || err.Error() != want {
				t.Errorf("got %v, want %q", err, want)
			}
		})
	}
}

// TestDocsDocumentEveryVariable keeps docs/configuration.md's settings
// table in step with the settings: each variable is on the row of its
// setting.
func TestDocsDocumentEveryVariable(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "| YAML key | variable |")
	if !ok {
		t.Fatal("docs/configuration.md has no settings table")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	rows := strings.Split(table, "\n")
	for _, s := range EnvSettings() {
		found := false
		for _, row := range rows {
			cells := strings.Split(row, "|")
			if len(cells) > 3 && strings.Contains(cells[1], "`"+s.Key+"`") && strings.Contains(cells[2], "`"+s.Var+"`") {
				found = true
			}
		}
		if !found {
			t.Errorf("docs/configuration.md's settings table has no row with `%s` and `%s`", s.Key, s.Var)
		}
	}
}

func TestConfigServes(t *testing.T) {
	module := t.TempDir()
	shop := RepoConfig{Name: "acme/shop", ModuleDir: module}
	tests := []struct {
		name string
		cfg  Config
		repo string
		want bool
	}{
		{"default module, no allowlist", Config{ModuleDir: module}, "stranger/anything", true},
		{"listed repository", Config{Repos: []RepoConfig{shop}}, "acme/shop", true},
		{"listed repository in another case", Config{Repos: []RepoConfig{shop}}, "ACME/Shop", true},
		{"unlisted repository without a default module", Config{Repos: []RepoConfig{shop}}, "acme/other", false},
		{"stranger without a default module", Config{Repos: []RepoConfig{shop}}, "stranger/shop", false},
		{"unlisted repository with a default module", Config{ModuleDir: module, Repos: []RepoConfig{shop}}, "acme/other", true},
		{"allowlist match without a module", Config{Repos: []RepoConfig{shop}, AllowedRepos: []string{"acme/*"}}, "acme/other", false},
		{"allowlist and module", Config{Repos: []RepoConfig{shop}, AllowedRepos: []string{"acme/*"}}, "acme/shop", true},
		{"default module outside the allowlist", Config{ModuleDir: module, AllowedRepos: []string{"acme/*"}}, "stranger/shop", false},
		{"default module inside the allowlist, any case", Config{ModuleDir: module, AllowedRepos: []string{"ACME/*"}}, "acme/other", true},
		{"listed repository outside the allowlist", Config{Repos: []RepoConfig{shop}, AllowedRepos: []string{"other/*"}}, "acme/shop", false},
		{"default base, repository allowed by name", Config{ModuleSource: "base//infra", AllowedRepos: []string{"acme/*", "ACME/shop"}}, "acme/shop", true},
		{"default base, repository allowed by a pattern only", Config{ModuleSource: "base//infra", AllowedRepos: []string{"acme/*", "acme/shop"}}, "acme/new-repo", false},
		{"default base, listed repository", Config{ModuleSource: "base//infra", Repos: []RepoConfig{{Name: "acme/web"}}}, "acme/web", true},
		{"default base, unlisted repository", Config{ModuleSource: "base//infra", Repos: []RepoConfig{{Name: "acme/web"}}}, "acme/new-repo", false},
		{"default git source, unlisted repository", Config{ModuleSource: "git::https://github.com/acme/infra.git", Repos: []RepoConfig{{Name: "acme/web"}}}, "acme/new-repo", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.Serves(tt.repo); got != tt.want {
				t.Errorf("Serves(%q) = %v, want %v", tt.repo, got, tt.want)
			}
		})
	}
}

// TestBudget gives each repository its own cap, the cap over all and the
// eviction settings; a repository without an entry has no cap of its own.
func TestBudget(t *testing.T) {
	cfg := Config{ModuleDir: t.TempDir(), MaxLiveEnvironments: 10, EvictIdleOverBudget: true,
		Repos: []RepoConfig{{Name: "acme/shop", MaxLiveEnvironments: 3}}}
	for repo, want := range map[string]controller.Budget{
		"ACME/Shop":  {RepoMax: 3, TotalMax: 10, Evict: true},
		"acme/other": {TotalMax: 10, Evict: true},
	} {
		if got := cfg.Budget(repo); got != want {
			t.Errorf("Budget(%q) = %+v, want %+v", repo, got, want)
		}
	}
}

// TestRequiredChecks gives a repository its own wait_for_checks, or the
// default, with check_timeout; one previewd has no module for waits for
// nothing.
func TestRequiredChecks(t *testing.T) {
	cfg := Config{ModuleDir: t.TempDir(), WaitForChecks: []string{"ci"}, CheckTimeout: time.Hour,
		Repos: []RepoConfig{{Name: "acme/shop", WaitForChecks: []string{"build", "test"}}}}
	for repo, want := range map[string]string{"acme/shop": "[build test] 1h0m0s", "acme/web": "[ci] 1h0m0s"} {
		if checks, timeout := cfg.RequiredChecks(repo); fmt.Sprint(checks, " ", timeout) != want {
			t.Errorf("RequiredChecks(%q) = %v, %s; want %s", repo, checks, timeout, want)
		}
	}
	cfg.ModuleDir = ""
	if checks, timeout := cfg.RequiredChecks("acme/web"); checks != nil || timeout != 0 {
		t.Errorf("a repository without a module: got %v, %s", checks, timeout)
	}
}

// TestStateSettings gives the default state to every repository without
// its own, and a repository's own to its environments.
func TestStateSettings(t *testing.T) {
	module := t.TempDir()
	os.WriteFile(filepath.Join(module, "main.tf"), []byte("variable \"environment\" {}\n"), 0o600)
	path := writeConfig(t, "module_dir: "+module+"\nstate:\n  backend: pg\n  config: {conn_str: \"postgres://db/previews\"}\nrepos:\n  - name: acme/shop\n    state: {backend: s3, config: {bucket: shop-state, key: shop.tfstate}}\n  - name: acme/web\n")
	cfg, err := Load(path, MapEnv(map[string]string{"PREVIEWD_WEBHOOK_SECRET": testSecret}))
	if err != nil {
		t.Fatal(err)
	}
	for repo, want := range map[string]string{"acme/shop": "s3 shop-state", "acme/web": "pg postgres://db/previews", "acme/other": "pg postgres://db/previews"} {
		mod, err := cfg.Module(context.Background(), preview.Environment{Repo: repo})
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		if got := mod.State.Backend + " " + mod.State.Config["bucket"] + mod.State.Config["conn_str"]; got != want {
			t.Errorf("%s: state %q, want %q", repo, got, want)
		}
	}
	cfg, err = Load(path, MapEnv(map[string]string{"PREVIEWD_WEBHOOK_SECRET": testSecret, "PREVIEWD_STATE_BACKEND": "local"}))
	if err == nil || !strings.Contains(err.Error(), "the local backend takes no settings") {
		t.Errorf("local backend by variable over the file's pg settings: %v, want the settings refused", err)
	}
}
