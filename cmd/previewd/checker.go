package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
)

// checker is the controller's parity checker: the checks of `previewd
// parity`, run on a live environment with the service's provisioner, plus
// the drift check and the data hooks of each repository's parity settings.
type checker struct {
	cfg    *config.Config
	prov   *provisioner.Provisioner
	parity *parity.Checker
}

func newChecker(cfg *config.Config, prov *provisioner.Provisioner) *checker {
	return &checker{cfg: cfg, prov: prov, parity: parity.NewChecker(planner{p: prov, module: moduleOf(cfg)})}
}

// Check compares env, as applied, with production.
func (k *checker) Check(ctx context.Context, env preview.Environment, log io.Writer) (preview.ParityReport, error) {
	r, ok, err := k.cfg.RepoFor(ctx, env)
	if err != nil {
		return preview.ParityReport{}, err
	}
	if !ok {
		return preview.ParityReport{}, fmt.Errorf("no module is configured for %s", env.Repo)
	}
	return k.parity.Check(ctx, k.cfg.ParityRepository(r), parity.CheckOptions{Env: env, Applied: true}, log)
}

// DetectDrift lists what changed outside Terraform in env.
func (k *checker) DetectDrift(ctx context.Context, env preview.Environment, log io.Writer) ([]string, error) {
	mod, err := moduleOf(k.cfg)(ctx, env)
	if err != nil {
		return nil, err
	}
	_, changes, err := k.prov.DetectDrift(ctx, env, mod, log)
	return changes, err
}

// DriftPolicy returns the repository's drift_check_interval and drift_reapply.
func (k *checker) DriftPolicy(repo string) (time.Duration, bool) {
	r, ok := k.cfg.Repo(repo)
	if !ok {
		return 0, false
	}
	return r.Parity.DriftCheckInterval, r.Parity.DriftReapply
}

// Seed runs the repository's seed_command with the environment's outputs in
// its environment (PREVIEW_URL, PREVIEW_OUTPUT_<NAME>, …).
func (k *checker) Seed(ctx context.Context, env preview.Environment, log io.Writer) error {
	return k.hook(ctx, env, log, func(c parity.Config) []string { return c.SeedCommand })
}

// PreDestroy runs the repository's pre_destroy_command.
func (k *checker) PreDestroy(ctx context.Context, env preview.Environment, log io.Writer) error {
	return k.hook(ctx, env, log, func(c parity.Config) []string { return c.PreDestroyCommand })
}

// hook runs a hook with the environment's outputs; the sensitive ones are
// read from its state, and kept nowhere, only when the repository's
// hook_sensitive_outputs allows it.
func (k *checker) hook(ctx context.Context, env preview.Environment, log io.Writer, argv func(parity.Config) []string) error {
	r, ok := k.cfg.Repo(env.Repo)
	if !ok || len(argv(r.Parity)) == 0 {
		return nil
	}
	mod, err := k.cfg.Module(ctx, env)
	if err != nil {
		return err
	}
	secrets := mod.Secrets
	outputs := env.Outputs
	if r.Parity.HookSensitiveOutputs {
		sensitive, err := k.prov.SensitiveOutputs(ctx, env, mod)
		if err != nil {
			return err
		}
		outputs = maps.Clone(outputs)
		if outputs == nil {
			outputs = map[string]string{}
		}
		maps.Copy(outputs, sensitive)
		secrets = append(slices.Clone(secrets), slices.Collect(maps.Values(sensitive))...)
	}
	opts := r.Parity.HookOptions()
	opts.Secrets = preview.NewSecrets(secrets...)
	return parity.RunHook(ctx, argv(r.Parity), env, outputs, opts, log)
}

// planner fits the provisioner to what parity checks need of Terraform:
// each call's module is resolved first (module).
type planner struct {
	p      *provisioner.Provisioner
	module func(context.Context, preview.Environment) (provisioner.Module, error)
}

func (a planner) ModuleVariables(ctx context.Context, env preview.Environment) (parity.ModuleVariables, error) {
	mod, err := a.module(ctx, env)
	if err != nil {
		return parity.ModuleVariables{}, err
	}
	v, err := a.p.ModuleVariables(ctx, env, mod)
	return parity.ModuleVariables{Declared: v.Declared, Sensitive: v.Sensitive, Required: v.Required}, err
}

func (a planner) PlanPreview(ctx context.Context, env preview.Environment, log io.Writer) (parity.Plan, error) {
	return a.plan(ctx, env, func(mod provisioner.Module) (provisioner.PlanResult, error) {
		return a.p.PlanPreview(ctx, env, mod, log)
	})
}

func (a planner) PlanApplied(ctx context.Context, env preview.Environment, log io.Writer) (parity.Plan, error) {
	return a.plan(ctx, env, func(mod provisioner.Module) (provisioner.PlanResult, error) {
		return a.p.PlanApplied(ctx, env, mod, log)
	})
}

func (a planner) PlanProduction(ctx context.Context, env preview.Environment, vars map[string]any, log io.Writer) (parity.Plan, error) {
	return a.plan(ctx, env, func(mod provisioner.Module) (provisioner.PlanResult, error) {
		return a.p.PlanProduction(ctx, env, mod, vars, log)
	})
}

func (a planner) EngineBanner(ctx context.Context) (string, error) { return a.p.EngineBanner(ctx) }

// plan resolves env's module and plans it with run.
func (a planner) plan(ctx context.Context, env preview.Environment, run func(provisioner.Module) (provisioner.PlanResult, error)) (parity.Plan, error) {
	mod, err := a.module(ctx, env)
	if err != nil {
		return parity.Plan{}, err
	}
	res, err := run(mod)
	return parity.Plan{Plan: res.Plan, LockFile: res.LockFile, WorkDir: res.WorkDir}, err
}
