package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
)

// Exit codes of `previewd parity`.
const (
	exitParity = 0
	exitDrift  = 1
	exitError  = 2
)

// parityCheckEnvironment names the scratch preview the parity command plans.
const parityCheckEnvironment = "parity-check"

// parityCommand runs `previewd parity --config FILE --repo owner/name [--json]
// [--pr N --branch B --head-sha S]`: it checks a repository's previews
// against production without a running previewd (variables, config keys,
// toggles, and the plans of a scratch preview and of production's shape in
// a temporary directory), prints the findings, and returns 0 for parity, 1
// for undeclared drift and 2 for an error. SIGINT and SIGTERM stop
// Terraform cleanly.
func parityCommand(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runParity(ctx, args, stdout, stderr, os.LookupEnv)
}

// parityFlags are the parity command's options.
type parityFlags struct {
	config, repo    string
	json, plan, all bool
	pr              int
	branch, headSHA string
	varFiles, vars  multiFlag
}

// multiFlag is a flag that may be given more than once.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func parseParityFlags(args []string, stderr io.Writer, getenv func(string) (string, bool)) (parityFlags, error) {
	var f parityFlags
	fs := flag.NewFlagSet("parity", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultConfig, _ := getenv("PREVIEWD_CONFIG")
	fs.StringVar(&f.config, "config", defaultConfig, "YAML configuration `file` (default $PREVIEWD_CONFIG)")
	fs.StringVar(&f.repo, "repo", "", "repository to check, `owner/name`")
	fs.BoolVar(&f.json, "json", false, `print {"status","checked_at","findings"} as the API does`)
	fs.BoolVar(&f.all, "all", false, "list the values that differ only by the environment's name too")
	fs.BoolVar(&f.plan, "plan", true, "compare the plans of a scratch preview and of production's shape (runs terraform)")
	fs.IntVar(&f.pr, "pr", 0, "pull request `number` the scratch preview is planned for")
	fs.StringVar(&f.branch, "branch", "", "`branch` the scratch preview is planned for")
	fs.StringVar(&f.headSHA, "head-sha", "", "commit the scratch preview is planned for")
	fs.Var(&f.varFiles, "preview-var-file", "a var `file` the preview passes too (e.g. the staging.tfvars being replaced); repeatable")
	fs.Var(&f.vars, "preview-var", "a `name=value` the preview passes too; repeatable")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: previewd parity --config FILE --repo owner/name [flags]\n\n"+
			"Checks that the repository's previews differ from production only where declared.\n"+
			"Exit status: 0 parity, 1 undeclared drift, 2 error.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	switch {
	case fs.NArg() > 0:
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case !repoName.MatchString(f.repo):
		return f, fmt.Errorf("--repo: %q is not owner/name", f.repo)
	}
	return f, nil
}

// runParity is parityCommand with its context and environment given.
func runParity(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) int {
	f, err := parseParityFlags(args, stderr, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return exitParity
	} else if err != nil {
		fmt.Fprintln(stderr, "previewd parity:", err)
		return exitError
	}
	var tfLog bytes.Buffer
	report, err := checkParity(ctx, f, getenv, &tfLog)
	if err != nil {
		if tfLog.Len() > 0 {
			fmt.Fprintf(stderr, "terraform's output:\n%s\n", tfLog.Bytes())
		}
		fmt.Fprintln(stderr, "previewd parity:", err)
		return exitError
	}
	if !f.all {
		report = report.WithoutIdentity()
	}
	if err := printReport(stdout, report, f.json); err != nil {
		fmt.Fprintln(stderr, "previewd parity:", err)
		return exitError
	}
	if report.Status == preview.ParityDrift {
		return exitDrift
	}
	return exitParity
}

func printReport(w io.Writer, report preview.ParityReport, asJSON bool) error {
	if !asJSON {
		return parity.RenderText(w, report)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(report)
}

// parityCheck is everything one run of the parity command works from.
type parityCheck struct {
	flags    parityFlags
	repo     RepoConfig
	settings parity.Config
	cfg      Config
	module   parity.ModuleVariables
	toggles  parity.Toggles // nil without a toggles file

	productionPlans *planCache // nil: plan production's shape every time
	applied         bool       // the preview is a live environment that must still exist
	attributeStats  parity.AttributeStats
	source          *parity.ModuleSource // read once, by moduleSource

	productionFiles []string       // production's var files, absolute
	production      map[string]any // production's resolved inputs
	preview         map[string]any // the preview's resolved inputs
	extra           map[string]any // --preview-var-file and --preview-var
}

// checkParity runs every check for f.repo and returns the report. Terraform's
// output goes to tfLog.
func checkParity(ctx context.Context, f parityFlags, getenv func(string) (string, bool), tfLog io.Writer) (preview.ParityReport, error) {
	cfg, err := loadConfig(f.config, getenv, false)
	if err != nil {
		return preview.ParityReport{}, err
	}
	r, ok := cfg.repo(f.repo)
	if !ok {
		return preview.ParityReport{}, fmt.Errorf("no module is configured for %s: set module_dir or add it to repos", f.repo)
	}
	c := &parityCheck{flags: f, repo: r, settings: r.Parity, cfg: cfg}
	dataDir, err := os.MkdirTemp("", "previewd-parity-")
	if err != nil {
		return preview.ParityReport{}, err
	}
	defer os.RemoveAll(dataDir)
	prov, err := c.provisioner(dataDir)
	if err != nil {
		return preview.ParityReport{}, err
	}
	env := preview.Environment{Name: parityCheckEnvironment, Repo: f.repo, PR: f.pr, Branch: f.branch, HeadSHA: f.headSHA}
	return c.run(ctx, prov, env, tfLog)
}

// run reads the module's variables and both sides' inputs, then runs every
// check: inputs, config keys and toggles, and with flags.plan the plans of
// env and of production's shape and the engine. Terraform's output goes to
// tfLog. A module needing production inputs previewd was not given is an
// error naming them: the check never runs on a production it made up.
func (c *parityCheck) run(ctx context.Context, prov *provisioner.Provisioner, env preview.Environment, tfLog io.Writer) (preview.ParityReport, error) {
	vars, err := prov.ModuleVariables(c.flags.repo)
	if err != nil {
		return preview.ParityReport{}, err
	}
	c.module.Declared, c.module.Sensitive = vars.Declared, vars.Sensitive
	if err := c.resolveInputs(); err != nil {
		return preview.ParityReport{}, err
	}
	if err := c.checkProductionInputs(vars.Required); err != nil {
		return preview.ParityReport{}, err
	}
	findings, err := c.inputFindings(ctx)
	if err != nil || !c.flags.plan {
		return parity.Report(findings), err
	}
	planFindings, err := c.planFindings(ctx, prov, env, tfLog)
	if err != nil {
		return preview.ParityReport{}, err
	}
	engine, err := c.engineFindings(ctx, prov)
	if err != nil {
		return preview.ParityReport{}, err
	}
	return c.report(findings, planFindings, engine), nil
}

// checkProductionInputs returns an error naming the variables the module
// requires (no default) that production's inputs do not set, besides the
// per-pull-request ones previewd passes.
func (c *parityCheck) checkProductionInputs(required map[string]bool) error {
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(required)) {
		if _, ok := c.production[name]; !ok && !slices.Contains(parity.PerPullRequest, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	where := "production.var_files or production.vars of its repos entry"
	if c.repo.ModuleDir == c.cfg.ModuleDir && !c.listed() {
		where = "production_var_files (PREVIEWD_PRODUCTION_VAR_FILES), or a repos entry with production.vars"
	}
	return fmt.Errorf("production's inputs do not set %s, which the module requires: give production's values in %s", strings.Join(missing, ", "), where)
}

// listed reports whether the repository has its own repos entry.
func (c *parityCheck) listed() bool {
	return slices.ContainsFunc(c.cfg.Repos, func(r RepoConfig) bool { return strings.EqualFold(r.Name, c.flags.repo) })
}

// moduleSource reads the module's HCL once per check.
func (c *parityCheck) moduleSource() (*parity.ModuleSource, error) {
	if c.source == nil {
		src, err := parity.LoadModuleSource(c.repo.ModuleDir)
		if err != nil {
			return nil, err
		}
		c.source = src
	}
	return c.source, nil
}

// engineFindings compares the engine previewd runs with production's.
func (c *parityCheck) engineFindings(ctx context.Context, prov *provisioner.Provisioner) ([]preview.Finding, error) {
	banner, err := prov.EngineBanner(ctx)
	if err != nil {
		return nil, err
	}
	running, err := parity.ParseEngineBanner(banner)
	if err != nil {
		return nil, fmt.Errorf("the engine's version: %w", err)
	}
	production, err := parity.ParseEngine(c.repo.Production.TerraformVersion)
	if err != nil {
		return nil, fmt.Errorf("production.terraform_version: %w", err)
	}
	src, err := c.moduleSource()
	if err != nil {
		return nil, err
	}
	return parity.CompareEngine(running, production, src.RequiredVersions()), nil
}

// report gathers the findings and what the attribute comparison counted.
func (c *parityCheck) report(findings ...[]preview.Finding) preview.ParityReport {
	r := parity.Report(findings...)
	r.IdentityDifferences, r.UnknownValues = c.attributeStats.Identity, c.attributeStats.Unknown
	return r
}

// provisioner returns a provisioner in dataDir whose module is the
// preview's, as the scratch preview is planned with it.
func (c *parityCheck) provisioner(dataDir string) (*provisioner.Provisioner, error) {
	bin, err := terraformBinary(c.cfg.Terraform.Bin)
	if err != nil {
		return nil, err
	}
	return provisioner.New(provisioner.Config{
		TerraformBin:   bin,
		DataDir:        dataDir,
		PluginCacheDir: c.cfg.Terraform.PluginCacheDir,
		EnvPassthrough: c.cfg.Terraform.EnvPassthrough,
		Env:            c.cfg.Terraform.Env,
		Modules:        func(string) (provisioner.Module, error) { return c.previewModule() },
	})
}

// resolveInputs reads production's inputs, the toggles and the extra
// preview inputs, and builds the preview's: production's, then the declared
// differences, the extra inputs and the preview's toggles.
func (c *parityCheck) resolveInputs() error {
	for _, f := range c.repo.Production.VarFiles {
		c.productionFiles = append(c.productionFiles, absPath(c.repo.ModuleDir, f))
	}
	fromFiles, err := parity.LoadVarFiles(c.productionFiles...)
	if err != nil {
		return fmt.Errorf("production's inputs: %w", err)
	}
	c.production = fromFiles
	maps.Copy(c.production, c.repo.Production.Vars)
	if c.extra, err = extraInputs(c.flags.varFiles, c.flags.vars); err != nil {
		return err
	}
	if c.settings.TogglesFile != "" {
		if c.toggles, err = parity.LoadToggles(c.settings.TogglesFile); err != nil {
			return err
		}
	}
	c.preview = maps.Clone(c.production)
	for _, d := range c.repo.Differences {
		c.preview[d.Variable] = d.Value
	}
	maps.Copy(c.preview, c.extra)
	if c.togglesPassed() {
		c.production[c.settings.TogglesVar()] = c.toggles.ForTier(parity.TierProduction)
		c.preview[c.settings.TogglesVar()] = c.toggles.ForTier(parity.TierPreview)
	}
	return nil
}

// togglesPassed reports whether the toggles reach the module: a toggles file
// is configured and the module declares the toggles variable.
func (c *parityCheck) togglesPassed() bool {
	return c.toggles != nil && c.module.Declared[c.settings.TogglesVar()]
}

// extraInputs reads --preview-var-file and --preview-var. A --preview-var
// value is a string unless it starts with { or [, when it is JSON.
func extraInputs(files, vars []string) (map[string]any, error) {
	extra, err := parity.LoadVarFiles(files...)
	if err != nil {
		return nil, fmt.Errorf("--preview-var-file: %w", err)
	}
	for _, kv := range vars {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--preview-var %q: not name=value", kv)
		}
		extra[name] = value
		if strings.HasPrefix(value, "{") || strings.HasPrefix(value, "[") {
			var v any
			if err := json.Unmarshal([]byte(value), &v); err != nil {
				return nil, fmt.Errorf("--preview-var %s: not JSON: %v", name, err)
			}
			extra[name] = v
		}
	}
	return extra, nil
}

// inputFindings compares variables, config keys and toggles.
func (c *parityCheck) inputFindings(ctx context.Context) ([]preview.Finding, error) {
	var expected []string
	if c.togglesPassed() {
		expected = append(expected, c.settings.TogglesVar()) // compared toggle by toggle
	}
	findings := parity.CompareVariables(c.production, c.preview, c.repo.Differences, c.module, expected...)
	for _, ck := range c.settings.ConfigKeys {
		prod, err := parity.LoadKeys(ctx, ck.Production, c.settings.CommandOptions())
		if err != nil {
			return nil, fmt.Errorf("config keys %s, production: %w", ck.Name, err)
		}
		prev, err := parity.LoadKeys(ctx, ck.Preview, c.settings.CommandOptions())
		if err != nil {
			return nil, fmt.Errorf("config keys %s, preview: %w", ck.Name, err)
		}
		findings = append(findings, parity.CompareKeys(ck.Name, prod, prev, ck.Differences)...)
	}
	if c.toggles != nil {
		findings = append(findings, parity.CompareToggles(c.toggles)...)
	}
	return findings, nil
}

// previewModule is the module the scratch preview is planned with: the
// preview's, as previewd builds it (see Config.module), plus the extra
// inputs the module declares.
func (c *parityCheck) previewModule() (provisioner.Module, error) {
	mod, err := c.cfg.module(c.flags.repo)
	if err != nil {
		return mod, err
	}
	for name, v := range c.extra {
		if c.module.Declared[name] {
			mod.Vars[name] = v
		}
	}
	return mod, nil
}

// planFindings plans the preview env and production's shape and compares
// them, and the lock files.
func (c *parityCheck) planFindings(ctx context.Context, prov *provisioner.Provisioner, env preview.Environment, tfLog io.Writer) ([]preview.Finding, error) {
	planPreview := prov.PlanPreview
	if c.applied {
		planPreview = prov.PlanApplied
	}
	prev, err := planPreview(ctx, env, tfLog)
	if err != nil {
		return nil, err
	}
	vars := maps.Clone(c.repo.Production.Vars)
	if c.togglesPassed() {
		if vars == nil {
			vars = map[string]any{}
		}
		vars[c.settings.TogglesVar()] = c.toggles.ForTier(parity.TierProduction)
	}
	planProduction := prov.PlanProduction
	if c.productionPlans != nil {
		planProduction = c.productionPlans.get(prov, c.repo.ModuleDir, c.productionFiles)
	}
	// Production's plan shows production's configuration: it stays out of
	// the preview's log, which pull-request readers may open.
	fmt.Fprintf(tfLog, "# previewd: planning production's shape (its output is not kept here)\n")
	prod, err := planProduction(ctx, c.flags.repo, vars, io.Discard)
	if err != nil {
		return nil, err
	}
	findings := parity.ComparePlans(prod.Plan, prev.Plan, c.repo.Differences)
	src, err := c.moduleSource()
	if err != nil {
		return nil, err
	}
	attributes, stats := parity.CompareAttributes(prod.Plan, prev.Plan, parity.AttributeInputs{
		Declared: c.declaredVariables(), Source: src, ProductionDir: prod.WorkDir, PreviewDir: prev.WorkDir,
	})
	findings = append(findings, attributes...)
	c.attributeStats = stats
	productionLock, err := c.productionLockFile()
	if err != nil {
		return nil, err
	}
	locks, err := parity.CompareLockFiles(productionLock, prev.LockFile)
	return append(findings, locks...), err
}

// declaredVariables maps each variable a preview may differ in to why:
// the declared differences' reasons, and the toggles variable when the
// toggles reach the module (its tiers are declared by design).
func (c *parityCheck) declaredVariables() map[string]string {
	declared := map[string]string{}
	for _, d := range c.repo.Differences {
		declared[d.Variable] = d.Reason
	}
	if c.togglesPassed() {
		declared[c.settings.TogglesVar()] = "toggles"
	}
	return declared
}

// productionLockFile returns the lock file production runs with: the
// configured production_lock_file, else the module's own; nil when there
// is none.
func (c *parityCheck) productionLockFile() ([]byte, error) {
	path := c.settings.ProductionLockFile
	if path == "" {
		path = filepath.Join(c.repo.ModuleDir, ".terraform.lock.hcl")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && c.settings.ProductionLockFile == "" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("production's lock file: %w", err)
	}
	return b, nil
}
