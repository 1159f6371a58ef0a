package provisioner

import (
	"context"
	"io"

	preview "github.com/previewd/previewd"
)

// testProvisioner is a Provisioner called as previewd calls it: the
// module of each call is resolved first, here by modules (the test's
// fixture for every repository unless a test says otherwise).
type testProvisioner struct {
	*Provisioner
	modules func(context.Context, preview.Environment) (Module, error)
}

// fixed makes every environment get mod.
func fixed(mod Module) func(context.Context, preview.Environment) (Module, error) {
	return func(context.Context, preview.Environment) (Module, error) { return mod, nil }
}

func (t testProvisioner) Apply(ctx context.Context, env preview.Environment, log io.Writer) (Result, error) {
	mod, err := t.modules(ctx, env)
	if err != nil {
		return Result{}, err
	}
	return t.Provisioner.Apply(ctx, env, mod, log)
}

func (t testProvisioner) Destroy(ctx context.Context, env preview.Environment, log io.Writer) error {
	mod, err := t.modules(ctx, env)
	if err != nil {
		return err
	}
	return t.Provisioner.Destroy(ctx, env, mod, log)
}

func (t testProvisioner) PlanPreview(ctx context.Context, env preview.Environment, log io.Writer) (PlanResult, error) {
	mod, err := t.modules(ctx, env)
	if err != nil {
		return PlanResult{}, err
	}
	return t.Provisioner.PlanPreview(ctx, env, mod, log)
}

func (t testProvisioner) PlanApplied(ctx context.Context, env preview.Environment, log io.Writer) (PlanResult, error) {
	mod, err := t.modules(ctx, env)
	if err != nil {
		return PlanResult{}, err
	}
	return t.Provisioner.PlanApplied(ctx, env, mod, log)
}

func (t testProvisioner) PlanProduction(ctx context.Context, env preview.Environment, vars map[string]any, log io.Writer) (PlanResult, error) {
	mod, err := t.modules(ctx, env)
	if err != nil {
		return PlanResult{}, err
	}
	return t.Provisioner.PlanProduction(ctx, env, mod, vars, log)
}

func (t testProvisioner) DetectDrift(ctx context.Context, env preview.Environment, log io.Writer) (bool, []string, error) {
	mod, err := t.modules(ctx, env)
	if err != nil {
		return false, nil, err
	}
	return t.Provisioner.DetectDrift(ctx, env, mod, log)
}

func (t testProvisioner) ModuleVariables(ctx context.Context, env preview.Environment) (Variables, error) {
	mod, err := t.modules(ctx, env)
	if err != nil {
		return Variables{}, err
	}
	return t.Provisioner.ModuleVariables(ctx, env, mod)
}

func (t testProvisioner) SensitiveOutputs(ctx context.Context, env preview.Environment) (map[string]string, error) {
	mod, err := t.modules(ctx, env)
	if err != nil {
		return nil, err
	}
	return t.Provisioner.SensitiveOutputs(ctx, env, mod)
}
