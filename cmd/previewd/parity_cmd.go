package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/modules"
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

func parseParityFlags(args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) (parityFlags, error) {
	var f parityFlags
	fs := flag.NewFlagSet("parity", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultConfig, _ := getenv("PREVIEWD_CONFIG")
	fs.StringVar(&f.config, "config", defaultConfig, "YAML configuration `file` (default $PREVIEWD_CONFIG)")
	fs.StringVar(&f.repo, "repo", "", "repository to check, `owner/name`")
	fs.BoolVar(&f.json, "json", false, `print {"status","checked_at","findings"} as the API does`)
	fs.BoolVar(&f.all, "all", false, "list the values that differ only by the environment's name too")
	fs.BoolVar(&f.plan, "plan", true, "compare a scratch preview's plan with production's (runs terraform)")
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
	if err := parseFlags(fs, args, stdout); err != nil {
		return f, err
	}
	switch {
	case fs.NArg() > 0:
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case !config.RepoName.MatchString(f.repo):
		return f, fmt.Errorf("--repo: %q is not owner/name", f.repo)
	}
	return f, nil
}

// runParity is parityCommand with its context and environment given.
func runParity(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) int {
	f, err := parseParityFlags(args, stdout, stderr, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return exitParity
	} else if err != nil {
		fmt.Fprintln(stderr, "previewd parity:", err)
		return exitError
	}
	var tfLog bytes.Buffer
	out, err := checkParity(ctx, f, getenv, &tfLog)
	if err != nil {
		if tfLog.Len() > 0 {
			fmt.Fprintf(stderr, "terraform's output:\n%s\n", tfLog.Bytes())
		}
		fmt.Fprintln(stderr, "previewd parity:", err)
		return exitError
	}
	if !f.all {
		out.ParityReport = out.WithoutIdentity()
	}
	if out.plans != nil {
		fmt.Fprintln(stderr, "previewd parity: the plans could not run:", out.plans)
	}
	if err := printReport(stdout, out, f.json, terminalWidth(getenv)); err != nil {
		fmt.Fprintln(stderr, "previewd parity:", err)
		return exitError
	}
	switch out.Status {
	case preview.ParityDrift:
		return exitDrift
	case preview.ParityError:
		return exitError
	}
	return exitParity
}

// parityOutput is what `previewd parity` prints: the API's report, and the
// checks it skipped.
type parityOutput struct {
	preview.ParityReport
	Skipped *parity.Skipped `json:"skipped,omitempty"`
	// plans is why the plans could not run, when the report does not say
	// it (its status is drift, not an error).
	plans error
}

// terminalWidth is the width the text report fits: $COLUMNS, else
// parity.DefaultWidth.
func terminalWidth(getenv func(string) (string, bool)) int {
	if v, ok := getenv("COLUMNS"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
			return n
		}
	}
	return parity.DefaultWidth
}

func printReport(w io.Writer, out parityOutput, asJSON bool, width int) error {
	if !asJSON {
		opts := parity.TextOptions{Width: width}
		if out.Skipped != nil {
			opts.Skipped = *out.Skipped
		}
		return parity.RenderText(w, out.ParityReport, opts)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// checkParity runs every check for f.repo with a provisioner of its own
// in a temporary directory, and returns the report and the checks it
// skipped: the plans' with --plan=false, or when the state backend
// refuses Terraform (see provisioner.State.Refused). Then the report is of
// the other checks, and, unless they found drift, its status is an error:
// parity is not judged without the plans unless asked to be. Terraform's
// output goes to tfLog.
func checkParity(ctx context.Context, f parityFlags, getenv func(string) (string, bool), tfLog *bytes.Buffer) (parityOutput, error) {
	cfg, err := config.Read(f.config, getenv, false)
	if err != nil {
		return parityOutput{}, err
	}
	r, ok := cfg.Repo(f.repo)
	if !ok {
		return parityOutput{}, fmt.Errorf("no module is configured for %s: set module_dir or add it to repos", f.repo)
	}
	extra, err := extraInputs(f.varFiles, f.vars)
	if err != nil {
		return parityOutput{}, err
	}
	dataDir, err := os.MkdirTemp("", "previewd-parity-")
	if err != nil {
		return parityOutput{}, err
	}
	defer os.RemoveAll(dataDir)
	if r.ModuleSource != "" {
		if r, err = followForCLI(ctx, &cfg, f.repo, dataDir); err != nil {
			return parityOutput{}, err
		}
	}
	bin, err := provisioner.FindTerraform(cfg.Terraform.Bin)
	if err != nil {
		return parityOutput{}, err
	}
	prov, err := provisioner.New(provisioner.Config{
		TerraformBin:   bin,
		DataDir:        dataDir,
		PluginCacheDir: cfg.Terraform.PluginCacheDir,
		CLIConfigFile:  cfg.Terraform.CLIConfig,
		EnvPassthrough: cfg.Terraform.EnvPassthrough,
		Env:            cfg.Terraform.Env,
	})
	if err != nil {
		return parityOutput{}, err
	}
	checker := parity.NewChecker(planner{p: prov, module: func(ctx context.Context, env preview.Environment) (provisioner.Module, error) {
		return cfg.ModuleWith(ctx, env, extra)
	}})
	repo := cfg.ParityRepository(r)
	opts := parity.CheckOptions{
		Env:       preview.Environment{Name: parityCheckEnvironment, Repo: f.repo, PR: f.pr, Branch: f.branch, HeadSHA: f.headSHA},
		SkipPlans: !f.plan, Extra: extra,
	}
	report, err := checker.Check(ctx, repo, opts, tfLog)
	if !f.plan {
		return parityOutput{ParityReport: report, Skipped: &parity.Skipped{Checks: parity.PlanChecks, Because: "--plan=false"}}, err
	}
	var state provisioner.State
	if r.State != nil {
		state = r.State.Provisioner()
	}
	if err == nil || !state.Refused(err, tfLog.String()) {
		return parityOutput{ParityReport: report}, err
	}
	opts.SkipPlans = true
	report, inputErr := checker.Check(ctx, repo, opts, io.Discard)
	if inputErr != nil {
		return parityOutput{}, errors.Join(err, inputErr)
	}
	out := parityOutput{ParityReport: report, Skipped: &parity.Skipped{Checks: parity.PlanChecks,
		Because: fmt.Sprintf("the state backend %q refused terraform: are its credentials missing?", state.Backend)}}
	if report.Status == preview.ParityDrift {
		out.plans = err
	} else {
		out.Status, out.Error = preview.ParityError, "the plans could not run: "+err.Error()
	}
	return out, nil
}

// followForCLI resolves repo's module source now into dataDir and returns
// its settings with that checkout. The CLI reads public, file and
// token-mode repositories: an App's installation token needs the service.
func followForCLI(ctx context.Context, cfg *config.Config, repo, dataDir string) (config.RepoConfig, error) {
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
