package config

import (
	"maps"
	"slices"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/github"
	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/preflight"
)

// Preflight is what previewd check verifies of a configuration: each
// module source, each distinct remote state backend, each production
// engine, and what the repositories use of GitHub (the App's permissions
// and events), each named by the setting at fault.
type Preflight struct {
	Sources     []preflight.ModuleSource
	Backends    []preflight.Backend
	Productions []preflight.Production
	Features    github.Features
}

// Preflight lists what c's repositories need checked; resolver tells
// which module sources are on GitHub.
func (c *Config) Preflight(resolver *modules.Resolver) Preflight {
	targets := c.preflightTargets()
	features := appFeatures(targets, resolver)
	features.ProductionWatch = len(c.WatchedProduction()) > 0
	return Preflight{Sources: moduleSources(targets), Backends: stateBackends(targets), Productions: productions(targets),
		Features: features}
}

// preflightTarget is one repository's configuration and the settings
// naming its parts.
type preflightTarget struct {
	repo                                 RepoConfig
	moduleSetting, stateSetting, version string
}

// preflightTargets lists the configured repositories, then the default
// module when one is set without a repos entry.
func (cfg *Config) preflightTargets() []preflightTarget {
	var out []preflightTarget
	for _, entry := range cfg.Repos {
		r, ok := cfg.Repo(entry.Name)
		if !ok {
			continue
		}
		t := preflightTarget{repo: r, moduleSetting: "module_source", stateSetting: "state", version: "repos[" + r.Name + "].production.terraform_version"}
		if entry.ModuleSource != "" {
			t.moduleSetting = "repos[" + r.Name + "].module_source"
		}
		if entry.State != nil {
			t.stateSetting = "repos[" + r.Name + "].state"
		}
		out = append(out, t)
	}
	if len(cfg.Repos) == 0 && (cfg.ModuleDir != "" || cfg.ModuleSource != "") {
		r := RepoConfig{Name: "default", ModuleDir: cfg.ModuleDir, ModuleSource: cfg.ModuleSource, State: &cfg.State,
			WaitForChecks: cfg.WaitForChecks, Production: ProductionConfig{TerraformVersion: cfg.ProductionTerraformVersion}}
		out = append(out, preflightTarget{repo: r, moduleSetting: "module_source", stateSetting: "state", version: "production_terraform_version"})
	}
	return out
}

func moduleSources(targets []preflightTarget) []preflight.ModuleSource {
	var out []preflight.ModuleSource
	for _, t := range targets {
		if _, base := modules.BaseDir(t.repo.ModuleSource); t.repo.ModuleSource == "" || (base && t.repo.Name == "default") {
			continue
		}
		out = append(out, preflight.ModuleSource{Repo: t.repo.Name, Source: t.repo.ModuleSource, Setting: t.moduleSetting})
	}
	return out
}

// stateBackends lists each distinct remote backend once, with the
// repositories using it.
func stateBackends(targets []preflightTarget) []preflight.Backend {
	var out []preflight.Backend
	for _, t := range targets {
		s := t.repo.State
		if s == nil || !s.Provisioner().Remote() {
			continue
		}
		i := slices.IndexFunc(out, func(b preflight.Backend) bool { return b.Type == s.Backend && maps.Equal(b.Config, s.Config) })
		if i < 0 {
			out = append(out, preflight.Backend{Type: s.Backend, Config: s.Config, Setting: t.stateSetting})
			i = len(out) - 1
		}
		out[i].Repos = append(out[i].Repos, t.repo.Name)
	}
	return out
}

func productions(targets []preflightTarget) []preflight.Production {
	var out []preflight.Production
	for _, t := range targets {
		out = append(out, preflight.Production{Repo: t.repo.Name, Version: t.repo.Production.TerraformVersion, Setting: t.version})
	}
	return out
}

// appFeatures is what the configured repositories use of GitHub.
func appFeatures(targets []preflightTarget, resolver *modules.Resolver) github.Features {
	var f github.Features
	for _, t := range targets {
		f.WaitForChecks = f.WaitForChecks || len(t.repo.WaitForChecks) > 0
		f.ModulesOnGitHub = f.ModulesOnGitHub || resolver.OnGitHub(preview.Environment{Repo: t.repo.Name}, t.repo.ModuleSetting())
	}
	return f
}
