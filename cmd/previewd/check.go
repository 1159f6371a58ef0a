package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/previewd/previewd/github"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/internal/preflightcheck"
	"github.com/previewd/previewd/preflight"
)

// checkCommand runs the preflight checks once and prints their results:
// exit 0 when none failed, 1 when one did, 2 for a usage or configuration
// error.
func checkCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check",
		"Checks what previews need before the first pull request does: the GitHub App's credentials,\n"+
			"each installation's permissions and events, module sources, state backends, the engine's\n"+
			"version against production's, and the store. Exit 0 all ok (warnings allowed), 1 a check failed,\n2 a usage or configuration error.", stderr)
	configPath := fs.String("config", os.Getenv("PREVIEWD_CONFIG"), "YAML configuration `file` (default $PREVIEWD_CONFIG)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	timeout := fs.Duration("timeout", time.Minute, "how long each check may take")
	if err := parseFlags(fs, args, stdout); err != nil {
		return flagsExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "previewd check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(stderr, "previewd:", err)
		return 2
	}
	checks, err := cliChecks(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "previewd:", err)
		return 2
	}
	checks.Timeout = *timeout
	results := checks.Run(context.Background())
	preflight.Print(stdout, results, *asJSON)
	if preflight.Failed(results) {
		return 1
	}
	return 0
}

// cliChecks builds previewd check's checks of cfg (see
// preflightcheck.Checks): with the store check, which opens the store for
// a moment, and a scratch workspace written by the state check.
func cliChecks(cfg config.Config) (preflight.Checks, error) {
	dir, err := openDataDir(cfg)
	if err != nil {
		return preflight.Checks{}, err
	}
	logger := slog.New(slog.DiscardHandler)
	var client *github.Client
	if github.Mode(cfg.GitHub.AppID, cfg.GitHub.Token) != github.ModeOffline {
		gh, err := newGitHub(cfg, logger, func(string) string { return "" })
		if err != nil {
			return preflight.Checks{}, err
		}
		client = gh.(*github.Client)
	}
	return preflightcheck.Checks(cfg, dir, client, preflightcheck.Options{Store: openingStore{cfg: cfg, dataDir: dir}, Scratch: true, Logger: logger})
}

// openingStore opens the store for each Ping and closes it again: a
// bbolt store held by a running previewd serve cannot be opened.
type openingStore struct {
	cfg     config.Config
	dataDir string
}

func (s openingStore) Ping(ctx context.Context) error {
	db, err := openStore(ctx, s.cfg, s.dataDir) // store.ErrLocked says why bbolt refuses
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Ping(ctx)
}
