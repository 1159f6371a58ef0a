package config

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
)

// RepoName matches a repository's owner/name.
var RepoName = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// validate checks one repos entry; an error starts with the key at fault
// within it ("module_source: …"). haveDefault says a top-level module
// serves an entry without its own.
func (r RepoConfig) validate(haveDefault bool) error {
	if !RepoName.MatchString(r.Name) {
		return fmt.Errorf("name: %q is not owner/name", r.Name)
	}
	if r.ModuleDir == "" && r.ModuleSource == "" && !haveDefault {
		return fmt.Errorf("module_dir: is empty and no default module_dir or module_source is set")
	}
	if r.ModuleDir != "" && r.ModuleSource != "" {
		return fmt.Errorf("module_source: set module_dir or module_source, not both")
	}
	if p := sourceProblem(r.ModuleSource); r.ModuleSource != "" && p != "" {
		return fmt.Errorf("module_source: %s", p)
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
		if problem := provisioner.StateProblem(r.State.Provisioner()); problem != "" {
			return fmt.Errorf("state: %s", problem)
		}
	}
	if m := r.Migrations; m != nil {
		switch {
		case m.DatabaseOutput != "" && !outputName.MatchString(m.DatabaseOutput):
			return fmt.Errorf("migrations.database_output: %q is not a module output's name", m.DatabaseOutput)
		case m.MaxWriteBlock < 0 || m.MaxReadBlock < 0 || m.Settle < 0:
			return fmt.Errorf("migrations: durations cannot be negative")
		case m.MinShare < 0 || m.MinShare > 1:
			return fmt.Errorf("migrations.min_share: %v is not a share between 0 and 1", m.MinShare)
		}
	}
	if slices.Contains(r.WaitForChecks, "") {
		return fmt.Errorf("wait_for_checks: a check name is empty")
	}
	return differencesProblem(r.Differences)
}

// differencesProblem checks a repository's declared differences.
func differencesProblem(differences []DifferenceConfig) error {
	for j, d := range differences {
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

// Repo returns the configuration of repository name, falling back to the
// default module. ok is false when previewd has no module for it. Its Cost
// is its own (see pricing).
func (c *Config) Repo(name string) (RepoConfig, bool) {
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
			m := c.Migrations
			if r.Migrations != nil {
				m = r.Migrations.over(c.Migrations)
			}
			r.Migrations = &m
			return r, true
		}
	}
	if c.ModuleDir == "" && c.ModuleSource == "" {
		return RepoConfig{}, false
	}
	if _, ok := modules.BaseDir(c.ModuleSource); ok && !slices.ContainsFunc(c.AllowedRepos, func(p string) bool { return strings.EqualFold(p, name) }) {
		return RepoConfig{}, false // a repository base serves is named (see namesBaseRepos)
	}
	m := c.Migrations
	return RepoConfig{Name: name, ModuleDir: c.ModuleDir, ModuleSource: c.ModuleSource, URLOutput: c.URLOutput,
		State: &c.State, WaitForChecks: c.WaitForChecks, Migrations: &m, Production: ProductionConfig{
			VarFiles: c.ProductionVarFiles, TerraformVersion: c.ProductionTerraformVersion,
		}}, true
}

// Budget is what admits repository repo's environments: its own
// max_live_environments, the cap over every repository, and whether room
// is made over them by eviction (evict_idle_over_budget,
// evict_across_repos).
func (c *Config) Budget(repo string) controller.Budget {
	r, _ := c.Repo(repo)
	return controller.Budget{RepoMax: r.MaxLiveEnvironments, TotalMax: c.MaxLiveEnvironments,
		Evict: c.EvictIdleOverBudget, EvictAcrossRepos: c.EvictAcrossRepos}
}

// RequiredChecks is what an apply of repository repo waits for: its
// wait_for_checks, each to succeed within check_timeout; none when
// previewd has no module for it.
func (c *Config) RequiredChecks(repo string) ([]string, time.Duration) {
	r, ok := c.Repo(repo)
	if !ok {
		return nil, 0
	}
	return r.WaitForChecks, c.CheckTimeout
}

// RepoFor is repo for env's repository, with the module env gets (see
// modules.Resolver.Resolve) as ModuleDir.
func (c *Config) RepoFor(ctx context.Context, env preview.Environment) (RepoConfig, bool, error) {
	r, ok := c.Repo(env.Repo)
	if !ok || r.ModuleSource == "" || c.modules == nil {
		return r, ok, nil
	}
	m, err := c.modules.Resolve(ctx, env, r.ModuleSetting())
	if err != nil {
		return r, true, err
	}
	r.ModuleDir, r.moduleRoot, r.moduleVersion = m.Dir, m.Root, m.Version
	return r, true, nil
}

// ModuleSetting is r's module as configured.
func (r RepoConfig) ModuleSetting() modules.Setting {
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
		slices.ContainsFunc(c.AllowedRepos, RepoName.MatchString)
}

// Serves reports whether previewd acts on repository repo: only when it
// has a module for it (a repos entry, or the default module_dir or
// module_source; a default base only for a repository named, see
// namesBaseRepos) and, when
// allowed_repos is set, repo matches one of its patterns (case-insensitive).
// With repos and no module_dir, that is exactly the repositories listed.
func (c *Config) Serves(repo string) bool {
	if _, ok := c.Repo(repo); !ok {
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

// RepoNames lists the repositories configured by name.
func (c *Config) RepoNames() []string {
	names := make([]string, len(c.Repos))
	for i, r := range c.Repos {
		names[i] = r.Name
	}
	return names
}

// UseResolver makes r resolve the module sources of c's repositories
// (serve and previewd parity set it; without it, a module_source is
// used as configured).
func (c *Config) UseResolver(r *modules.Resolver) { c.modules = r }

// Follow resolves the module source env's repository follows now, and
// makes that commit the current checkout; ok is false for a module
// directory (or without a resolver).
func (c *Config) Follow(ctx context.Context, env preview.Environment) (m modules.Module, ok bool, err error) {
	r, served := c.Repo(env.Repo)
	if !served || r.ModuleSource == "" || c.modules == nil {
		return modules.Module{}, false, nil
	}
	m, err = c.modules.Follow(ctx, env, r.ModuleSetting())
	return m, true, err
}

// over is m with what it leaves unset taken from base: a repository's
// migrations block names its output and changes only what it says.
func (m MigrationsConfig) over(base MigrationsConfig) MigrationsConfig {
	if m.DatabaseOutput == "" {
		m.DatabaseOutput = base.DatabaseOutput
	}
	if m.MaxWriteBlock == 0 {
		m.MaxWriteBlock = base.MaxWriteBlock
	}
	if m.MaxReadBlock == 0 {
		m.MaxReadBlock = base.MaxReadBlock
	}
	if m.ProductionStatsURL == "" {
		m.ProductionStatsURL = base.ProductionStatsURL
	}
	if m.MinShare == 0 {
		m.MinShare = base.MinShare
	}
	if m.Settle == 0 {
		m.Settle = base.Settle
	}
	return m
}
