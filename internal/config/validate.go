package config

import (
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/provisioner"
)

// minSecretLength is the fewest characters the webhook secret or a token
// may have: `openssl rand -hex 32` gives 64.
const minSecretLength = 32

// Validate checks every setting and returns the first problem, naming it.
func (c *Config) Validate() error { return c.validate(true) }

// validate checks each setting on its own (the settings table's checks),
// then the rules between settings, and returns the first problem. Commands
// that receive no webhooks and serve no admin API (parity) pass needSecret
// false.
func (c *Config) validate(needSecret bool) error {
	if c.MaxConcurrentChecks == 0 {
		// A check waits until no run is queued (see the controller), so it
		// takes a slot runs leave idle.
		c.MaxConcurrentChecks = c.MaxConcurrentRuns
	}
	if needSecret {
		if err := c.secretsProblem(); err != nil {
			return err
		}
	}
	if err := c.checkSettings(); err != nil {
		return err
	}
	rules := []func() error{
		c.metricsProblem, c.githubAppProblem, c.keepProblem, c.moduleProblem, c.productionProblem,
		c.stateProblem, c.storeProblem, c.budgetProblem, c.costProblem, c.waitProblem, c.reposProblem, c.productionWatchProblem,
	}
	for _, rule := range rules {
		if err := rule(); err != nil {
			return err
		}
	}
	return nil
}

// secretsProblem refuses a missing webhook secret and a short secret or
// token. A short secret can be found offline from one signed delivery, and
// a short token by guessing; both then let anyone act as GitHub or as an
// operator.
func (c *Config) secretsProblem() error {
	const generate = "generate one with `openssl rand -hex 32`"
	switch {
	case strings.TrimSpace(c.WebhookSecret) == "":
		return badSetting("webhook_secret", "is empty; previewd refuses to accept unsigned webhooks")
	case len(c.WebhookSecret) < minSecretLength:
		return badSetting("webhook_secret", "is %d characters, fewer than %d: %s", len(c.WebhookSecret), minSecretLength, generate)
	case c.AdminToken != "" && len(c.AdminToken) < minSecretLength:
		return badSetting("admin_token", "is %d characters, fewer than %d: %s, or leave it empty to disable the admin API", len(c.AdminToken), minSecretLength, generate)
	case c.MetricsToken != "" && len(c.MetricsToken) < minSecretLength:
		return badSetting("metrics_token", "is %d characters, fewer than %d: %s, or leave it empty to let anyone who reaches /metrics scrape it", len(c.MetricsToken), minSecretLength, generate)
	}
	return nil
}

// metricsProblem refuses metrics on the main address "of their own".
func (c *Config) metricsProblem() error {
	if c.MetricsListenAddr != "" && c.MetricsListenAddr == c.ListenAddr {
		return badSetting("metrics_listen_addr", "is listen_addr; give metrics a port of their own, or leave it empty to serve them on listen_addr")
	}
	return nil
}

// githubAppProblem checks App mode: an ID and a PEM private key together,
// and no token beside them.
func (c *Config) githubAppProblem() error {
	if c.GitHub.AppID == 0 && c.GitHub.AppPrivateKeyFile == "" {
		return nil
	}
	switch {
	case c.GitHub.AppID <= 0:
		return badSetting("github.app_id", "is required with github.app_private_key_file")
	case c.GitHub.AppPrivateKeyFile == "":
		return badSetting("github.app_private_key_file", "is required with github.app_id")
	case c.GitHub.Token != "":
		return badSetting("github.token", "set either a token or a GitHub App, not both")
	}
	key, err := os.ReadFile(c.GitHub.AppPrivateKeyFile)
	if err != nil {
		return badSetting("github.app_private_key_file", "%v", err)
	}
	if block, _ := pem.Decode(key); block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
		return badSetting("github.app_private_key_file", "%s holds no PEM private key (download one from the App's settings)", c.GitHub.AppPrivateKeyFile)
	}
	return nil
}

// keepProblem refuses a preview:keep that holds less than the TTL.
func (c *Config) keepProblem() error {
	if c.MaxKeep < c.TTL {
		return badSetting("max_keep", "must be at least ttl (%s), got %s", c.TTL, c.MaxKeep)
	}
	return nil
}

// moduleProblem checks the default module: one of module_dir, module_source
// or repos, not both of the first two, and a base source only for
// repositories named one by one (see namesBaseRepos).
func (c *Config) moduleProblem() error {
	switch {
	case c.ModuleDir == "" && c.ModuleSource == "" && len(c.Repos) == 0:
		return badSetting("module_dir", "no module is configured: set module_dir or module_source to the production module, or list repos")
	case c.ModuleDir != "" && c.ModuleSource != "":
		return badSetting("module_source", "set module_dir or module_source, not both")
	}
	if _, ok := modules.BaseDir(c.ModuleSource); ok && !c.namesBaseRepos() {
		return badSetting("module_source", "%q takes the module from each pull request's own repository, so it would trust every repository the App is installed on: "+
			"name the repositories it serves in allowed_repos (owner/name, not owner/*) or repos", c.ModuleSource)
	}
	return nil
}

// productionProblem checks production_var_files: they belong to a default
// module, and with module_dir they exist (in git, they are checked when
// the module is fetched).
func (c *Config) productionProblem() error {
	if len(c.ProductionVarFiles) > 0 && c.ModuleDir == "" && c.ModuleSource == "" {
		return badSetting("production_var_files", "needs module_dir: these are production's var files for it")
	}
	if c.ModuleSource != "" {
		return nil
	}
	for _, f := range c.ProductionVarFiles {
		if _, err := os.Stat(AbsPath(c.ModuleDir, f)); err != nil {
			return badSetting("production_var_files", "%v", err)
		}
	}
	return nil
}

// stateProblem checks the default state block as a whole: its backend and
// its settings go together.
func (c *Config) stateProblem() error {
	if problem := provisioner.StateProblem(c.State.Provisioner()); problem != "" {
		return badSetting("state", "%s", problem)
	}
	return nil
}

// storeProblem checks the store's driver with its URL, and, with the
// postgres store, that every state locks (see stateLockProblem).
func (c *Config) storeProblem() error {
	switch c.Store.Driver {
	case "", "bbolt":
		if c.Store.URL != "" {
			return badSetting("store.url", "is for the postgres driver; bbolt keeps its file in data_dir")
		}
	case "postgres":
		if !strings.HasPrefix(c.Store.URL, "postgres://") && !strings.HasPrefix(c.Store.URL, "postgresql://") {
			return badSetting("store.url", "must be a postgres:// URL for the postgres driver (password through PGPASSWORD or the URL)")
		}
	default:
		return badSetting("store.driver", "%q: use bbolt or postgres", c.Store.Driver)
	}
	if setting, problem := c.stateLockProblem(); problem != "" {
		return badSetting(setting, "%s", problem)
	}
	return nil
}

// budgetProblem checks each repository's cap on live environments.
func (c *Config) budgetProblem() error {
	for _, r := range c.Repos {
		if r.MaxLiveEnvironments < 0 {
			return badSetting("repos["+r.Name+"].max_live_environments", "must be 0 (no cap) or more, got %d", r.MaxLiveEnvironments)
		}
	}
	return nil
}

// costProblem checks the default price and each repository's own.
func (c *Config) costProblem() error {
	if p := c.Cost.problem(); p != "" {
		return badSetting("cost", "%s", p)
	}
	for _, r := range c.Repos {
		if r.Cost == nil {
			continue
		}
		if p := r.Cost.problem(); p != "" {
			return badSetting("repos["+r.Name+"].cost", "%s", p)
		}
	}
	return nil
}

// waitProblem refuses required checks, by default or for a repository,
// when previewd cannot read checks from GitHub.
func (c *Config) waitProblem() error {
	waits := slices.ContainsFunc(c.Repos, func(r RepoConfig) bool { return len(r.WaitForChecks) > 0 }) || len(c.WaitForChecks) > 0
	if waits && c.GitHub.Token == "" && c.GitHub.AppID == 0 {
		return badSetting("wait_for_checks", "needs GitHub to read the checks: set github.token or github.app_id")
	}
	return nil
}

// reposProblem checks each repos entry (see RepoConfig.validate) and that
// no repository is listed twice.
func (c *Config) reposProblem() error {
	haveDefault := c.ModuleDir != "" || c.ModuleSource != ""
	seen := map[string]bool{}
	for i, r := range c.Repos {
		if err := r.validate(haveDefault); err != nil {
			return badSetting(fmt.Sprintf("repos[%d]", i), "%v", err)
		}
		if seen[strings.ToLower(r.Name)] {
			return badSetting(fmt.Sprintf("repos[%d].name", i), "%q is listed twice", r.Name)
		}
		seen[strings.ToLower(r.Name)] = true
	}
	return nil
}
