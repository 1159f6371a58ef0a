package config

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
)

// Config is every setting of previewd. It loads over Default from a
// strict YAML file, then from PREVIEWD_* environment variables, which win.
// The settings table (settingRows) describes each setting: its variable,
// its default, its check and its line in docs/configuration.md.
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
	// Migrations watches each preview's database while it comes up.
	Migrations MigrationsConfig `yaml:"migrations"`
	// Production watches production read-only, for every repos entry
	// without its own production.state.
	Production ProductionWatchConfig `yaml:"production"`
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
	// StartupChecks runs previewd check's checks as serve starts.
	StartupChecks     bool          `yaml:"startup_checks"`
	LogLevel          string        `yaml:"log_level"`
	LogFormat         string        `yaml:"log_format"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	RetryBase         time.Duration `yaml:"retry_base"`          // first retry delay of a failed destroy or transient apply failure, doubled each time
	MaxAttempts       int           `yaml:"max_attempts"`        // failed runs of the same target before previewd stops retrying
	MaxKeep           time.Duration `yaml:"max_keep"`            // how long a preview:keep label can hold an idle environment
	ResyncInterval    time.Duration `yaml:"resync_interval"`     // how often GitHub's open pull requests are compared with the store
	MaxResyncDestroys int           `yaml:"max_resync_destroys"` // destroys one resync pass may start
	AllowedRepos      []string      `yaml:"allowed_repos"`       // owner/* or owner/name; empty allows every repository previewd has a module for
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

func (s StateConfig) Provisioner() provisioner.State {
	return provisioner.State{Backend: s.Backend, Config: s.Config}
}

// GitHubConfig says how previewd reaches GitHub. With neither a token nor an
// App, previewd runs offline.
type GitHubConfig struct {
	APIURL            string `yaml:"api_url"`
	Token             string `yaml:"token"`
	AppID             int64  `yaml:"app_id"`
	AppPrivateKeyFile string `yaml:"app_private_key_file"`
	// NoticeDeclared annotates declared differences as notices on the
	// previewd/parity check run (App mode).
	NoticeDeclared bool `yaml:"notice_declared"`
}

// TFConfig configures Terraform runs.
type TFConfig struct {
	Bin            string            `yaml:"bin"`
	PluginCacheDir string            `yaml:"plugin_cache_dir"`
	CLIConfig      string            `yaml:"cli_config"` // TF_CLI_CONFIG_FILE for every run
	EnvPassthrough []string          `yaml:"env_passthrough"`
	Env            map[string]string `yaml:"env"`
}

// Provisioner is the provisioner's configuration from t, working in
// dataDir, with the binary Bin names (see provisioner.FindTerraform: an
// empty Bin is ./bin/terraform, then terraform on PATH). The error is
// FindTerraform's.
func (t TFConfig) Provisioner(dataDir string) (provisioner.Config, error) {
	bin, err := provisioner.FindTerraform(t.Bin)
	return provisioner.Config{TerraformBin: bin, DataDir: dataDir, PluginCacheDir: t.PluginCacheDir, CLIConfigFile: t.CLIConfig,
		EnvPassthrough: t.EnvPassthrough, Env: t.Env}, err
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
	// Migrations overrides the default watch of previews' databases.
	Migrations *MigrationsConfig `yaml:"migrations"`
	// MaxLiveEnvironments caps this repository's environments holding
	// resources at once (0: no cap of its own).
	MaxLiveEnvironments int `yaml:"max_live_environments"`

	// With a module_source, the checkout an environment gets (see
	// RepoFor).
	moduleRoot    string
	moduleVersion preview.ModuleVersion
}

// MigrationsConfig watches a preview's PostgreSQL database while the
// environment comes up, and says what its migrations would make
// production suffer.
type MigrationsConfig struct {
	// DatabaseOutput names the module output holding a connection string
	// for the preview's database (kept secret); "" watches nothing.
	DatabaseOutput string `yaml:"database_output"`
	// MaxWriteBlock and MaxReadBlock are how long a lock may block
	// writes and reads.
	MaxWriteBlock time.Duration `yaml:"max_write_block"`
	MaxReadBlock  time.Duration `yaml:"max_read_block"`
	// ProductionStatsURL is a read-only connection to production that
	// reads catalog statistics only (row estimates).
	ProductionStatsURL string `yaml:"production_stats_url"`
	// MinShare is the least share of production's rows a locked
	// relation must hold for the measurement to mean something.
	MinShare float64 `yaml:"min_share"`
	// Settle is how long the database is watched after the environment
	// is ready, for the migrations the application runs as it starts.
	Settle time.Duration `yaml:"settle"`
}

// Limits are m's limits, for preview.DatabaseReport.Judge.
func (m MigrationsConfig) Limits() preview.MigrationLimits {
	return preview.MigrationLimits{MaxWriteBlock: m.MaxWriteBlock, MaxReadBlock: m.MaxReadBlock, MinShare: m.MinShare}
}

// ProductionConfig is what production passes to the module.
type ProductionConfig struct {
	VarFiles []string       `yaml:"var_files"`
	Vars     map[string]any `yaml:"vars"`
	// TerraformVersion is the engine production runs the module with
	// ("1.5.7", "terraform 1.5.7", "opentofu 1.8.2"); "" leaves it
	// unchecked.
	TerraformVersion string `yaml:"terraform_version"`
	// State, WatchInterval and Ignore override the top level's watch of
	// production (see ProductionWatch).
	State         *ProductionStateConfig     `yaml:"state"`
	WatchInterval *time.Duration             `yaml:"watch_interval"`
	Ignore        []preview.ProductionIgnore `yaml:"ignore"`
}

// DifferenceConfig declares one way previews differ from production.
type DifferenceConfig = preview.Difference

// Load reads the YAML file at path (none if empty) over the defaults,
// applies the environment (getenv), and validates the result. Every error
// names the setting at fault.
func Load(path string, getenv func(string) (string, bool)) (Config, error) {
	return Read(path, getenv, true)
}

// Read is Load; commands that receive no webhooks and serve no
// admin API (parity) pass needSecret false.
func Read(path string, getenv func(string) (string, bool), needSecret bool) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		dir, err := filepath.Abs(filepath.Dir(path))
		if err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		cfg.resolvePaths(dir)
	}
	if err := cfg.ApplyEnv(getenv); err != nil {
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
		c.Terraform.CLIConfig = AbsPath(dir, c.Terraform.CLIConfig)
	}
	if c.ModuleDir != "" {
		c.ModuleDir = AbsPath(dir, c.ModuleDir)
	}
	for i := range c.Repos {
		if c.Repos[i].ModuleDir != "" {
			c.Repos[i].ModuleDir = AbsPath(dir, c.Repos[i].ModuleDir)
		}
		c.Repos[i].Parity.ResolvePaths(dir)
	}
}

// AbsPath makes p absolute relative to base unless it already is.
func AbsPath(base, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// MapEnv looks variables up in m, as Load's getenv.
func MapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}
