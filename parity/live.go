package parity

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	preview "github.com/previewd/previewd"
)

// Terraform is what the checks of live environments need of Terraform:
// Planner, a refresh-only plan and the module's secrets. Each call
// resolves env's module as its apply did. Every call blocks until
// Terraform is done or ctx ends.
type Terraform interface {
	Planner
	// DetectDrift lists what changed outside Terraform in env (a
	// refresh-only plan); none means no drift.
	DetectDrift(ctx context.Context, env preview.Environment, log io.Writer) ([]string, error)
	// Secrets returns the values env's runs redact (the sensitive values
	// its module receives) and, with outputs, its sensitive outputs by
	// name, read from its state and kept nowhere.
	Secrets(ctx context.Context, env preview.Environment, outputs bool) (values []string, sensitiveOutputs map[string]string, err error)
}

// Repositories tells Live each repository's parity configuration.
type Repositories interface {
	// ParityRepositoryFor is what the checks need of env's repository,
	// with the module env follows; ok is false when there is no module for
	// it.
	ParityRepositoryFor(ctx context.Context, env preview.Environment) (r Repository, ok bool, err error)
	// ParitySettings is repository repo's parity settings; ok is false
	// when there is no module for it.
	ParitySettings(repo string) (c Config, ok bool)
}

// Live checks the service's live environments: their parity after every
// apply (with a Checker of its own, which keeps production's plans), their
// drift, and their repository's data hooks. It is what the controller
// asks for (controller.Checker), and is safe for concurrent use.
type Live struct {
	checker    *Checker
	tf         Terraform
	repos      Repositories
	production ProductionLooks // nil: no looks at production
}

// ProductionLooks keeps the looks at production (the store).
type ProductionLooks interface {
	FindProductionWatches(ctx context.Context, f preview.ProductionWatchFilter) ([]preview.ProductionWatch, error)
}

// WithProduction has l's checks warn of what would revert a change made
// to production outside Terraform, as production's last successful look
// in looks saw it.
func (l *Live) WithProduction(looks ProductionLooks) *Live {
	l.production = looks
	return l
}

// lastLook is repo's newest look at production that did not fail, among
// the last ten; the zero look when there is none.
func (l *Live) lastLook(ctx context.Context, repo string) preview.ProductionWatch {
	if l.production == nil {
		return preview.ProductionWatch{}
	}
	looks, err := l.production.FindProductionWatches(ctx, preview.ProductionWatchFilter{Repo: repo, Limit: 10})
	if err != nil {
		return preview.ProductionWatch{}
	}
	for _, w := range looks {
		if !w.Failed() {
			return w
		}
	}
	return preview.ProductionWatch{}
}

// NewLive returns a Live running Terraform with tf and reading each
// repository's configuration from repos.
func NewLive(tf Terraform, repos Repositories) *Live {
	return &Live{checker: NewChecker(tf), tf: tf, repos: repos}
}

// Check compares env, as applied, with production.
func (l *Live) Check(ctx context.Context, env preview.Environment, log io.Writer) (preview.ParityReport, error) {
	r, ok, err := l.repos.ParityRepositoryFor(ctx, env)
	if err != nil {
		return preview.ParityReport{}, err
	}
	if !ok {
		return preview.ParityReport{}, fmt.Errorf("no module is configured for %s", env.Repo)
	}
	return l.checker.Check(ctx, r, CheckOptions{Env: env, Applied: true, Production: l.lastLook(ctx, env.Repo)}, log)
}

// DetectDrift lists what changed outside Terraform in env.
func (l *Live) DetectDrift(ctx context.Context, env preview.Environment, log io.Writer) ([]string, error) {
	return l.tf.DetectDrift(ctx, env, log)
}

// DriftPolicy returns the repository's drift_check_interval and drift_reapply.
func (l *Live) DriftPolicy(repo string) (time.Duration, bool) {
	c, ok := l.repos.ParitySettings(repo)
	if !ok {
		return 0, false
	}
	return c.DriftCheckInterval, c.DriftReapply
}

// Seed runs the repository's seed_command with the environment's outputs in
// its environment (PREVIEW_URL, PREVIEW_OUTPUT_<NAME>, …).
func (l *Live) Seed(ctx context.Context, env preview.Environment, log io.Writer) error {
	return l.hook(ctx, env, log, func(c Config) []string { return c.SeedCommand })
}

// PreDestroy runs the repository's pre_destroy_command.
func (l *Live) PreDestroy(ctx context.Context, env preview.Environment, log io.Writer) error {
	return l.hook(ctx, env, log, func(c Config) []string { return c.PreDestroyCommand })
}

// hook runs a hook with the environment's outputs; the sensitive ones are
// read from its state, and kept nowhere, only when the repository's
// hook_sensitive_outputs allows it.
func (l *Live) hook(ctx context.Context, env preview.Environment, log io.Writer, argv func(Config) []string) error {
	c, ok := l.repos.ParitySettings(env.Repo)
	if !ok || len(argv(c)) == 0 {
		return nil
	}
	secrets, sensitive, err := l.tf.Secrets(ctx, env, c.HookSensitiveOutputs)
	if err != nil {
		return err
	}
	outputs := env.Outputs
	if c.HookSensitiveOutputs {
		outputs = maps.Clone(outputs)
		if outputs == nil {
			outputs = map[string]string{}
		}
		maps.Copy(outputs, sensitive)
		secrets = append(slices.Clone(secrets), slices.Collect(maps.Values(sensitive))...)
	}
	opts := c.HookOptions()
	opts.Secrets = preview.NewSecrets(secrets...)
	return RunHook(ctx, argv(c), env, outputs, opts, log)
}
