package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// setting is one row of the settings table: everything previewd knows
// about one setting. The table is the one source of the defaults
// (Default), of the PREVIEWD_* variables (ApplyEnv), of each
// setting's own check (validate) and of docs/configuration.md's reference.
// Rules between settings are named functions of their own (validate).
type setting struct {
	Key   string // the YAML path, e.g. github.app_id
	Var   string // the variable, e.g. PREVIEWD_GITHUB_APP_ID; "" for a setting only the file sets
	Kind  string // string, int, float, bool, duration, list (comma-separated); map or records (file only)
	def   string // the default, as a variable would give it; "" is the zero value
	shown string // the default as the reference shows it, when "" means something ("`bbolt`")
	doc   string // what it means, in Markdown, for the reference
	check settingCheck
	index []int // the field's index path in Config
}

// settingCheck is a setting's own rule, given its YAML path and its value.
// It returns nil or an error naming the setting (see badSetting).
type settingCheck func(key string, value any) error

// databaseURLVar is the variable PostgreSQL deployments expect: it sets
// store.url and selects the postgres driver.
const databaseURLVar = "PREVIEWD_DATABASE_URL"

// settingRows is the settings table, in the order of the reference. Var,
// Kind and index come from the Config field each Key names (see settings).
var settingRows = []setting{
	{Key: "listen_addr", def: "127.0.0.1:8080", doc: "HTTP listen address", check: hostPort},
	{Key: "public_url", doc: "previewd's own external URL, used for log links in comments, deployments and statuses", check: optional(absoluteURL)},
	{Key: "log_links", def: "signed", check: oneOf("signed", "admin"),
		doc: "`signed`: log links anyone holding them can open, expiring, HMAC-signed with a random 32-byte key that the first previewd to start generates and keeps in the store (so links survive restarts, every replica accepts them, and they reveal nothing about the webhook secret or admin token); `admin`: links to the admin API, which need the token"},
	{Key: "log_link_ttl", def: "30d", doc: "how long a signed log link works", check: positive},
	{Key: "data_dir", def: "./.previewd", doc: "bbolt file, working directories, state, run logs", check: nonEmpty},
	{Key: "store.driver", shown: "`bbolt`",
		doc: "where previewd keeps its records: `bbolt` (a file in `data_dir`, one previewd) or `postgres` (records, leases and run logs, shared by any number of replicas: see [Running several replicas](install.md#running-several-replicas)); back PostgreSQL up with its own tools"},
	{Key: "store.url", doc: "the PostgreSQL connection URL (`postgres://user@host:5432/previewd`; the password through `PGPASSWORD` or the URL); `" + databaseURLVar + "` sets it too, and selects `postgres`"},
	{Key: "lease_ttl", def: "30s", check: atLeast("3s"),
		doc: "with `postgres`: how long a replica's lease on an environment (and the leader's) outlives its last renewal, that is how soon another replica takes over from one that died; renewed every third of it"},
	{Key: "webhook_secret", doc: "GitHub webhook secret; **required**, at least 32 characters (`openssl rand -hex 32`)"},
	{Key: "admin_token", doc: "bearer token for `/api/v1`; empty disables the admin API; when set, at least 32 characters (`openssl rand -hex 32`)"},
	{Key: "metrics_listen_addr", shown: "— (`/metrics` on `listen_addr`)", check: optional(hostPort),
		doc: "an address of its own for `/metrics` (`127.0.0.1:9090`, or an internal interface): set, `/metrics` is served there alone and no longer on `listen_addr`, which may face the internet"},
	{Key: "metrics_token", shown: "— (anyone who reaches `/metrics`)",
		doc: "bearer token a scrape of `/metrics` must present (Prometheus' `authorization: {credentials: …}`), compared in constant time; when set, at least 32 characters. The metrics name repositories and what they cost"},
	{Key: "github.api_url", def: "https://api.github.com/", doc: "REST base URL (GitHub Enterprise Server: `https://HOST/api/v3/`)", check: httpURL},
	{Key: "github.token", doc: "token mode: an installation or fine-grained token"},
	{Key: "github.app_id", doc: "GitHub App mode: the App's ID, with `github.app_private_key_file`"},
	{Key: "github.app_private_key_file", doc: "GitHub App mode: the App's private key (PEM), as downloaded from its settings"},
	{Key: "github.notice_declared", def: "false",
		doc: "GitHub App mode: annotate declared differences too, as notices at their module lines on the `previewd/parity` check run (undeclared ones are always failures)"},
	{Key: "redelivery_interval", def: "5m", check: atLeast("1s"),
		doc: "App mode: how often the App's delivery log is read; a delivery of the last three days that failed, was never recorded and was never redelivered is redelivered, once"},
	{Key: "allowed_repos", check: eachItem(ownerPattern),
		doc: "repositories previewd acts on (`owner/*`, `owner/name`), among those it has a module for; a delivery for any other is acknowledged and recorded nowhere; empty: the repositories previewd has a module for (those in `repos`, or all when `module_dir` is set); a top-level `module_source: base//DIR` serves only repositories named here as `owner/name` or in `repos`"},
	{Key: "module_dir", doc: "the production module for every repository without its own entry", check: optional(existingDir)},
	{Key: "module_source", check: optional(moduleSource),
		doc: "the production module in git instead, in Terraform's syntax (`git::https://github.com/acme/infra.git//stacks/shop?ref=main`, `git::file:///srv/infra.git?ref=v2`), or `base//DIR` for the pull request's own repository at its base branch; `repos[].module_source` per repository (see [The module from git](terraform.md#the-module-from-git))"},
	{Key: "module_poll_interval", def: "5m", check: atLeast("1s"),
		doc: "how often modules from git are resolved again when no `push` event came; environments built from an older commit are then applied again"},
	{Key: "production_var_files", doc: "production's var files for `module_dir` (relative to it), as `production.var_files` is for a `repos` entry"},
	{Key: "production_terraform_version", check: engineVersion,
		doc: "the engine production runs `module_dir` with (`1.5.7`, `terraform 1.5.7`, `opentofu 1.8.2`), as `production.terraform_version` is for a `repos` entry; a mismatch with the engine previewd runs is an `engine_version` finding"},
	{Key: "url_output", def: "url", doc: "module output holding the environment's URL", check: nonEmpty},
	{Key: "terraform.bin", shown: "`./bin/terraform`, then `PATH`",
		doc: "terraform or tofu binary (both are tested: Terraform 1.5, OpenTofu 1.10; `make tofu` builds OpenTofu into `./bin`)"},
	{Key: "terraform.env_passthrough", doc: "extra variables passed to Terraform (`AWS_*` style prefixes allowed)", check: passthroughNames},
	{Key: "terraform.env", check: fixedEnvNames,
		doc: "fixed variables for Terraform; names starting with `PREVIEWD_` or `GITHUB_`, and those previewd or terraform-exec set (`TF_DATA_DIR`, `TF_PLUGIN_CACHE_DIR`, `TF_CLI_CONFIG_FILE`, `TF_LOG`, `TF_VAR_*` …), are refused"},
	{Key: "terraform.plugin_cache_dir", doc: "shared provider cache (inits are serialised when set)"},
	{Key: "terraform.cli_config", check: optional(cliConfigFile),
		doc: "Terraform's CLI configuration file for every run (`TF_CLI_CONFIG_FILE`): where providers are installed from, e.g. a `provider_installation { filesystem_mirror { … } }` (see [Providers](terraform.md#providers))"},
	{Key: "state.backend", shown: "`local`",
		doc: "where every environment keeps its Terraform state: `local` (a file under `data_dir`) or a backend type (`s3`, `gcs`, `azurerm`, `pg`, `consul` …), each environment in a workspace of its own (see [Where the state lives](terraform.md#where-the-state-lives))"},
	{Key: "state.config", doc: "the backend's settings, never credentials (give those through `terraform.env_passthrough`)"},
	{Key: "ttl", def: "72h", doc: "idle time before an environment is destroyed", check: positive},
	{Key: "max_keep", def: "30d", doc: "how long a `preview:keep` label can hold an idle environment (at least `ttl`)"},
	{Key: "drafts", def: "false", doc: "build draft pull requests too"},
	{Key: "startup_checks", def: "true",
		doc: "run `previewd check`'s checks (the App's permissions, module sources, state backends, the engine) once as `serve` starts, in the background: each failure is logged with its setting and fix, and `/readyz` lists them (see [Checking before the first pull request](operating.md#checking-before-the-first-pull-request))"},
	{Key: "max_concurrent_runs", def: "4", doc: "Terraform runs at once (1–256)", check: between(1, 256)},
	{Key: "max_concurrent_checks", shown: "`max_concurrent_runs`", check: between(1, 256),
		doc: "parity checks at once (1–256), beside the Terraform runs; a check starts only when no run is waiting for a slot, and after an apply it reads the plan that apply applied (one `terraform show`)"},
	{Key: "name_max_length", def: "63", doc: "longest environment name (16–63)", check: between(16, 63)},
	{Key: "retry_base", def: "1m", doc: "first retry delay after a failed destroy or a transient apply failure, doubled each time", check: positive},
	{Key: "max_attempts", def: "5", doc: "failed runs of the same target before retrying stops", check: atLeastInt(1)},
	{Key: "resync_interval", def: "10m", doc: "how often GitHub's open pull requests are compared with the store", check: atLeast("1m")},
	{Key: "max_resync_destroys", def: "5", doc: "destroys one resync pass may start", check: atLeastInt(1)},
	{Key: "shutdown_timeout", def: "90s", doc: "how long a stop waits for Terraform", check: positive},
	{Key: "wait_for_checks", check: checkNames,
		doc: "check runs or commit statuses (by name, e.g. `build-image`) a head must pass before it is applied; `repos[].wait_for_checks` per repository. Meanwhile the comment and the `previewd` status say what it waits for; a failed check fails the environment without an apply (a re-run to success applies it). Needs GitHub (token or App)"},
	{Key: "check_timeout", def: "1h", doc: "how long a head waits for its required checks before the environment fails (`0`: no limit)", check: notNegative},
	{Key: "check_poll_interval", def: "30s", check: atLeast("1s"),
		doc: "how often a waiting head's checks are read again when no check event came (events read them at once)"},
	{Key: "cost.hourly", doc: "what one environment costs an hour, for every repository without its own `repos[].cost` (see [What previews cost](operating.md#what-previews-cost))"},
	{Key: "cost.output", doc: "a numeric output of the module holding its own hourly price; it wins over `cost.hourly` when an environment has it"},
	{Key: "cost.currency", shown: "`$`", doc: "shown before amounts (letters and currency signs)"},
	{Key: "max_live_environments", def: "0", shown: "`0` (no cap)", check: noCap,
		doc: "the most environments holding resources at once, over every repository; `repos[].max_live_environments` caps one repository. A new pull request's environment over a cap waits as `queued`, in line (see [Budgets](operating.md#budgets))"},
	{Key: "evict_idle_over_budget", def: "false", doc: "over a cap, tear down the environment idle longest to make room instead of waiting"},
	{Key: "evict_across_repos", def: "false",
		doc: "with `evict_idle_over_budget`, let the cap over every repository evict another repository's environment; otherwise a repository evicts only its own"},
	{Key: "log_level", def: "info", doc: "`debug`, `info`, `warn` or `error`", check: oneOf("debug", "info", "warn", "error")},
	{Key: "log_format", def: "text", doc: "`text` or `json`", check: oneOf("text", "json")},
	{Key: "migrations.database_output", check: optional(outputNameCheck),
		doc: "the module output holding a connection string for the preview's PostgreSQL database (the application's, not previewd's store; mark it `sensitive`): previewd watches that database's locks while the environment comes up and reports what its migrations held in the `previewd/migrations` verdict (see [Migrations](parity.md#migrations)); `repos[].migrations` per repository; empty: no watch"},
	{Key: "migrations.max_write_block", def: "5s", check: positive,
		doc: "how long a migration may hold a lock that blocks writes (`CREATE INDEX` without `CONCURRENTLY` holds one) before `previewd/migrations` fails"},
	{Key: "migrations.max_read_block", def: "1s", check: positive,
		doc: "how long a migration may hold a lock that blocks reads (`ACCESS EXCLUSIVE`: most `ALTER TABLE`) before `previewd/migrations` fails"},
	{Key: "migrations.production_stats_url",
		doc: "a read-only connection to production's database, for its row estimates alone (`pg_class.reltuples`): the verdict compares each locked table's size with production's; without it, it says the size could not be compared. Give it in the environment, it holds a password"},
	{Key: "migrations.min_share", def: "0.1", check: shareCheck,
		doc: "under this share of production's rows in a locked table, a measurement under the limits is `inconclusive`, not a pass: 200 rows prove nothing about 1.4 million"},
	{Key: "migrations.settle", def: "30s", check: notNegative,
		doc: "how long the database is still watched after the environment is ready, for the migrations the application runs as it starts"},
	{Key: "production.state.backend",
		doc: "production's real state, to watch production read-only (see [Production drift](parity.md#production-drift)): its remote backend (`s3`, `gcs`, `azurerm`, `pg` …); `repos[].production.state` per repository; empty: no watch"},
	{Key: "production.state.config", doc: "the backend's settings (bucket, key …), never credentials: give read-only ones through `terraform.env_passthrough`"},
	{Key: "production.state.workspace", shown: "`default`", doc: "production's Terraform workspace"},
	{Key: "production.watch_interval", def: "6h", check: notNegative,
		doc: "how often production is looked at (a refresh-only plan and a plan, both `-lock=false`; never an apply); `0`: only when asked (`POST /api/v1/production/{owner}/{repo}/watch`)"},
	{Key: "production.ignore",
		doc: "attributes expected to move in production, each `{path, reason}` (`aws_autoscaling_group.*.desired_capacity`): counted, not reported; a repository's own list adds to this one"},
	{Key: "repos",
		doc: "per-repository module, production inputs, declared differences, `parity` and `state` settings (see [A repository](#a-repository), [Configuring parity](parity.md#configuring-parity) and [Where the state lives](terraform.md#where-the-state-lives))"},
}

var (
	settingsOnce  sync.Once
	settingsTable []setting
)

// settings returns the settings table with each row's variable, kind and
// field filled in. It panics when a row names no field of Config: a
// mistake in the table, which every test finds.
func settings() []setting {
	settingsOnce.Do(func() { settingsTable = completeSettings(slices.Clone(settingRows)) })
	return settingsTable
}

// completeSettings fills in each row's variable, kind and field.
func completeSettings(out []setting) []setting {
	for i := range out {
		s := &out[i]
		f, index, ok := fieldAt(reflect.TypeFor[Config](), s.Key)
		if !ok {
			panic("settings table: " + s.Key + " is no setting of Config")
		}
		s.index, s.Kind, s.Var = index, settingKind(f.Type), settingVar(s.Key)
	}
	return out
}

// EnvSettings lists every setting a variable can override, in the table's
// order. The name comes from the YAML path: github.app_id is
// PREVIEWD_GITHUB_APP_ID. Maps and lists of records (terraform.env, repos)
// are set only in the file.
func EnvSettings() []setting {
	var out []setting
	for _, s := range settings() {
		if s.Var != "" {
			out = append(out, s)
		}
	}
	return out
}

// settingVar names the variable of the setting at key, a YAML path, by
// the rule (github.app_id is PREVIEWD_GITHUB_APP_ID), or returns "" when
// no variable sets it: a map, a list of records, a block, or no setting.
func settingVar(key string) string {
	f, _, ok := fieldAt(reflect.TypeFor[Config](), key)
	if !ok {
		return ""
	}
	if kind := settingKind(f.Type); kind == "map" || kind == "records" || kind == "" {
		return ""
	}
	return "PREVIEWD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// fieldAt finds the field of t at the dotted YAML path key.
func fieldAt(t reflect.Type, key string) (reflect.StructField, []int, bool) {
	var index []int
	for {
		name, rest, nested := strings.Cut(key, ".")
		f, ok := yamlFields(t)[name]
		if !ok {
			return reflect.StructField{}, nil, false
		}
		index = append(index, f.Index...)
		if !nested {
			return f, index, true
		}
		t, key = f.Type, rest
	}
}

// yamlFields returns the fields of struct type t by the YAML key that
// sets them (as yaml.v3 names them: the tag, or the lower-cased name).
// Inline structs' fields are t's own.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for k, inner := range yamlFields(f.Type) {
				inner.Index = append([]int{i}, inner.Index...)
				out[k] = inner
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

// settingKind names how a setting of type t is written.
func settingKind(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "duration"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return "int"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.Float64:
		return "float"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "list"
	case t.Kind() == reflect.Map:
		return "map"
	case t.Kind() == reflect.Slice:
		return "records"
	}
	return "" // a block of settings
}

// value returns the setting's value in c.
func (s setting) value(c *Config) any {
	return reflect.ValueOf(c).Elem().FieldByIndex(s.index).Interface()
}

// set parses v, written as a variable gives it, into the setting's field
// of c.
func (s setting) set(c *Config, v string) error {
	f := reflect.ValueOf(c).Elem().FieldByIndex(s.index)
	switch s.Kind {
	case "string":
		f.SetString(v)
	case "duration":
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
	case "int":
		n, err := strconv.ParseInt(v, 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		f.SetInt(n)
	case "float":
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		f.SetFloat(n)
	case "bool":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		f.SetBool(b)
	case "list":
		var items []string
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("%s is set only in the file", s.Key)
	}
	return nil
}

// Default returns the embedded defaults: each setting's default in
// the settings table.
func Default() Config {
	var c Config
	for _, s := range settings() {
		if s.def == "" {
			continue
		}
		if err := s.set(&c, s.def); err != nil {
			panic("settings table: the default of " + s.Key + ": " + err.Error())
		}
	}
	return c
}

// ApplyEnv overrides settings from PREVIEWD_* variables that are set. An
// error names the variable.
func (c *Config) ApplyEnv(getenv func(string) (string, bool)) error {
	for _, s := range EnvSettings() {
		if v, ok := getenv(s.Var); ok {
			if err := s.set(c, v); err != nil {
				return fmt.Errorf("config: %s: %w", s.Var, err)
			}
		}
	}
	if v, ok := getenv(databaseURLVar); ok && strings.TrimSpace(v) != "" {
		c.Store.Driver, c.Store.URL = "postgres", strings.TrimSpace(v)
	}
	return nil
}

// checkSettings runs each setting's own check, in the table's order, and
// returns the first problem.
func (c *Config) checkSettings() error {
	for _, s := range settings() {
		if s.check == nil {
			continue
		}
		if err := s.check(s.Key, s.value(c)); err != nil {
			return err
		}
	}
	return nil
}

// badSetting is the error for a problem with the setting at key (a YAML
// path), naming its variable too when it has one: "config: ttl
// (PREVIEWD_TTL): must be positive, got -1h0m0s".
func badSetting(key, format string, args ...any) error {
	if v := settingVar(key); v != "" {
		key += " (" + v + ")"
	}
	return fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...))
}

// dayCount is the number before a duration's d.
var dayCount = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// parseDuration reads a duration as Go writes it ("90s", "72h", "1h30m")
// or with whole or decimal days first ("2d", "1d12h", "1.5d"). YAML and
// the variables both read durations with it.
func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration (use e.g. 72h or 30m)", s)
	sign, rest := "", s
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		sign, rest = rest[:1], rest[1:]
	}
	days, after, ok := strings.Cut(rest, "d")
	if !ok {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
		return d, nil
	}
	// A day is 24 hours: "1.5d" reads as "1.5h", 24 times.
	perDay, err := time.ParseDuration(days + "h")
	if err != nil || !dayCount.MatchString(days) || perDay > time.Duration(1<<63-1)/24 {
		return 0, bad
	}
	more := time.Duration(0)
	if after != "" {
		if more, err = time.ParseDuration(after); err != nil || strings.ContainsAny(after[:1], "+-") {
			return 0, bad
		}
	}
	d := perDay*24 + more
	if d < 0 {
		return 0, bad // overflowed
	}
	if sign == "-" {
		d = -d
	}
	return d, nil
}
