package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
)

// checker is the controller's parity checker: the checks of `previewd
// parity`, run on a live environment with the service's provisioner, plus
// the drift check and the data hooks of each repository's parity settings.
type checker struct {
	cfg   *Config
	prov  *provisioner.Provisioner
	plans *planCache
}

// Check compares env, as applied, with production.
func (k *checker) Check(ctx context.Context, env preview.Environment, log io.Writer) (preview.ParityReport, error) {
	r, ok := k.cfg.repo(env.Repo)
	if !ok {
		return preview.ParityReport{}, fmt.Errorf("no module is configured for %s", env.Repo)
	}
	c := &parityCheck{flags: parityFlags{repo: env.Repo, pr: env.PR, branch: env.Branch, headSHA: env.HeadSHA, plan: true},
		repo: r, settings: r.Parity, cfg: *k.cfg, productionPlans: k.plans, applied: true}
	return c.run(ctx, k.prov, env, log)
}

// DetectDrift lists what changed outside Terraform in env.
func (k *checker) DetectDrift(ctx context.Context, env preview.Environment, log io.Writer) ([]string, error) {
	_, changes, err := k.prov.DetectDrift(ctx, env, log)
	return changes, err
}

// DriftPolicy returns the repository's drift_check_interval and drift_reapply.
func (k *checker) DriftPolicy(repo string) (time.Duration, bool) {
	r, ok := k.cfg.repo(repo)
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
	r, ok := k.cfg.repo(env.Repo)
	if !ok || len(argv(r.Parity)) == 0 {
		return nil
	}
	mod, err := k.cfg.module(env.Repo)
	if err != nil {
		return err
	}
	secrets := mod.Secrets
	outputs := env.Outputs
	if r.Parity.HookSensitiveOutputs {
		sensitive, err := k.prov.SensitiveOutputs(ctx, env)
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
