package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/github"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/preflight"
	"github.com/previewd/previewd/provisioner"
	"github.com/previewd/previewd/server"
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
	cfg, err := config.Load(*configPath, os.LookupEnv)
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
	preflight.Print(stdout, results, *asJSON)
	if preflight.Failed(results) {
		return 1
	}
	return 0
}

// preflightChecks wires the checks of cfg. cli is previewd check's: it
// adds the store check, which opens the store for a moment (serve checks
// its own), and the state check writes a scratch workspace (serve's only
// initialises the backend: see provisioner.Provisioner.InitState).
func preflightChecks(cfg config.Config, logger *slog.Logger, cli bool) (preflight.Checks, error) {
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
	if cli {
		checks.Store = openingStore{cfg: cfg, dataDir: dataDir}
	}
	var client *github.Client
	if github.Mode(cfg.GitHub.AppID, cfg.GitHub.Token) != github.ModeOffline {
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
	plan := cfg.Preflight(resolver)
	checks.Sources, checks.Backends, checks.Productions = plan.Sources, plan.Backends, plan.Productions
	checks.Modules = resolvingModules{resolver}
	if cfg.GitHub.AppID != 0 {
		checks.App = appInstallations{client: client, features: plan.Features}
	}
	tfBin, err := provisioner.FindTerraform(cfg.Terraform.Bin)
	if err != nil {
		return preflight.Checks{}, err
	}
	prov, err := provisioner.New(provisioner.Config{TerraformBin: tfBin, DataDir: dataDir, PluginCacheDir: cfg.Terraform.PluginCacheDir,
		CLIConfigFile: cfg.Terraform.CLIConfig, EnvPassthrough: cfg.Terraform.EnvPassthrough, Env: cfg.Terraform.Env, Logger: logger})
	if err != nil {
		return preflight.Checks{}, err
	}
	checks.States, checks.Engine = provisionerStates{p: prov, scratch: cli}, provisionerEngine{prov}
	return checks, nil
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

type provisionerStates struct {
	p       *provisioner.Provisioner
	scratch bool // a scratch workspace too
}

func (s provisionerStates) CheckState(ctx context.Context, b preflight.Backend) error {
	state := provisioner.State{Backend: b.Type, Config: b.Config}
	if s.scratch {
		return s.p.CheckState(ctx, state)
	}
	return s.p.InitState(ctx, state)
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
	cfg     config.Config
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

// startupReport is what /readyz shows of serve's start-up checks.
func startupReport(c *preflight.Startup) func() ([]server.PreflightResult, bool) {
	return func() ([]server.PreflightResult, bool) {
		results, ran := c.Results()
		out := make([]server.PreflightResult, len(results))
		for i, r := range results {
			out[i] = server.PreflightResult{Check: r.Check, Status: string(r.Status), Setting: r.Setting, Detail: r.Detail, Fix: r.Fix}
		}
		return out, ran
	}
}
