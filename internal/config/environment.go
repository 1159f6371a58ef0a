package config

// What an environment's module receives, as the provisioner, the parity
// check and the dashboard ask for it: one owner for its module, its
// variables and its state backend.

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
)

// Module resolves the module and the preview's inputs for repo, composed
// by parity.ResolveInputs (production's var files and vars, the declared
// differences, the preview tier of the toggles), and the secrets its runs
// redact.
func (c *Config) Module(ctx context.Context, env preview.Environment) (provisioner.Module, error) {
	return c.ModuleWith(ctx, env, nil)
}

// ModuleWith is module with extra inputs on top (previewd parity's
// --preview-var).
func (c *Config) ModuleWith(ctx context.Context, env preview.Environment, extra map[string]any) (provisioner.Module, error) {
	repo := env.Repo
	r, ok, err := c.RepoFor(ctx, env)
	if err != nil {
		return provisioner.Module{}, err
	}
	if !ok {
		return provisioner.Module{}, preview.Errorf(preview.EINVALID, "no module is configured for %s: set module_dir or add it to repos", repo)
	}
	inspected, diags := tfconfig.LoadModule(r.ModuleDir)
	if diags.HasErrors() {
		return provisioner.Module{}, preview.Errorf(preview.EINVALID, "read module %s:\n%s", r.ModuleDir, moduleDiagnostics(r.ModuleDir, diags))
	}
	if m := r.Migrations; m != nil && m.DatabaseOutput != "" {
		// The output holds a password: Terraform would print it in the
		// run's log and previewd keep it with the other outputs.
		switch o, ok := inspected.Outputs[m.DatabaseOutput]; {
		case !ok:
			return provisioner.Module{}, preview.Errorf(preview.EINVALID, "migrations.database_output: the module has no output %q", m.DatabaseOutput)
		case !o.Sensitive:
			return provisioner.Module{}, preview.Errorf(preview.EINVALID, "migrations.database_output: output %q is not sensitive: add `sensitive = true` to it, it holds the database's password", m.DatabaseOutput)
		}
	}
	declared, sensitive := map[string]bool{}, map[string]bool{}
	for name, v := range inspected.Variables {
		declared[name], sensitive[name] = true, v.Sensitive
	}
	pr := c.ParityRepository(r)
	in, err := parity.ResolveInputs(pr, declared, extra)
	if err != nil {
		return provisioner.Module{}, preview.Errorf(preview.EINVALID, "repos %s: %v", repo, err)
	}
	return provisioner.Module{Dir: r.ModuleDir, Root: r.moduleRoot, VarFiles: pr.VarFiles, Vars: in.PreviewVars, URLOutput: r.URLOutput,
		Secrets: in.SensitiveValues(sensitive), State: r.State.Provisioner(), Version: r.moduleVersion}, nil
}

// ParityRepository is what parity needs of r.
func (c *Config) ParityRepository(r RepoConfig) parity.Repository {
	files := make([]string, len(r.Production.VarFiles))
	for i, f := range r.Production.VarFiles {
		files[i] = AbsPath(r.ModuleDir, f)
	}
	where := "production.var_files or production.vars of its repos entry"
	if !slices.ContainsFunc(c.Repos, func(e RepoConfig) bool { return strings.EqualFold(e.Name, r.Name) }) {
		where = "production_var_files (PREVIEWD_PRODUCTION_VAR_FILES), or a repos entry with production.vars"
	}
	return parity.Repository{Name: r.Name, ModuleDir: r.ModuleDir, VarFiles: files, Vars: r.Production.Vars,
		Engine: r.Production.TerraformVersion, Differences: r.Differences, Settings: r.Parity, Where: where}
}

// ParityRepositoryFor is ParityRepository of env's repository, with the
// module env follows (RepoFor); ok is false when previewd has no module for
// it.
func (c *Config) ParityRepositoryFor(ctx context.Context, env preview.Environment) (parity.Repository, bool, error) {
	r, ok, err := c.RepoFor(ctx, env)
	if err != nil || !ok {
		return parity.Repository{}, ok, err
	}
	return c.ParityRepository(r), true, nil
}

// ParitySettings is the parity block of repository repo; ok is false when
// previewd has no module for it.
func (c *Config) ParitySettings(repo string) (parity.Config, bool) {
	r, ok := c.Repo(repo)
	return r.Parity, ok
}

// moduleDiagnostics says what is wrong with the module in dir as Terraform
// does ("Error: …", then "on main.tf line 20:"), with file names relative
// to dir: the pull request's check run annotates those lines.
func moduleDiagnostics(dir string, diags tfconfig.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		if d.Severity != tfconfig.DiagError {
			continue
		}
		fmt.Fprintf(&b, "\nError: %s\n", d.Summary)
		if d.Pos != nil {
			file := d.Pos.Filename
			if rel, err := filepath.Rel(dir, file); err == nil && !strings.HasPrefix(rel, "..") {
				file = rel
			}
			fmt.Fprintf(&b, "\n  on %s line %d:\n", file, d.Pos.Line)
		}
		if d.Detail != "" {
			fmt.Fprintf(&b, "\n%s\n", d.Detail)
		}
	}
	return b.String()
}
