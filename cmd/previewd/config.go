package main

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/parity"
	"gopkg.in/yaml.v3"
)

// Config is every setting of previewd. It loads over DefaultConfig from a
// strict YAML file, then from PREVIEWD_* environment variables, which win.
type Config struct {
	ListenAddr          string        `yaml:"listen_addr"`
	PublicURL           string        `yaml:"public_url"`   // how GitHub users reach previewd (links to logs)
	LogLinks            string        `yaml:"log_links"`    // signed (links anyone with the link may open, expiring) or admin
	LogLinkTTL          time.Duration `yaml:"log_link_ttl"` // how long a signed log link works
	DataDir             string        `yaml:"data_dir"`
	WebhookSecret       string        `yaml:"webhook_secret"`
	AdminToken          string        `yaml:"admin_token"`
	ModuleDir           string        `yaml:"module_dir"`
	URLOutput           string        `yaml:"url_output"`
	TTL                 time.Duration `yaml:"ttl"`
	MaxConcurrentRuns   int           `yaml:"max_concurrent_runs"`
	MaxConcurrentChecks int           `yaml:"max_concurrent_checks"` // parity checks at once, beside the runs
	NameMaxLength       int           `yaml:"name_max_length"`
	Drafts              bool          `yaml:"drafts"`
	LogLevel            string        `yaml:"log_level"`
	LogFormat           string        `yaml:"log_format"`
	ShutdownTimeout     time.Duration `yaml:"shutdown_timeout"`
	RetryBase           time.Duration `yaml:"retry_base"`          // first retry delay of a failed destroy or transient apply failure, doubled each time
	MaxAttempts         int           `yaml:"max_attempts"`        // failed runs of the same target before previewd stops retrying
	MaxKeep             time.Duration `yaml:"max_keep"`            // how long a preview:keep label can hold an idle environment
	ResyncInterval      time.Duration `yaml:"resync_interval"`     // how often GitHub's open pull requests are compared with the store
	MaxResyncDestroys   int           `yaml:"max_resync_destroys"` // destroys one resync pass may start
	AllowedRepos        []string      `yaml:"allowed_repos"`       // owner/* or owner/name; empty allows every repository previewd has a module for
	GitHub              GitHubConfig  `yaml:"github"`
	Terraform           TFConfig      `yaml:"terraform"`
	Repos               []RepoConfig  `yaml:"repos"`
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
	EnvPassthrough []string          `yaml:"env_passthrough"`
	Env            map[string]string `yaml:"env"`
}

// RepoConfig gives one repository its own module and production inputs.
type RepoConfig struct {
	Name        string             `yaml:"name"` // owner/name
	ModuleDir   string             `yaml:"module_dir"`
	URLOutput   string             `yaml:"url_output"`
	Production  ProductionConfig   `yaml:"production"`
	Differences []DifferenceConfig `yaml:"differences"`
	Parity      parity.Config      `yaml:"parity"`
}

// ProductionConfig is what production passes to the module.
type ProductionConfig struct {
	VarFiles []string       `yaml:"var_files"`
	Vars     map[string]any `yaml:"vars"`
}

// DifferenceConfig declares one way previews differ from production.
type DifferenceConfig = preview.Difference

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		ListenAddr:          "127.0.0.1:8080",
		LogLinks:            "signed",
		LogLinkTTL:          30 * 24 * time.Hour,
		DataDir:             "./.previewd",
		URLOutput:           "url",
		TTL:                 72 * time.Hour,
		MaxConcurrentRuns:   4,
		MaxConcurrentChecks: 1,
		NameMaxLength:       63,
		LogLevel:            "info",
		LogFormat:           "text",
		ShutdownTimeout:     90 * time.Second,
		MaxKeep:             30 * 24 * time.Hour,
		RetryBase:           time.Minute,
		MaxAttempts:         5,
		ResyncInterval:      10 * time.Minute,
		MaxResyncDestroys:   5,
		GitHub:              GitHubConfig{APIURL: "https://api.github.com/"},
	}
}

// LoadConfig reads the YAML file at path (none if empty) over the defaults,
// applies the environment (getenv), and validates the result. Every error
// names the setting at fault.
func LoadConfig(path string, getenv func(string) (string, bool)) (Config, error) {
	return loadConfig(path, getenv, true)
}

// loadConfig is LoadConfig; commands that receive no webhooks (parity) pass
// needSecret false.
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
	return cfg, nil
}

// resolvePaths makes the module directories a file names relative to the
// file's own directory, so a config file works from any working directory.
func (c *Config) resolvePaths(dir string) {
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

// applyEnv overrides settings from PREVIEWD_* variables that are set.
func (c *Config) applyEnv(getenv func(string) (string, bool)) error {
	strs := map[string]*string{
		"PREVIEWD_LISTEN_ADDR":                 &c.ListenAddr,
		"PREVIEWD_PUBLIC_URL":                  &c.PublicURL,
		"PREVIEWD_DATA_DIR":                    &c.DataDir,
		"PREVIEWD_WEBHOOK_SECRET":              &c.WebhookSecret,
		"PREVIEWD_ADMIN_TOKEN":                 &c.AdminToken,
		"PREVIEWD_GITHUB_API_URL":              &c.GitHub.APIURL,
		"PREVIEWD_GITHUB_TOKEN":                &c.GitHub.Token,
		"PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE": &c.GitHub.AppPrivateKeyFile,
		"PREVIEWD_TERRAFORM_BIN":               &c.Terraform.Bin,
		"PREVIEWD_MODULE_DIR":                  &c.ModuleDir,
		"PREVIEWD_URL_OUTPUT":                  &c.URLOutput,
		"PREVIEWD_LOG_LEVEL":                   &c.LogLevel,
		"PREVIEWD_LOG_FORMAT":                  &c.LogFormat,
	}
	for name, p := range strs {
		if v, ok := getenv(name); ok {
			*p = v
		}
	}
	durations := map[string]*time.Duration{
		"PREVIEWD_TTL": &c.TTL, "PREVIEWD_SHUTDOWN_TIMEOUT": &c.ShutdownTimeout,
		"PREVIEWD_MAX_KEEP": &c.MaxKeep, "PREVIEWD_RESYNC_INTERVAL": &c.ResyncInterval,
		"PREVIEWD_RETRY_BASE": &c.RetryBase,
	}
	for name, p := range durations {
		if v, ok := getenv(name); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("config: %s: %q is not a duration (use e.g. 72h or 30m)", name, v)
			}
			*p = d
		}
	}
	ints := map[string]*int{"PREVIEWD_MAX_CONCURRENT_RUNS": &c.MaxConcurrentRuns, "PREVIEWD_NAME_MAX_LENGTH": &c.NameMaxLength}
	for name, p := range ints {
		if v, ok := getenv(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("config: %s: %q is not a whole number", name, v)
			}
			*p = n
		}
	}
	if v, ok := getenv("PREVIEWD_GITHUB_APP_ID"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("config: PREVIEWD_GITHUB_APP_ID: %q is not a number", v)
		}
		c.GitHub.AppID = n
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

// Validate checks every setting and returns the first problem, naming it.
func (c *Config) Validate() error { return c.validate(true) }

func (c *Config) validate(needSecret bool) error {
	bad := func(setting, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", setting, fmt.Sprintf(format, args...))
	}
	if needSecret && strings.TrimSpace(c.WebhookSecret) == "" {
		return bad("webhook_secret (PREVIEWD_WEBHOOK_SECRET)", "is empty; previewd refuses to accept unsigned webhooks")
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return bad("listen_addr (PREVIEWD_LISTEN_ADDR)", "%q is not host:port", c.ListenAddr)
	}
	if c.DataDir == "" {
		return bad("data_dir (PREVIEWD_DATA_DIR)", "is empty")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || u.Scheme == "" || u.Host == "" {
			return bad("public_url (PREVIEWD_PUBLIC_URL)", "%q is not an absolute URL", c.PublicURL)
		}
	}
	if u, err := url.Parse(c.GitHub.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return bad("github.api_url (PREVIEWD_GITHUB_API_URL)", "%q is not an http(s) URL", c.GitHub.APIURL)
	}
	if c.GitHub.AppID != 0 || c.GitHub.AppPrivateKeyFile != "" {
		switch {
		case c.GitHub.AppID <= 0:
			return bad("github.app_id (PREVIEWD_GITHUB_APP_ID)", "is required with github.app_private_key_file")
		case c.GitHub.AppPrivateKeyFile == "":
			return bad("github.app_private_key_file (PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE)", "is required with github.app_id")
		case c.GitHub.Token != "":
			return bad("github.token (PREVIEWD_GITHUB_TOKEN)", "set either a token or a GitHub App, not both")
		}
		key, err := os.ReadFile(c.GitHub.AppPrivateKeyFile)
		if err != nil {
			return bad("github.app_private_key_file (PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE)", "%v", err)
		}
		if block, _ := pem.Decode(key); block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
			return bad("github.app_private_key_file (PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE)", "%s holds no PEM private key (download one from the App's settings)", c.GitHub.AppPrivateKeyFile)
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
		return bad("ttl (PREVIEWD_TTL)", "must be positive, got %s", c.TTL)
	}
	if c.MaxConcurrentRuns < 1 || c.MaxConcurrentRuns > 256 {
		return bad("max_concurrent_runs (PREVIEWD_MAX_CONCURRENT_RUNS)", "must be between 1 and 256, got %d", c.MaxConcurrentRuns)
	}
	if c.MaxConcurrentChecks < 1 || c.MaxConcurrentChecks > 64 {
		return bad("max_concurrent_checks", "must be between 1 and 64, got %d", c.MaxConcurrentChecks)
	}
	if c.NameMaxLength < 16 || c.NameMaxLength > 63 {
		return bad("name_max_length (PREVIEWD_NAME_MAX_LENGTH)", "must be between 16 and 63, got %d", c.NameMaxLength)
	}
	if c.MaxKeep < c.TTL {
		return bad("max_keep (PREVIEWD_MAX_KEEP)", "must be at least ttl (%s), got %s", c.TTL, c.MaxKeep)
	}
	if c.RetryBase <= 0 {
		return bad("retry_base (PREVIEWD_RETRY_BASE)", "must be positive, got %s", c.RetryBase)
	}
	if c.MaxAttempts < 1 {
		return bad("max_attempts", "must be at least 1, got %d", c.MaxAttempts)
	}
	if c.ResyncInterval < time.Minute {
		return bad("resync_interval (PREVIEWD_RESYNC_INTERVAL)", "must be at least 1m, got %s", c.ResyncInterval)
	}
	if c.MaxResyncDestroys < 1 {
		return bad("max_resync_destroys", "must be at least 1, got %d", c.MaxResyncDestroys)
	}
	if c.ShutdownTimeout <= 0 {
		return bad("shutdown_timeout (PREVIEWD_SHUTDOWN_TIMEOUT)", "must be positive, got %s", c.ShutdownTimeout)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		return bad("log_level (PREVIEWD_LOG_LEVEL)", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("log_format (PREVIEWD_LOG_FORMAT)", "%q is not text or json", c.LogFormat)
	}
	if c.URLOutput == "" {
		return bad("url_output (PREVIEWD_URL_OUTPUT)", "is empty")
	}
	for _, name := range c.Terraform.EnvPassthrough {
		if up := strings.ToUpper(name); strings.HasPrefix(up, "PREVIEWD_") || strings.HasPrefix(up, "GITHUB_") || up == "*" {
			return bad("terraform.env_passthrough", "%q would hand previewd's secrets to Terraform", name)
		}
	}
	if c.ModuleDir == "" && len(c.Repos) == 0 {
		return bad("module_dir (PREVIEWD_MODULE_DIR)", "no module is configured: set module_dir to the production module, or list repos")
	}
	if c.ModuleDir != "" {
		if err := checkDir(c.ModuleDir); err != nil {
			return bad("module_dir (PREVIEWD_MODULE_DIR)", "%v", err)
		}
	}
	seen := map[string]bool{}
	for i, r := range c.Repos {
		if err := r.validate(c.ModuleDir != ""); err != nil {
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
	if r.ModuleDir == "" && !haveDefault {
		return fmt.Errorf("module_dir: is empty and no default module_dir is set")
	}
	if r.ModuleDir != "" {
		if err := checkDir(r.ModuleDir); err != nil {
			return fmt.Errorf("module_dir: %v", err)
		}
	}
	if err := r.Parity.Validate(); err != nil {
		return fmt.Errorf("parity.%v", err)
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
// default module. ok is false when previewd has no module for it.
func (c *Config) repo(name string) (RepoConfig, bool) {
	for _, r := range c.Repos {
		if strings.EqualFold(r.Name, name) {
			if r.ModuleDir == "" {
				r.ModuleDir = c.ModuleDir
			}
			if r.URLOutput == "" {
				r.URLOutput = c.URLOutput
			}
			return r, true
		}
	}
	if c.ModuleDir == "" {
		return RepoConfig{}, false
	}
	return RepoConfig{Name: name, ModuleDir: c.ModuleDir, URLOutput: c.URLOutput}, true
}

// serves reports whether previewd acts on repository repo: only when it
// has a module for it (a repos entry, or the default module_dir) and, when
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
