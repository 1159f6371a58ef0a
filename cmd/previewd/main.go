// Command previewd gives every pull request its own preview environment,
// built by terraform apply from the same module as production.
//
// Usage:
//
//	previewd serve [--config FILE]    run the service
//	previewd backup --out FILE        copy the database (--url for a running one)
//	previewd store migrate            copy a bbolt store into PostgreSQL
//	previewd version                  print the version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serveCommand(args[1:], stderr)
	case "parity":
		return parityCommand(args[1:], stdout, stderr)
	case "backup":
		return backupCommand(args[1:], stdout, stderr)
	case "store":
		return storeCommand(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "previewd", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "previewd: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `previewd gives every pull request its own preview environment.

Usage:
  previewd serve [--config FILE]   run the service (config also from PREVIEWD_CONFIG)
  previewd parity --config FILE --repo owner/name [--json]
                                   check that previews differ from production only where declared
                                   (exit 0 parity, 1 undeclared drift, 2 error)
  previewd backup --out FILE [--url URL | --data-dir DIR]
                                   copy the database, online (admin API) or offline
  previewd store migrate --from DATA_DIR --to postgres://…
                                   copy a stopped previewd's bbolt store into PostgreSQL
  previewd version                 print the version

Every setting can be set in the YAML file or by a PREVIEWD_* environment
variable, which wins. See docs/configuration.md for the reference.
`)
}

func serveCommand(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("PREVIEWD_CONFIG"), "YAML configuration `file`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := LoadConfig(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(stderr, "previewd:", err)
		return 2
	}
	logger := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, logger, nil); err != nil {
		logger.Error("previewd stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
