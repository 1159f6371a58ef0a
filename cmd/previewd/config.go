package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
	"gopkg.in/yaml.v3"
)

// Config is every setting of previewd. It loads over DefaultConfig from a
// strict YAML file, then from PREVIEWD_* environment variables, which win.
type Config struct {
	ListenAddr    string        `yaml:"listen_addr"`
	PublicURL     string        `yaml:"public_url"`   // how GitHub users reach previewd (links to logs)
	LogLinks      string        `yaml:"log_links"`    // signed (links anyone with the link may open, expiring) or admin
	LogLinkTTL    time.Duration `yaml:"log_link_ttl"` // how long a signed log link works
	DataDir       string        `yaml:"data_dir"`
	WebhookSecret string        `yaml:"webhook_secret"`
	AdminToken    string        `yaml:"admin_token"`
	ModuleDir     string        `yaml:"module_dir"`
	// MetricsListenAddr, when set, is the only address /metrics is served
	// on; MetricsToken, when set, is the bearer token a scrape must present.
	MetricsListenAddr string `yaml:"metrics_listen_addr"`
	MetricsToken      string `yaml:"metrics_token"`
	// ModuleSource names the production module in git instead of
	// module_dir ("git::https://github.com/acme/infra.git//stacks/shop?ref=main").
	ModuleSource string `yaml:"module_source"`
	// ModulePollInterval is how often modules from git are resolved again
	// when no push came.
	ModulePollInterval time.Duration `yaml:"module_poll_interval"`
	// RedeliveryInterval is how often, in App mode, GitHub's delivery log
	// is read for failed deliveries to redeliver.
	RedeliveryInterval time.Duration `yaml:"redelivery_interval"`
	// LeaseTTL is how long, with the postgres store, an environment's lease
	// (and the leader's) outlives its replica's last renewal: how soon
	// another replica takes over from one that died.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// Cost prices every repository's previews without a cost of its own.
	Cost CostConfig `yaml:"cost"`
	// MaxLiveEnvironments caps the environments holding resources at once,
	// over every repository (0: no cap); a new one waits for room.
	MaxLiveEnvironments int `yaml:"max_live_environments"`
	// EvictIdleOverBudget tears down the environment idle longest to make
	// room for a new one over a cap, instead of having it wait.
	EvictIdleOverBudget bool `yaml:"evict_idle_over_budget"`
	// EvictAcrossRepos lets eviction for the cap over every repository
	// take another repository's environment; without it a repository
	// evicts only its own.
	EvictAcrossRepos bool `yaml:"evict_across_repos"`
	// ProductionVarFiles are production's var files for module_dir (for
	// every repository without its own entry), relative to module_dir.
	ProductionVarFiles []string `yaml:"production_var_files"`
	// ProductionTerraformVersion is the engine production runs module_dir
	// with ("1.5.7", "opentofu 1.8.2"); "" leaves it unchecked.
	ProductionTerraformVersion string        `yaml:"production_terraform_version"`
	URLOutput                  string        `yaml:"url_output"`
	TTL                        time.Duration `yaml:"ttl"`
	MaxConcurrentRuns          int           `yaml:"max_concurrent_runs"`
	MaxConcurrentChecks        int           `yaml:"max_concurrent_checks"` // parity checks at once, beside the runs; 0: as many as runs
	NameMaxLength              int           `yaml:"name_max_length"`
	Drafts                     bool          `yaml:"drafts"`
	LogLevel                   string        `yaml:"log_level"`
	LogFormat                  string        `yaml:"log_format"`
	ShutdownTimeout            time.Duration `yaml:"shutdown_timeout"`
	RetryBase                  time.Duration `yaml:"retry_base"`          // first retry delay of a failed destroy or transient apply failure, doubled each time
	MaxAttempts                int           `yaml:"max_attempts"`        // failed runs of the same target before previewd stops retrying
	MaxKeep                    time.Duration `yaml:"max_keep"`            // how long a preview:keep label can hold an idle environment
	ResyncInterval             time.Duration `yaml:"resync_interval"`     // how often GitHub's open pull requests are compared with the store
	MaxResyncDestroys          int           `yaml:"max_resync_destroys"` // destroys one resync pass may start
	AllowedRepos               []string      `yaml:"allowed_repos"`       // owner/* or owner/name; empty allows every repository previewd has a module for
	// WaitForChecks names the check runs or commit statuses a head must
	// pass before it is applied, for every repository without its own.
	WaitForChecks []string      `yaml:"wait_for_checks"`
	CheckTimeout  time.Duration `yaml:"check_timeout"` // how long a head waits for its required checks
	// CheckPollInterval is how often a waiting head's checks are read
	// again when no event came.
	CheckPollInterval time.Duration `yaml:"check_poll_interval"`
	GitHub            GitHubConfig  `yaml:"github"`
	Terraform         TFConfig      `yaml:"terraform"`
	// Store is where previewd keeps its own records: bbolt in data_dir
	// (the default), or PostgreSQL.
	Store StoreConfig `yaml:"store"`
	// State is where every environment keeps its Terraform state, unless
	// its repository's entry says otherwise.
	State StateConfig  `yaml:"state"`
	Repos []RepoConfig `yaml:"repos"`

	// modules resolves each repository's module (serve and previewd parity
	// set it).
	modules *modules.Resolver
}

// StoreConfig chooses previewd's store.
type StoreConfig struct {
	Driver string `yaml:"driver"` // bbolt (default) or postgres
	URL    string `yaml:"url"`    // postgres: the connection URL
}

// StateConfig is where environments keep their Terraform state: a backend
// type and its settings (see provisioner.State). The default is a local
// file per environment under data_dir.
type StateConfig struct {
	Backend string            `yaml:"backend"`
	Config  map[string]string `yaml:"config"`
}

func (s StateConfig) provisioner() provisioner.State {
	return provisioner.State{Backend: s.Backend, Config: s.Config}
}

// GitHubConfig says how previewd reaches GitHub. With neither a token nor an
// App, previewd runs offline.
type GitHubConfig struct {
	APIURL            string `yaml:"api_url"`
	Token             string `yaml:"token"`
	AppID             int64  `yaml:"app_id"`
	AppPrivateKeyFile string `yaml:"app_private_key_file"`
}

// TFConfig configures Terraform runs.
type TFConfig struct {
	Bin            string            `yaml:"bin"`
	PluginCacheDir string            `yaml:"plugin_cache_dir"`
	CLIConfig      string            `yaml:"cli_config"` // TF_CLI_CONFIG_FILE for every run
	EnvPassthrough []string          `yaml:"env_passthrough"`
	Env            map[string]string `yaml:"env"`
}

// RepoConfig gives one repository its own module and production inputs.
type RepoConfig struct {
	Name      string `yaml:"name"` // owner/name
	ModuleDir string `yaml:"module_dir"`
	// ModuleSource names the module in git instead of module_dir.
	ModuleSource string             `yaml:"module_source"`
	URLOutput    string             `yaml:"url_output"`
	Production   ProductionConfig   `yaml:"production"`
	Differences  []DifferenceConfig `yaml:"differences"`
	Parity       parity.Config      `yaml:"parity"`
	// State overrides the default state for this repository's
	// environments.
	State *StateConfig `yaml:"state"`
	// WaitForChecks overrides the default required checks (an empty list:
	// none).
	WaitForChecks []string `yaml:"wait_for_checks"`
	// Cost overrides the default price of previews.
	Cost *CostConfig `yaml:"cost"`
	// MaxLiveEnvironments caps this repository's environments holding
	// resources at once (0: no cap of its own).
	MaxLiveEnvironments int `yaml:"max_live_environments"`

	// With a module_source, the checkout an environment gets (see
	// repoFor).
	moduleRoot    string
	moduleVersion preview.ModuleVersion
}

// ProductionConfig is what production passes to the module.
type ProductionConfig struct {
	VarFiles []string       `yaml:"var_files"`
	Vars     map[string]any `yaml:"vars"`
	// TerraformVersion is the engine production runs the module with
	// ("1.5.7", "terraform 1.5.7", "opentofu 1.8.2"); "" leaves it
	// unchecked.
	TerraformVersion string `yaml:"terraform_version"`
}

// DifferenceConfig declares one way previews differ from production.
type DifferenceConfig = preview.Difference

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		ListenAddr:         "127.0.0.1:8080",
		LogLinks:           "signed",
		LogLinkTTL:         30 * 24 * time.Hour,
		DataDir:            "./.previewd",
		URLOutput:          "url",
		TTL:                72 * time.Hour,
		MaxConcurrentRuns:  4,
		NameMaxLength:      63,
		LogLevel:           "info",
		LogFormat:          "text",
		ShutdownTimeout:    90 * time.Second,
		MaxKeep:            30 * 24 * time.Hour,
		RetryBase:          time.Minute,
		CheckTimeout:       time.Hour,
		CheckPollInterval:  30 * time.Second,
		ModulePollInterval: 5 * time.Minute,
		RedeliveryInterval: 5 * time.Minute,
		LeaseTTL:           30 * time.Second,
		MaxAttempts:        5,
		ResyncInterval:     10 * time.Minute,
		MaxResyncDestroys:  5,
		GitHub:             GitHubConfig{APIURL: "https://api.github.com/"},
	}
}

// LoadConfig reads the YAML file at path (none if empty) over the defaults,
// applies the environment (getenv), and validates the result. Every error
// names the setting at fault.
func LoadConfig(path string, getenv func(string) (string, bool)) (Config, error) {
	return loadConfig(path, getenv, true)
}

// loadConfig is LoadConfig; commands that receive no webhooks and serve no
// admin API (parity) pass needSecret false.
func loadConfig(path string, getenv func(string) (string, bool), needSecret bool) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config %s: %w", path, nameSettings(data, err))
		}
		dir, err := filepath.Abs(filepath.Dir(path))
		if err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		cfg.resolvePaths(dir)
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return cfg, err
	}
	if err := cfg.validate(needSecret); err != nil {
		return cfg, err
	}
	if setting, problem := cfg.terraformStoreProblem(getenv); problem != "" {
		return cfg, fmt.Errorf("config: %s: %s", setting, problem)
	}
	return cfg, nil
}

// resolvePaths makes the module directories a file names relative to the
// file's own directory, so a config file works from any working directory.
func (c *Config) resolvePaths(dir string) {
	if c.Terraform.CLIConfig != "" {
		c.Terraform.CLIConfig = absPath(dir, c.Terraform.CLIConfig)
	}
	if c.ModuleDir != "" {
		c.ModuleDir = absPath(dir, c.ModuleDir)
	}
	for i := range c.Repos {
		if c.Repos[i].ModuleDir != "" {
			c.Repos[i].ModuleDir = absPath(dir, c.Repos[i].ModuleDir)
		}
		c.Repos[i].Parity.ResolvePaths(dir)
	}
}

// envSetting is one setting a PREVIEWD_* variable overrides.
type envSetting struct {
	Key   string // the YAML path, e.g. github.app_id
	Var   string // the variable, e.g. PREVIEWD_GITHUB_APP_ID
	Kind  string // string, int, bool, duration, or list (comma-separated)
	index []int  // the field's index path in Config
}

// envSettings lists every setting a variable can override, in the order of
// Config's fields. The name comes from the YAML path: github.app_id is
// PREVIEWD_GITHUB_APP_ID. Maps and lists of records (terraform.env, repos)
// are set only in the file.
func envSettings() []envSetting {
	return settingsOf(reflect.TypeFor[Config](), "", nil)
}

func settingsOf(t reflect.Type, prefix string, index []int) []envSetting {
	var out []envSetting
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key, idx := prefix+name, append(slices.Clone(index), i)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, settingsOf(f.Type, key+".", idx)...)
		} else if kind := envKind(f.Type); kind != "" {
			v := "PREVIEWD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
			out = append(out, envSetting{Key: key, Var: v, Kind: kind, index: idx})
		}
	}
	return out
}

// envKind names how a variable's value is parsed for a field of type t, or
// returns "" when no variable can express it.
func envKind(t reflect.Type) string {
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
	}
	return ""
}

// set parses v into the setting's field of c.
func (s envSetting) set(c *Config, v string) error {
	f := reflect.ValueOf(c).Elem().FieldByIndex(s.index)
	switch s.Kind {
	case "string":
		f.SetString(v)
	case "duration":
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration (use e.g. 72h or 30m)", v)
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
	}
	return nil
}

// applyEnv overrides settings from PREVIEWD_* variables that are set. An
// error names the variable.
func (c *Config) applyEnv(getenv func(string) (string, bool)) error {
	for _, s := range envSettings() {
		if v, ok := getenv(s.Var); ok {
			if err := s.set(c, v); err != nil {
				return fmt.Errorf("config: %s: %w", s.Var, err)
			}
		}
	}
	// The name PostgreSQL deployments expect: it selects the driver too.
	if v, ok := getenv("PREVIEWD_DATABASE_URL"); ok && strings.TrimSpace(v) != "" {
		c.Store.Driver, c.Store.URL = "postgres", strings.TrimSpace(v)
	}
	return nil
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// nameSettings adds the dotted name of the setting to each line of a YAML
// type error ("line 3: cannot unmarshal …" becomes "line 3: ttl: cannot
// unmarshal …"), so the message names the setting, not just a line.
func nameSettings(data []byte, err error) error {
	var te *yaml.TypeError
	var root yaml.Node
	if !errors.As(err, &te) || yaml.Unmarshal(data, &root) != nil {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = m
		if sub := yamlLine.FindStringSubmatch(m); sub != nil {
			line, _ := strconv.Atoi(sub[1])
			if key := keyAtLine(&root, line, ""); key != "" {
				msgs[i] = strings.Replace(m, sub[0], sub[0]+key+": ", 1)
			}
		}
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// keyAtLine returns the dotted path of the deepest setting on line.
func keyAtLine(n *yaml.Node, line int, prefix string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if k := keyAtLine(c, line, prefix); k != "" {
				return k
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			path := key.Value
			if prefix != "" {
				path = prefix + "." + key.Value
			}
			if k := keyAtLine(val, line, path); k != "" {
				return k
			}
			if key.Line == line {
				return path
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if k := keyAtLine(c, line, fmt.Sprintf("%s[%d]", prefix, i)); k != "" {
				return k
			}
		}
	}
	return ""
}

var repoName = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// minSecretLength is the fewest characters the webhook secret or a token
// may have: `openssl rand -hex 32` gives 64.
const minSecretLength = 32

// Validate checks every setting and returns the first problem, naming it.
func (c *Config) Validate() error { return c.validate(true) }

func (c *Config) validate(needSecret bool) error {
	bad := func(setting, format string, args ...any) error {
		for _, s := range envSettings() {
			if s.Key == setting {
				setting += " (" + s.Var + ")"
			}
		}
		return fmt.Errorf("config: %s: %s", setting, fmt.Sprintf(format, args...))
	}
	if needSecret && strings.TrimSpace(c.WebhookSecret) == "" {
		return bad("webhook_secret", "is empty; previewd refuses to accept unsigned webhooks")
	}
	// A short secret can be found offline from one signed delivery, and a
	// short token by guessing; both then let anyone act as GitHub or as an
	// operator.
	if needSecret && len(c.WebhookSecret) < minSecretLength {
		return bad("webhook_secret", "is %d characters, fewer than %d: generate one with `openssl rand -hex 32`", len(c.WebhookSecret), minSecretLength)
	}
	if needSecret && c.AdminToken != "" && len(c.AdminToken) < minSecretLength {
		return bad("admin_token", "is %d characters, fewer than %d: generate one with `openssl rand -hex 32`, or leave it empty to disable the admin API", len(c.AdminToken), minSecretLength)
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return bad("listen_addr", "%q is not host:port", c.ListenAddr)
	}
	if _, _, err := net.SplitHostPort(c.MetricsListenAddr); c.MetricsListenAddr != "" && err != nil {
		return bad("metrics_listen_addr", "%q is not host:port", c.MetricsListenAddr)
	}
	if c.MetricsListenAddr != "" && c.MetricsListenAddr == c.ListenAddr {
		return bad("metrics_listen_addr", "is listen_addr; give metrics a port of their own, or leave it empty to serve them on listen_addr")
	}
	if needSecret && c.MetricsToken != "" && len(c.MetricsToken) < minSecretLength {
		return bad("metrics_token", "is %d characters, fewer than %d: generate one with `openssl rand -hex 32`, or leave it empty to let anyone who reaches /metrics scrape it", len(c.MetricsToken), minSecretLength)
	}
	if c.DataDir == "" {
		return bad("data_dir", "is empty")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || u.Scheme == "" || u.Host == "" {
			return bad("public_url", "%q is not an absolute URL", c.PublicURL)
		}
	}
	if u, err := url.Parse(c.GitHub.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return bad("github.api_url", "%q is not an http(s) URL", c.GitHub.APIURL)
	}
	if c.GitHub.AppID != 0 || c.GitHub.AppPrivateKeyFile != "" {
		switch {
		case c.GitHub.AppID <= 0:
			return bad("github.app_id", "is required with github.app_private_key_file")
		case c.GitHub.AppPrivateKeyFile == "":
			return bad("github.app_private_key_file", "is required with github.app_id")
		case c.GitHub.Token != "":
			return bad("github.token", "set either a token or a GitHub App, not both")
		}
		key, err := os.ReadFile(c.GitHub.AppPrivateKeyFile)
		if err != nil {
			return bad("github.app_private_key_file", "%v", err)
		}
		if block, _ := pem.Decode(key); block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
			return bad("github.app_private_key_file", "%s holds no PEM private key (download one from the App's settings)", c.GitHub.AppPrivateKeyFile)
		}
	}
	for i, pattern := range c.AllowedRepos {
		if _, err := path.Match(pattern, "a/b"); err != nil || !strings.Contains(pattern, "/") {
			return bad(fmt.Sprintf("allowed_repos[%d]", i), "%q is not owner/name or owner/*", pattern)
		}
	}
	if c.LogLinks != "signed" && c.LogLinks != "admin" {
		return bad("log_links", "%q is not signed or admin", c.LogLinks)
	}
	if c.LogLinkTTL <= 0 {
		return bad("log_link_ttl", "must be positive, got %s", c.LogLinkTTL)
	}
	if c.TTL <= 0 {
		return bad("ttl", "must be positive, got %s", c.TTL)
	}
	if c.MaxConcurrentRuns < 1 || c.MaxConcurrentRuns > 256 {
		return bad("max_concurrent_runs", "must be between 1 and 256, got %d", c.MaxConcurrentRuns)
	}
	if c.MaxConcurrentChecks == 0 {
		// A check waits until no run is queued (see the controller), so it
		// takes a slot runs leave idle.
		c.MaxConcurrentChecks = c.MaxConcurrentRuns
	}
	if c.MaxConcurrentChecks < 1 || c.MaxConcurrentChecks > 256 {
		return bad("max_concurrent_checks", "must be between 1 and 256, got %d", c.MaxConcurrentChecks)
	}
	if c.NameMaxLength < 16 || c.NameMaxLength > 63 {
		return bad("name_max_length", "must be between 16 and 63, got %d", c.NameMaxLength)
	}
	if c.MaxKeep < c.TTL {
		return bad("max_keep", "must be at least ttl (%s), got %s", c.TTL, c.MaxKeep)
	}
	if c.RetryBase <= 0 {
		return bad("retry_base", "must be positive, got %s", c.RetryBase)
	}
	if c.MaxAttempts < 1 {
		return bad("max_attempts", "must be at least 1, got %d", c.MaxAttempts)
	}
	if c.ResyncInterval < time.Minute {
		return bad("resync_interval", "must be at least 1m, got %s", c.ResyncInterval)
	}
	if c.MaxResyncDestroys < 1 {
		return bad("max_resync_destroys", "must be at least 1, got %d", c.MaxResyncDestroys)
	}
	if c.ShutdownTimeout <= 0 {
		return bad("shutdown_timeout", "must be positive, got %s", c.ShutdownTimeout)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		return bad("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("log_format", "%q is not text or json", c.LogFormat)
	}
	if c.URLOutput == "" {
		return bad("url_output", "is empty")
	}
	for _, name := range c.Terraform.EnvPassthrough {
		if why := provisioner.PassthroughProblem(strings.TrimSpace(name)); why != "" {
			return bad("terraform.env_passthrough", "%q: %s", name, why)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Terraform.Env)) {
		if why := provisioner.FixedEnvProblem(name); why != "" {
			return bad("terraform.env", "%q: %s", name, why)
		}
	}
	if c.Terraform.CLIConfig != "" {
		if info, err := os.Stat(c.Terraform.CLIConfig); err != nil {
			return bad("terraform.cli_config", "%v", err)
		} else if info.IsDir() {
			return bad("terraform.cli_config", "%s is a directory, not a CLI configuration file", c.Terraform.CLIConfig)
		}
	}
	if c.ModuleDir == "" && c.ModuleSource == "" && len(c.Repos) == 0 {
		return bad("module_dir", "no module is configured: set module_dir or module_source to the production module, or list repos")
	}
	if c.ModuleDir != "" && c.ModuleSource != "" {
		return bad("module_source", "set module_dir or module_source, not both")
	}
	if c.ModuleSource != "" {
		if err := modules.ValidSource(c.ModuleSource); err != nil {
			return bad("module_source", "%v", err)
		}
	}
	if _, ok := modules.BaseDir(c.ModuleSource); ok && !c.namesBaseRepos() {
		return bad("module_source", "%q takes the module from each pull request's own repository, so it would trust every repository the App is installed on: "+
			"name the repositories it serves in allowed_repos (owner/name, not owner/*) or repos", c.ModuleSource)
	}
	if c.ModuleDir != "" {
		if err := checkDir(c.ModuleDir); err != nil {
			return bad("module_dir", "%v", err)
		}
	}
	if len(c.ProductionVarFiles) > 0 && c.ModuleDir == "" && c.ModuleSource == "" {
		return bad("production_var_files", "needs module_dir: these are production's var files for it")
	}
	for _, f := range c.ProductionVarFiles {
		if c.ModuleSource != "" {
			break // in the repository: checked when it is fetched
		}
		if _, err := os.Stat(absPath(c.ModuleDir, f)); err != nil {
			return bad("production_var_files", "%v", err)
		}
	}
	if _, err := parity.ParseEngine(c.ProductionTerraformVersion); err != nil {
		return bad("production_terraform_version", "%v", err)
	}
	if problem := provisioner.StateProblem(c.State.provisioner()); problem != "" {
		return bad("state", "%s", problem)
	}
	switch c.Store.Driver {
	case "", "bbolt":
		if c.Store.URL != "" {
			return bad("store.url", "is for the postgres driver; bbolt keeps its file in data_dir")
		}
	case "postgres":
		if !strings.HasPrefix(c.Store.URL, "postgres://") && !strings.HasPrefix(c.Store.URL, "postgresql://") {
			return bad("store.url", "must be a postgres:// URL for the postgres driver (password through PGPASSWORD or the URL)")
		}
	default:
		return bad("store.driver", "%q: use bbolt or postgres", c.Store.Driver)
	}
	if setting, problem := c.stateLockProblem(); problem != "" {
		return bad(setting, "%s", problem)
	}
	if c.CheckTimeout < 0 {
		return bad("check_timeout", "must not be negative, got %s", c.CheckTimeout)
	}
	if c.MaxLiveEnvironments < 0 {
		return bad("max_live_environments", "must be 0 (no cap) or more, got %d", c.MaxLiveEnvironments)
	}
	for _, r := range c.Repos {
		if r.MaxLiveEnvironments < 0 {
			return bad("repos["+r.Name+"].max_live_environments", "must be 0 (no cap) or more, got %d", r.MaxLiveEnvironments)
		}
	}
	if p := c.Cost.problem(); p != "" {
		return bad("cost", "%s", p)
	}
	for _, r := range c.Repos {
		if r.Cost != nil {
			if p := r.Cost.problem(); p != "" {
				return bad("repos["+r.Name+"].cost", "%s", p)
			}
		}
	}
	if c.LeaseTTL < 3*time.Second {
		return bad("lease_ttl", "must be at least 3s, got %s", c.LeaseTTL)
	}
	if c.RedeliveryInterval < time.Second {
		return bad("redelivery_interval", "must be at least 1s, got %s", c.RedeliveryInterval)
	}
	if c.ModulePollInterval < time.Second {
		return bad("module_poll_interval", "must be at least 1s, got %s", c.ModulePollInterval)
	}
	if c.CheckPollInterval < time.Second {
		return bad("check_poll_interval", "must be at least 1s, got %s", c.CheckPollInterval)
	}
	waits := slices.ContainsFunc(c.Repos, func(r RepoConfig) bool { return len(r.WaitForChecks) > 0 }) || len(c.WaitForChecks) > 0
	if waits && c.GitHub.Token == "" && c.GitHub.AppID == 0 {
		return bad("wait_for_checks", "needs GitHub to read the checks: set github.token or github.app_id")
	}
	if slices.Contains(c.WaitForChecks, "") {
		return bad("wait_for_checks", "a check name is empty")
	}
	seen := map[string]bool{}
	for i, r := range c.Repos {
		if err := r.validate(c.ModuleDir != "" || c.ModuleSource != ""); err != nil {
			return bad(fmt.Sprintf("repos[%d]", i), "%v", err)
		}
		if seen[strings.ToLower(r.Name)] {
			return bad(fmt.Sprintf("repos[%d].name", i), "%q is listed twice", r.Name)
		}
		seen[strings.ToLower(r.Name)] = true
	}
	return nil
}

func (r RepoConfig) validate(haveDefault bool) error {
	if !repoName.MatchString(r.Name) {
		return fmt.Errorf("name: %q is not owner/name", r.Name)
	}
	if r.ModuleDir == "" && r.ModuleSource == "" && !haveDefault {
		return fmt.Errorf("module_dir: is empty and no default module_dir or module_source is set")
	}
	if r.ModuleDir != "" && r.ModuleSource != "" {
		return fmt.Errorf("module_source: set module_dir or module_source, not both")
	}
	if r.ModuleSource != "" {
		if err := modules.ValidSource(r.ModuleSource); err != nil {
			return fmt.Errorf("module_source: %v", err)
		}
	}
	if r.ModuleDir != "" {
		if err := checkDir(r.ModuleDir); err != nil {
			return fmt.Errorf("module_dir: %v", err)
		}
	}
	if err := r.Parity.Validate(); err != nil {
		return fmt.Errorf("parity.%v", err)
	}
	if _, err := parity.ParseEngine(r.Production.TerraformVersion); err != nil {
		return fmt.Errorf("production.terraform_version: %v", err)
	}
	if r.State != nil {
		if problem := provisioner.StateProblem(r.State.provisioner()); problem != "" {
			return fmt.Errorf("state: %s", problem)
		}
	}
	if slices.Contains(r.WaitForChecks, "") {
		return fmt.Errorf("wait_for_checks: a check name is empty")
	}
	for j, d := range r.Differences {
		if d.Variable == "" {
			return fmt.Errorf("differences[%d].variable: is empty", j)
		}
		if slices.Contains(parity.PerPullRequest, d.Variable) {
			return fmt.Errorf("differences[%d].variable: %q is set by previewd for each pull request and cannot be declared", j, d.Variable)
		}
		if !slices.Contains(preview.Reasons, d.Reason) {
			return fmt.Errorf("differences[%d].reason: %q is not one of %s", j, d.Reason, strings.Join(preview.Reasons, ", "))
		}
	}
	return nil
}

func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// repo returns the configuration of repository name, falling back to the
// default module. ok is false when previewd has no module for it. Its Cost
// is its own (see pricing).
func (c *Config) repo(name string) (RepoConfig, bool) {
	for _, r := range c.Repos {
		if strings.EqualFold(r.Name, name) {
			if r.ModuleDir == "" && r.ModuleSource == "" {
				r.ModuleDir, r.ModuleSource = c.ModuleDir, c.ModuleSource
			}
			if r.URLOutput == "" {
				r.URLOutput = c.URLOutput
			}
			if r.State == nil {
				r.State = &c.State
			}
			if r.WaitForChecks == nil {
				r.WaitForChecks = c.WaitForChecks
			}
			return r, true
		}
	}
	if c.ModuleDir == "" && c.ModuleSource == "" {
		return RepoConfig{}, false
	}
	if _, ok := modules.BaseDir(c.ModuleSource); ok && !slices.ContainsFunc(c.AllowedRepos, func(p string) bool { return strings.EqualFold(p, name) }) {
		return RepoConfig{}, false // a repository base serves is named (see namesBaseRepos)
	}
	return RepoConfig{Name: name, ModuleDir: c.ModuleDir, ModuleSource: c.ModuleSource, URLOutput: c.URLOutput,
		State: &c.State, WaitForChecks: c.WaitForChecks, Production: ProductionConfig{
			VarFiles: c.ProductionVarFiles, TerraformVersion: c.ProductionTerraformVersion,
		}}, true
}

// repoFor is repo for env's repository, with the module env gets (see
// modules.Resolver.Resolve) as ModuleDir.
func (c *Config) repoFor(ctx context.Context, env preview.Environment) (RepoConfig, bool, error) {
	r, ok := c.repo(env.Repo)
	if !ok || r.ModuleSource == "" || c.modules == nil {
		return r, ok, nil
	}
	m, err := c.modules.Resolve(ctx, env, r.moduleSetting())
	if err != nil {
		return r, true, err
	}
	r.ModuleDir, r.moduleRoot, r.moduleVersion = m.Dir, m.Root, m.Version
	return r, true, nil
}

// moduleSetting is r's module as configured.
func (r RepoConfig) moduleSetting() modules.Setting {
	return modules.Setting{Dir: r.ModuleDir, Source: r.ModuleSource}
}

// namesBaseRepos reports whether a top-level base module_source serves
// repositories named one by one: a repos entry without a module of its
// own, or an owner/name in allowed_repos. base runs the module each
// repository keeps, so it serves those only (see repo), never every
// repository an owner/* pattern or the App's installation lets in: anyone
// who can create a repository there would run a module of their own with
// previewd's credentials.
func (c *Config) namesBaseRepos() bool {
	return slices.ContainsFunc(c.Repos, func(r RepoConfig) bool { return r.ModuleDir == "" && r.ModuleSource == "" }) ||
		slices.ContainsFunc(c.AllowedRepos, repoName.MatchString)
}

// serves reports whether previewd acts on repository repo: only when it
// has a module for it (a repos entry, or the default module_dir or
// module_source; a default base only for a repository named, see
// namesBaseRepos) and, when
// allowed_repos is set, repo matches one of its patterns (case-insensitive).
// With repos and no module_dir, that is exactly the repositories listed.
func (c *Config) serves(repo string) bool {
	if _, ok := c.repo(repo); !ok {
		return false
	}
	if len(c.AllowedRepos) == 0 {
		return true
	}
	for _, pattern := range c.AllowedRepos {
		if ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(repo)); ok {
			return true
		}
	}
	return false
}

// repoNames lists the repositories configured by name.
func (c *Config) repoNames() []string {
	names := make([]string, len(c.Repos))
	for i, r := range c.Repos {
		names[i] = r.Name
	}
	return names
}

// absPath makes p absolute relative to base unless it already is.
func absPath(base, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}
