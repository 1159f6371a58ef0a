package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/internal/paritycheck"
	"github.com/previewd/previewd/parity"
)

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

// multiFlag is a flag that may be given more than once.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseParityFlags returns the configuration file the flags name and what
// they ask to check (see paritycheck.Options).
func parseParityFlags(args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) (string, paritycheck.Options, error) {
	var o paritycheck.Options
	fs := newFlags("parity", "Checks that the repository's previews differ from production only where declared.\n"+
		"Exit status: 0 parity, 1 undeclared drift, 2 error.", stderr)
	defaultConfig, _ := getenv("PREVIEWD_CONFIG")
	configPath := fs.String("config", defaultConfig, "YAML configuration `file` (default $PREVIEWD_CONFIG)")
	fs.StringVar(&o.Repo, "repo", "", "repository to check, `owner/name`")
	fs.BoolVar(&o.JSON, "json", false, `print {"status","checked_at","findings"} as the API does`)
	fs.BoolVar(&o.All, "all", false, "list the values that differ only by the environment's name too")
	fs.BoolVar(&o.Plan, "plan", true, "compare a scratch preview's plan with production's (runs terraform)")
	fs.IntVar(&o.PR, "pr", 0, "pull request `number` the scratch preview is planned for")
	fs.StringVar(&o.Branch, "branch", "", "`branch` the scratch preview is planned for")
	fs.StringVar(&o.HeadSHA, "head-sha", "", "commit the scratch preview is planned for")
	fs.Var((*multiFlag)(&o.VarFiles), "preview-var-file", "a var `file` the preview passes too (e.g. the staging.tfvars being replaced); repeatable")
	fs.Var((*multiFlag)(&o.Vars), "preview-var", "a `name=value` the preview passes too; repeatable")
	if err := parseFlags(fs, args, stdout); err != nil {
		return "", o, err
	}
	o.Width = parity.TerminalWidth(getenv)
	switch {
	case fs.NArg() > 0:
		return "", o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case !config.RepoName.MatchString(o.Repo):
		return "", o, fmt.Errorf("--repo: %q is not owner/name", o.Repo)
	}
	return *configPath, o, nil
}

// runParity is parityCommand with its context and environment given.
func runParity(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) (string, bool)) int {
	configPath, o, err := parseParityFlags(args, stdout, stderr, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return parity.ExitParity
	}
	var cfg config.Config
	if err == nil {
		cfg, err = config.Read(configPath, getenv, false)
	}
	if err != nil {
		fmt.Fprintln(stderr, "previewd parity:", err)
		return parity.ExitError
	}
	return paritycheck.Run(ctx, cfg, o, stdout, stderr)
}
