package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/github"
	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/preflight"
	"github.com/previewd/previewd/provisioner"
)

// checkCommand runs the preflight checks once and prints their results:
// exit 0 when none failed, 1 when one did, 2 for a usage or configuration
// error.
func checkCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", "previewd check [--config FILE] [--json] [--timeout DURATION]",
		"Checks what previews need before the first pull request does: the GitHub App's credentials,\n"+
			"each installation's permissions and events, module sources, state backends, the engine's\n"+
			"version against production's, and the store. Exit 0 all ok (warnings allowed), 1 a check failed,\n2 a usage or configuration error.", stderr)
	configPath := fs.String("config", os.Getenv("PREVIEWD_CONFIG"), "YAML configuration `file` (default $PREVIEWD_CONFIG)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	timeout := fs.Duration("timeout", time.Minute, "how long each check may take")
	if err := parseFlags(fs, args, stdout); err != nil {
		return flagsExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "previewd check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := LoadConfig(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(stderr, "previewd:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	checks, err := preflightChecks(cfg, logger, true)
	if err != nil {
		fmt.Fprintln(stderr, "previewd:", err)
		return 2
	}
	checks.Timeout = *timeout
	results := checks.Run(context.Background())
	printResults(stdout, results, *asJSON)
	if preflight.Failed(results) {
		return 1
	}
	return 0
}

// printResults prints one line per check and a summary, or JSON.
func printResults(w io.Writer, results []preflight.Result, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"checks": results, "failed": preflight.Failed(results)})
		return
	}
	n := map[preflight.Status]int{}
	for _, r := range results {
		n[r.Status]++
		fmt.Fprintf(w, "%-4s  %s: %s\n", r.Status, r.Check, strings.Join(strings.Fields(r.Detail), " "))
		if r.Fix != "" {
			fmt.Fprintf(w, "      fix (%s): %s\n", r.Setting, r.Fix)
		}
	}
	fmt.Fprintf(w, "%d checks: %d ok, %d warnings, %d failed\n", len(results), n[preflight.OK], n[preflight.Warn], n[preflight.Fail])
}

// preflightChecks wires the checks of cfg. withStore adds the store check,
// which opens the store for a moment (previewd check; serve checks its own).
func preflightChecks(cfg Config, logger *slog.Logger, withStore bool) (preflight.Checks, error) {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return preflight.Checks{}, fmt.Errorf("data_dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return preflight.Checks{}, fmt.Errorf("data_dir: %w", err)
	}
	checks := preflight.Checks{AppSetting: "github.app_id", EngineSetter: "terraform.bin", StoreSetting: "data_dir"}
	if cfg.Store.Driver == "postgres" {
		checks.StoreSetting = "store.url"
	}
	if withStore {
		checks.Store = openingStore{cfg: cfg, dataDir: dataDir}
	}
	var client *github.Client
	if githubMode(cfg) != "offline" {
		gh, err := newGitHub(cfg, logger, func(string) string { return "" })
		if err != nil {
			return preflight.Checks{}, err
		}
		client = gh.(*github.Client)
	}
	var gitToken func(ctx context.Context, repo string) (string, error)
	if client != nil {
		gitToken = client.GitToken
	}
	resolver := modules.NewResolver(dataDir, cfg.GitHub.APIURL, gitToken)
	targets := preflightTargets(&cfg)
	checks.Sources, checks.Backends, checks.Productions = moduleSources(targets), stateBackends(targets), productions(targets)
	checks.Modules = resolvingModules{resolver}
	if githubMode(cfg) == "app" {
		checks.App = appInstallations{client: client, features: appFeatures(targets, resolver)}
	}
	tfBin, err := terraformBinary(cfg.Terraform.Bin)
	if err != nil {
		return preflight.Checks{}, err
	}
	prov, err := provisioner.New(provisioner.Config{TerraformBin: tfBin, DataDir: dataDir, PluginCacheDir: cfg.Terraform.PluginCacheDir,
		CLIConfigFile: cfg.Terraform.CLIConfig, EnvPassthrough: cfg.Terraform.EnvPassthrough, Env: cfg.Terraform.Env, Logger: logger,
		Modules: cfg.module})
	if err != nil {
		return preflight.Checks{}, err
	}
	checks.States, checks.Engine = provisionerStates{prov}, provisionerEngine{prov}
	return checks, nil
}

// preflightTarget is one repository's configuration and the settings
// naming its parts.
type preflightTarget struct {
	repo                                 RepoConfig
	moduleSetting, stateSetting, version string
}

// preflightTargets lists the configured repositories, then the default
// module when one is set without a repos entry.
func preflightTargets(cfg *Config) []preflightTarget {
	var out []preflightTarget
	for _, entry := range cfg.Repos {
		r, ok := cfg.repo(entry.Name)
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
		if s == nil || !s.provisioner().Remote() {
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
		f.ModulesOnGitHub = f.ModulesOnGitHub || resolver.OnGitHub(preview.Environment{Repo: t.repo.Name}, t.repo.moduleSetting())
	}
	return f
}

// appInstallations fits the GitHub client to preflight.App.
type appInstallations struct {
	client   *github.Client
	features github.Features
}

func (a appInstallations) AppName(ctx context.Context) (string, error) { return a.client.AppName(ctx) }

func (a appInstallations) Installations(ctx context.Context) ([]preflight.Installation, error) {
	list, err := a.client.Installations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]preflight.Installation, len(list))
	for i, inst := range list {
		out[i] = preflight.Installation{Account: inst.Account, Suspended: inst.Suspended}
		for _, l := range inst.Lacks(a.features) {
			out[i].Lacks = append(out[i].Lacks, preflight.Lack{Name: l.Name, Event: l.Event, Setting: l.Setting, Why: l.Why})
		}
	}
	return out, nil
}

// resolvingModules fits the module resolver to preflight.Modules: a
// scratch environment of the repository follows the source.
type resolvingModules struct{ r *modules.Resolver }

func (m resolvingModules) ResolveModule(ctx context.Context, s preflight.ModuleSource) error {
	_, err := m.r.Follow(ctx, preview.Environment{Repo: s.Repo}, modules.Setting{Source: s.Source})
	return err
}

type provisionerStates struct{ p *provisioner.Provisioner }

func (s provisionerStates) CheckState(ctx context.Context, b preflight.Backend) error {
	return s.p.CheckState(ctx, provisioner.State{Backend: b.Type, Config: b.Config})
}

type provisionerEngine struct{ p *provisioner.Provisioner }

func (e provisionerEngine) EngineBanner(ctx context.Context) (string, error) {
	return e.p.EngineBanner(ctx)
}

func (e provisionerEngine) CompareEngine(banner, production string) ([]preview.Finding, error) {
	running, err := parity.ParseEngineBanner(banner)
	if err != nil {
		return nil, err
	}
	prod, err := parity.ParseEngine(production)
	if err != nil {
		return nil, err
	}
	return parity.CompareEngine(running, prod, nil), nil
}

// openingStore opens the store for each Ping and closes it again: a
// bbolt store held by a running previewd serve cannot be opened.
type openingStore struct {
	cfg     Config
	dataDir string
}

func (s openingStore) Ping(ctx context.Context) error {
	db, err := openStore(ctx, s.cfg, s.dataDir)
	if err != nil {
		if s.cfg.Store.Driver != "postgres" && strings.Contains(err.Error(), "timeout") {
			return fmt.Errorf("%w (is previewd serve running on this data_dir? bbolt takes one process)", err)
		}
		return err
	}
	defer db.Close()
	return db.Ping(ctx)
}
