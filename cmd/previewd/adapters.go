package main

// The pieces fitted to one another where the consumer's interface is not
// the provider's: the provisioner, each call with its environment's module
// resolved first, and the store that moves the environment gauges.

import (
	"context"
	"fmt"
	"io"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/provisioner"
	"github.com/previewd/previewd/server"
)

// moduleVersions tells the controller which version of its production
// module each repository's environments must run.
type moduleVersions struct{ cfg *config.Config }

// Current resolves the module source env follows now (and makes that
// commit the current checkout); the zero version for a module directory.
func (m moduleVersions) Current(ctx context.Context, env preview.Environment) (preview.ModuleVersion, error) {
	mod, _, err := m.cfg.Follow(ctx, env)
	return mod.Version, err
}

// terraform fits the provisioner to the controller (controller.Provisioner)
// and to the dashboard's pages (server.Modules): each call resolves what
// its environment's module receives first (config.Config.Module), and the
// provisioner takes the module as given.
type terraform struct {
	p   *provisioner.Provisioner
	cfg *config.Config
}

// moduleOf resolves what env's module receives, naming its repository in
// the error.
func (t terraform) moduleOf(ctx context.Context, env preview.Environment) (provisioner.Module, error) {
	mod, err := t.cfg.Module(ctx, env)
	if err != nil {
		return provisioner.Module{}, fmt.Errorf("module for %s: %w", env.Repo, err)
	}
	return mod, nil
}

// moduleOf is terraform's module resolution as a function, for adapters
// that call the provisioner themselves.
func moduleOf(cfg *config.Config) func(context.Context, preview.Environment) (provisioner.Module, error) {
	return terraform{cfg: cfg}.moduleOf
}

// Apply applies env; with a module_source, at the commit its ref names now,
// which the run is pinned to (a resolve meanwhile changes nothing of it).
func (t terraform) Apply(ctx context.Context, env preview.Environment, log io.Writer) (preview.Applied, error) {
	if m, ok, err := t.cfg.Follow(ctx, env); err != nil {
		return preview.Applied{}, fmt.Errorf("apply %s: module: %w", env.Name, err)
	} else if ok {
		fmt.Fprintf(log, "# previewd: module %s at commit %s\n", m.Version.Source, m.Version.Commit)
		env.Module = m.Version
	}
	mod, err := t.moduleOf(ctx, env)
	if err != nil {
		return preview.Applied{}, err
	}
	res, err := t.p.Apply(ctx, env, mod, log)
	return preview.Applied{URL: res.URL, Outputs: res.Outputs, Module: res.Module}, err
}

// Destroy destroys env, with the module commit it was applied with.
func (t terraform) Destroy(ctx context.Context, env preview.Environment, log io.Writer) error {
	mod, err := t.moduleOf(ctx, env)
	if err != nil {
		return err
	}
	return t.p.Destroy(ctx, env, mod, log)
}

// Inputs resolves env's module and the variables it receives, as an apply
// passes them, for its page. When the variables cannot be read, the var
// files and secrets come alone.
func (t terraform) Inputs(ctx context.Context, env preview.Environment) (server.ModuleInputs, error) {
	mod, err := t.moduleOf(ctx, env)
	if err != nil {
		return server.ModuleInputs{}, err
	}
	out := server.ModuleInputs{VarFiles: mod.VarFiles, Secrets: mod.Secrets}
	inputs, err := provisioner.Inputs(mod, env)
	if err != nil {
		return out, nil // the page shows what it can
	}
	for _, in := range inputs {
		out.Vars = append(out.Vars, server.Input{Name: in.Name, Value: in.Value, Sensitive: in.Sensitive})
	}
	return out, nil
}

// observedStore is the service's store, telling the environment gauges of
// every environment it writes.
type observedStore struct {
	serviceStore
	gauges *server.EnvironmentGauges
}

func (s observedStore) UpdateEnvironment(ctx context.Context, name string, fn func(*preview.Environment) error) (preview.Environment, error) {
	env, err := s.serviceStore.UpdateEnvironment(ctx, name, fn)
	if err == nil {
		s.gauges.Observe(env)
	}
	return env, err
}

func (s observedStore) RecordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error) {
	res, err := s.serviceStore.RecordPullRequest(ctx, delivery, pr)
	if err == nil {
		s.gauges.Observe(res.Environment)
	}
	return res, err
}
