// Package paritycheck runs parity's checks with previewd's own Terraform
// and configuration. Package parity declares what it needs of Terraform
// (parity.Terraform) and adapters never import each other, so this is
// where the two meet: Planner fits the provisioner to parity, each call
// with its environment's module as the configuration resolves it. The
// service builds a parity.Live with one; `previewd parity` keeps only its
// flags and calls Run.
package paritycheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
)

// Planner fits the provisioner to what parity needs of Terraform
// (parity.Terraform): each call's module is resolved first (Module).
type Planner struct {
	P      *provisioner.Provisioner
	Module func(context.Context, preview.Environment) (provisioner.Module, error)
}

// ModuleVariables reads what env's module declares of its variables.
func (a Planner) ModuleVariables(ctx context.Context, env preview.Environment) (parity.ModuleVariables, error) {
	mod, err := a.Module(ctx, env)
	if err != nil {
		return parity.ModuleVariables{}, err
	}
	v, err := a.P.ModuleVariables(ctx, env, mod)
	return parity.ModuleVariables{Declared: v.Declared, Sensitive: v.Sensitive, Required: v.Required}, err
}

// PlanPreview plans env as an apply would apply it.
func (a Planner) PlanPreview(ctx context.Context, env preview.Environment, log io.Writer) (parity.Plan, error) {
	return a.plan(ctx, env, func(mod provisioner.Module) (provisioner.PlanResult, error) {
		return a.P.PlanPreview(ctx, env, mod, log)
	})
}

// PlanApplied returns the plan env was applied with.
func (a Planner) PlanApplied(ctx context.Context, env preview.Environment, log io.Writer) (parity.Plan, error) {
	return a.plan(ctx, env, func(mod provisioner.Module) (provisioner.PlanResult, error) {
		return a.P.PlanApplied(ctx, env, mod, log)
	})
}

// PlanProduction plans production's shape of env's module with vars.
func (a Planner) PlanProduction(ctx context.Context, env preview.Environment, vars map[string]any, log io.Writer) (parity.Plan, error) {
	return a.plan(ctx, env, func(mod provisioner.Module) (provisioner.PlanResult, error) {
		return a.P.PlanProduction(ctx, env, mod, vars, log)
	})
}

// EngineBanner is the first line the engine's `version` prints.
func (a Planner) EngineBanner(ctx context.Context) (string, error) { return a.P.EngineBanner(ctx) }

// plan resolves env's module and plans it with run.
func (a Planner) plan(ctx context.Context, env preview.Environment, run func(provisioner.Module) (provisioner.PlanResult, error)) (parity.Plan, error) {
	mod, err := a.Module(ctx, env)
	if err != nil {
		return parity.Plan{}, err
	}
	res, err := run(mod)
	return parity.Plan{Plan: res.Plan, LockFile: res.LockFile, WorkDir: res.WorkDir}, err
}

// DetectDrift lists what a refresh-only plan of env finds changed.
func (a Planner) DetectDrift(ctx context.Context, env preview.Environment, log io.Writer) ([]string, error) {
	mod, err := a.Module(ctx, env)
	if err != nil {
		return nil, err
	}
	_, changes, err := a.P.DetectDrift(ctx, env, mod, log)
	return changes, err
}

// Secrets returns the values env's runs redact and, with outputs, its
// sensitive outputs, read from its state.
func (a Planner) Secrets(ctx context.Context, env preview.Environment, outputs bool) ([]string, map[string]string, error) {
	mod, err := a.Module(ctx, env)
	if err != nil || !outputs {
		return mod.Secrets, nil, err
	}
	sensitive, err := a.P.SensitiveOutputs(ctx, env, mod)
	return mod.Secrets, sensitive, err
}

// Options are what `previewd parity` checks and prints, as its flags say.
type Options struct {
	Repo            string // owner/name
	PR              int    // the scratch preview's pull request, branch and head
	Branch, HeadSHA string
	Plan            bool     // plan the scratch preview and production's shape
	VarFiles, Vars  []string // --preview-var-file, --preview-var (see parity.ExtraInputs)
	JSON            bool     // print the report as JSON, not text
	All             bool     // list the values that differ only by the environment's name too
	Width           int      // the text's width in columns (see parity.TerminalWidth)
}

// Run runs Scratch and prints its report to stdout, and to stderr why the
// check could not run, with Terraform's output, or why its plans could
// not. It returns the exit status of `previewd parity`: parity.ExitParity,
// ExitDrift or ExitError.
func Run(ctx context.Context, cfg config.Config, o Options, stdout, stderr io.Writer) int {
	var tfLog bytes.Buffer
	out, err := Scratch(ctx, cfg, o, &tfLog)
	if err != nil {
		if tfLog.Len() > 0 {
			fmt.Fprintf(stderr, "terraform's output:\n%s\n", tfLog.Bytes())
		}
		fmt.Fprintln(stderr, "previewd parity:", err)
		return parity.ExitError
	}
	if !o.All {
		out.ParityReport = out.WithoutIdentity()
	}
	if out.Plans != nil {
		fmt.Fprintln(stderr, "previewd parity: the plans could not run:", out.Plans)
	}
	if err := out.Print(stdout, o.JSON, o.Width); err != nil {
		fmt.Fprintln(stderr, "previewd parity:", err)
		return parity.ExitError
	}
	return out.ExitStatus()
}

// Scratch runs every check of o.Repo with a provisioner of its own in a
// temporary directory, which it removes (see
// parity.Checker.CheckScratch). A module_source is resolved now, in that
// directory too. Terraform's output goes to tfLog.
func Scratch(ctx context.Context, cfg config.Config, o Options, tfLog *bytes.Buffer) (parity.Output, error) {
	r, ok := cfg.Repo(o.Repo)
	if !ok {
		return parity.Output{}, fmt.Errorf("no module is configured for %s: set module_dir or add it to repos", o.Repo)
	}
	extra, err := parity.ExtraInputs(o.VarFiles, o.Vars)
	if err != nil {
		return parity.Output{}, err
	}
	dataDir, err := os.MkdirTemp("", "previewd-parity-")
	if err != nil {
		return parity.Output{}, err
	}
	defer os.RemoveAll(dataDir)
	if r.ModuleSource != "" {
		if r, err = follow(ctx, &cfg, o.Repo, dataDir); err != nil {
			return parity.Output{}, err
		}
	}
	pc, err := cfg.Terraform.Provisioner(dataDir)
	if err != nil {
		return parity.Output{}, err
	}
	prov, err := provisioner.New(pc)
	if err != nil {
		return parity.Output{}, err
	}
	checker := parity.NewChecker(Planner{P: prov, Module: func(ctx context.Context, env preview.Environment) (provisioner.Module, error) {
		return cfg.ModuleWith(ctx, env, extra)
	}})
	var state provisioner.State
	if r.State != nil {
		state = r.State.Provisioner()
	}
	env := preview.Environment{Name: parity.ScratchEnvironment, Repo: o.Repo, PR: o.PR, Branch: o.Branch, HeadSHA: o.HeadSHA}
	return checker.CheckScratch(ctx, cfg.ParityRepository(r), parity.ScratchOptions{
		CheckOptions: parity.CheckOptions{Env: env, SkipPlans: !o.Plan, Extra: extra}, Backend: state.Backend, Refused: state.Refused,
	}, tfLog)
}

// follow resolves repo's module source now into dataDir and returns its
// settings with that checkout. The CLI reads public, file and token-mode
// repositories: an App's installation token needs the service.
func follow(ctx context.Context, cfg *config.Config, repo, dataDir string) (config.RepoConfig, error) {
	var token func(context.Context, string) (string, error)
	if t := cfg.GitHub.Token; t != "" {
		token = func(context.Context, string) (string, error) { return t, nil }
	}
	cfg.UseResolver(modules.NewResolver(dataDir, cfg.GitHub.APIURL, token))
	scratch := preview.Environment{Repo: repo}
	if _, _, err := cfg.Follow(ctx, scratch); err != nil {
		return config.RepoConfig{}, err
	}
	r, _, err := cfg.RepoFor(ctx, scratch)
	return r, err
}
