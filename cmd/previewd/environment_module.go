package main

// What an environment's module receives, as the provisioner, the parity
// check and the dashboard ask for it, and the controller's view of the
// provisioner and of production's module versions.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
)

// module resolves the module and the preview's inputs for repo, composed
// by parity.ResolveInputs (production's var files and vars, the declared
// differences, the preview tier of the toggles), and the secrets its runs
// redact.
func (c *Config) module(ctx context.Context, env preview.Environment) (provisioner.Module, error) {
	return c.moduleWith(ctx, env, nil)
}

// moduleWith is module with extra inputs on top (previewd parity's
// --preview-var).
func (c *Config) moduleWith(ctx context.Context, env preview.Environment, extra map[string]any) (provisioner.Module, error) {
	repo := env.Repo
	r, ok, err := c.repoFor(ctx, env)
	if err != nil {
		return provisioner.Module{}, err
	}
	if !ok {
		return provisioner.Module{}, preview.Errorf(preview.EINVALID, "no module is configured for %s: set module_dir or add it to repos", repo)
	}
	inspected, diags := tfconfig.LoadModule(r.ModuleDir)
	if diags.HasErrors() {
		return provisioner.Module{}, preview.Errorf(preview.EINVALID, "read module %s: %v", r.ModuleDir, diags.Err())
	}
	declared, sensitive := map[string]bool{}, map[string]bool{}
	for name, v := range inspected.Variables {
		declared[name], sensitive[name] = true, v.Sensitive
	}
	pr := c.parityRepository(r)
	in, err := parity.ResolveInputs(pr, declared, extra)
	if err != nil {
		return provisioner.Module{}, preview.Errorf(preview.EINVALID, "repos %s: %v", repo, err)
	}
	return provisioner.Module{Dir: r.ModuleDir, Root: r.moduleRoot, VarFiles: pr.VarFiles, Vars: in.PreviewVars, URLOutput: r.URLOutput,
		Secrets: in.SensitiveValues(sensitive), State: r.State.provisioner(), Version: r.moduleVersion}, nil
}

// parityRepository is what parity needs of r.
func (c *Config) parityRepository(r RepoConfig) parity.Repository {
	files := make([]string, len(r.Production.VarFiles))
	for i, f := range r.Production.VarFiles {
		files[i] = absPath(r.ModuleDir, f)
	}
	where := "production.var_files or production.vars of its repos entry"
	if !slices.ContainsFunc(c.Repos, func(e RepoConfig) bool { return strings.EqualFold(e.Name, r.Name) }) {
		where = "production_var_files (PREVIEWD_PRODUCTION_VAR_FILES), or a repos entry with production.vars"
	}
	return parity.Repository{Name: r.Name, ModuleDir: r.ModuleDir, VarFiles: files, Vars: r.Production.Vars,
		Engine: r.Production.TerraformVersion, Differences: r.Differences, Settings: r.Parity, Where: where}
}

// moduleVersions tells the controller which version of its production
// module each repository's environments must run.
type moduleVersions struct{ cfg *Config }

// Current resolves the module source env follows now (and makes that
// commit the current checkout); the zero version for a module directory.
func (m moduleVersions) Current(ctx context.Context, env preview.Environment) (preview.ModuleVersion, error) {
	r, ok := m.cfg.repo(env.Repo)
	if !ok || r.ModuleSource == "" || m.cfg.modules == nil {
		return preview.ModuleVersion{}, nil
	}
	mod, err := m.cfg.modules.Follow(ctx, env, r.moduleSetting())
	return mod.Version, err
}

// provisionerAdapter fits the provisioner to the controller's interface.
type provisionerAdapter struct {
	p   *provisioner.Provisioner
	cfg *Config
}

// Apply applies env; with a module_source, at the commit its ref names now,
// which the run is pinned to (a resolve meanwhile changes nothing of it).
func (a provisionerAdapter) Apply(ctx context.Context, env preview.Environment, log io.Writer) (preview.Applied, error) {
	if r, ok := a.cfg.repo(env.Repo); ok && r.ModuleSource != "" {
		m, err := a.cfg.modules.Follow(ctx, env, r.moduleSetting())
		if err != nil {
			return preview.Applied{}, fmt.Errorf("apply %s: module: %w", env.Name, err)
		}
		fmt.Fprintf(log, "# previewd: module %s at commit %s\n", m.Version.Source, m.Version.Commit)
		env.Module = m.Version
	}
	res, err := a.p.Apply(ctx, env, log)
	return preview.Applied{URL: res.URL, Outputs: res.Outputs, Module: res.Module}, err
}

// Destroy destroys env, with the module commit it was applied with.
func (a provisionerAdapter) Destroy(ctx context.Context, env preview.Environment, log io.Writer) error {
	return a.p.Destroy(ctx, env, log)
}
