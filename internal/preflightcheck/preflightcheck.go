// Package preflightcheck builds the checks of `previewd check`, and of
// serve's start-up, from previewd's configuration. Package preflight
// declares what it checks as small interfaces and adapters never import
// each other, so this is where GitHub, the module resolver and the
// provisioner are fitted to them, and the start-up checks' results to
// /readyz (Readiness).
package preflightcheck

import (
	"context"
	"log/slog"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/github"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/preflight"
	"github.com/previewd/previewd/provisioner"
	"github.com/previewd/previewd/server"
)

// Options says what the checks hold beyond the configuration's.
type Options struct {
	// Store, when set, is checked: previewd check opens the store for a
	// moment; serve, which holds it, checks its own.
	Store preflight.Store
	// Scratch has the state check create and delete a scratch workspace
	// (previewd check); without it the backend is only initialised (serve:
	// see provisioner.Provisioner.InitState).
	Scratch bool
	// Logger receives the provisioner's lines (default: discard).
	Logger *slog.Logger
}

// Checks returns the checks of cfg, working in dataDir: the App's with
// client (nil in offline mode), each module source, state backend and
// production engine the configuration names, and opts.Store. Its error is
// the provisioner's (no Terraform binary).
func Checks(cfg config.Config, dataDir string, client *github.Client, opts Options) (preflight.Checks, error) {
	checks := preflight.Checks{AppSetting: "github.app_id", EngineSetter: "terraform.bin", StoreSetting: "data_dir", Store: opts.Store}
	if cfg.Store.Driver == "postgres" {
		checks.StoreSetting = "store.url"
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
	pc, err := cfg.Terraform.Provisioner(dataDir)
	if err != nil {
		return preflight.Checks{}, err
	}
	pc.Logger = opts.Logger
	prov, err := provisioner.New(pc)
	if err != nil {
		return preflight.Checks{}, err
	}
	checks.States, checks.Engine = provisionerStates{p: prov, scratch: opts.Scratch}, provisionerEngine{prov}
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

// provisionerStates fits the provisioner to preflight.States: previewd
// check writes a scratch workspace, serve only initialises the backend.
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

// provisionerEngine fits the provisioner to preflight.Engine, comparing by
// parity's rules.
type provisionerEngine struct{ p *provisioner.Provisioner }

func (e provisionerEngine) EngineBanner(ctx context.Context) (string, error) {
	return e.p.EngineBanner(ctx)
}

func (e provisionerEngine) CompareEngine(banner, production string) ([]preview.Finding, error) {
	return parity.CompareEngineBanner(banner, production)
}

// Readiness is what /readyz shows of serve's start-up checks.
func Readiness(c *preflight.Startup) func() ([]server.PreflightResult, bool) {
	return func() ([]server.PreflightResult, bool) {
		results, ran := c.Results()
		out := make([]server.PreflightResult, len(results))
		for i, r := range results {
			out[i] = server.PreflightResult{Check: r.Check, Status: string(r.Status), Setting: r.Setting, Detail: r.Detail, Fix: r.Fix}
		}
		return out, ran
	}
}
