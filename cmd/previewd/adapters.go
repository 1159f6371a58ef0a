package main

// The controller's view of the provisioner and of production's module
// versions.

import (
	"context"
	"fmt"
	"io"
	"strings"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
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

// provisionerAdapter fits the provisioner to the controller's interface.
type provisionerAdapter struct {
	p   *provisioner.Provisioner
	cfg *config.Config
}

// Apply applies env; with a module_source, at the commit its ref names now,
// which the run is pinned to (a resolve meanwhile changes nothing of it).
func (a provisionerAdapter) Apply(ctx context.Context, env preview.Environment, log io.Writer) (preview.Applied, error) {
	if m, ok, err := a.cfg.Follow(ctx, env); err != nil {
		return preview.Applied{}, fmt.Errorf("apply %s: module: %w", env.Name, err)
	} else if ok {
		fmt.Fprintf(log, "# previewd: module %s at commit %s\n", m.Version.Source, m.Version.Commit)
		env.Module = m.Version
	}
	mod, err := moduleOf(a.cfg)(ctx, env)
	if err != nil {
		return preview.Applied{}, err
	}
	res, err := a.p.Apply(ctx, env, mod, log)
	return preview.Applied{URL: res.URL, Outputs: res.Outputs, Module: res.Module}, err
}

// Destroy destroys env, with the module commit it was applied with.
func (a provisionerAdapter) Destroy(ctx context.Context, env preview.Environment, log io.Writer) error {
	mod, err := moduleOf(a.cfg)(ctx, env)
	if err != nil {
		return err
	}
	return a.p.Destroy(ctx, env, mod, log)
}

// moduleOf resolves what an environment's module receives (see
// config.Config.Module) before each call to the provisioner, which takes
// the module as given.
func moduleOf(cfg *config.Config) func(context.Context, preview.Environment) (provisioner.Module, error) {
	return func(ctx context.Context, env preview.Environment) (provisioner.Module, error) {
		mod, err := cfg.Module(ctx, env)
		if err != nil {
			return provisioner.Module{}, fmt.Errorf("module for %s: %w", env.Repo, err)
		}
		return mod, nil
	}
}

// budgets gives the controller the caps on live environments.
type budgets struct{ cfg *config.Config }

func (b budgets) Budget(repo string) controller.Budget {
	budget := controller.Budget{
		TotalMax: b.cfg.MaxLiveEnvironments,
		Evict:    b.cfg.EvictIdleOverBudget, EvictAcrossRepos: b.cfg.EvictAcrossRepos,
	}
	for _, r := range b.cfg.Repos {
		if strings.EqualFold(r.Name, repo) {
			budget.RepoMax = r.MaxLiveEnvironments
		}
	}
	return budget
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
