// Command previewd gives every pull request its own preview environment,
// built by terraform apply from the same module as production. Its
// subcommands are listed once, in commands: `previewd help` prints them.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/previewd/previewd/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one of previewd's subcommands.
type command struct {
	name     string // "store" for previewd store …
	synopsis string // its arguments, as usage and its --help show them
	what     string // what usage says of it, a line each
	run      func(args []string, stdout, stderr io.Writer) int
}

// commands are previewd's subcommands, as run dispatches to them and usage
// lists them.
func commands() []command {
	return []command{
		{"serve", "[--config FILE]", "run the service (config also from PREVIEWD_CONFIG)", serveCommand},
		{"parity", "--config FILE --repo owner/name [--json]",
			"check that previews differ from production only where declared\n(exit 0 parity, 1 undeclared drift, 2 error)", parityCommand},
		{"check", "[--config FILE] [--json] [--timeout DURATION]", "check the App, installations, modules, state backends, engine\n" +
			"and store before the first pull request (exit 0 ok, 1 failed, 2 error)", checkCommand},
		{"backup", "--out FILE [--url URL | --data-dir DIR]", "copy the database, online (admin API) or offline", backupCommand},
		{"store", "migrate --from DATA_DIR --to postgres://…", "copy a stopped previewd's bbolt store into PostgreSQL", storeCommand},
		{"setup", "[--org ORG] [--out DIR | --kubernetes] [--public-url URL] [--config FILE]",
			"register the GitHub App from a manifest, in one click", setupCommand},
		{"version", "", "print the version", versionCommand},
	}
}

// usageOf is the usage line of the command named name ("serve", "store
// migrate"): previewd, its name and its synopsis.
func usageOf(name string) string {
	for _, c := range commands() {
		if line := strings.TrimSpace("previewd " + c.name + " " + c.synopsis); strings.HasPrefix(line+" ", "previewd "+name+" ") {
			return line
		}
	}
	return "previewd " + name
}

// run executes a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "--version", "-v":
		name = "version"
	case "help", "-h", "--help":
		if len(args) > 1 && args[1] != "help" && !strings.HasPrefix(args[1], "-") { // previewd help serve
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "previewd: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// usage lists the commands, each described from column 36.
func usage(w io.Writer) {
	fmt.Fprint(w, "previewd gives every pull request its own preview environment.\n\nUsage:\n")
	const indent = "                                   "
	for _, c := range commands() {
		line := "  " + strings.TrimSpace("previewd "+c.name+" "+c.synopsis)
		if len(line) > len(indent)-2 {
			fmt.Fprintln(w, line)
			line = ""
		}
		for _, what := range strings.Split(c.what, "\n") {
			fmt.Fprintf(w, "%-*s%s\n", len(indent), line, what)
			line = ""
		}
	}
	fmt.Fprint(w, `
previewd COMMAND --help (or previewd help COMMAND) lists a command's flags.
Every setting can be set in the YAML file or by a PREVIEWD_* environment
variable, which wins. See docs/configuration.md for the reference.
`)
}

// newFlags returns the flag set of a subcommand, whose usage starts with
// its usage line (usageOf) and what the command does, then lists its
// flags.
func newFlags(name, what string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n", usageOf(name), what)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses a subcommand's args. -h or --help prints the usage
// and the flags to stdout and returns flag.ErrHelp, which the command
// answers with exit status 0; any other problem is printed with the usage
// to the flag set's output (stderr) and returned.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	errOut := fs.Output()
	var out bytes.Buffer
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(errOut)
	if errors.Is(err, flag.ErrHelp) {
		errOut = stdout
	}
	errOut.Write(out.Bytes())
	return err
}

// flagsExit is the exit status of a command whose flags did not parse:
// 0 when help was asked for, else 2.
func flagsExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

func versionCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "Prints previewd's version.", stderr)
	if err := parseFlags(fs, args, stdout); err != nil {
		return flagsExit(err)
	}
	fmt.Fprintln(stdout, "previewd", version)
	return 0
}

func serveCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve",
		"Runs the service. Every setting comes from the YAML file or a PREVIEWD_* variable,\nwhich wins; see docs/configuration.md.", stderr)
	configPath := fs.String("config", os.Getenv("PREVIEWD_CONFIG"), "YAML configuration `file` (default $PREVIEWD_CONFIG)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return flagsExit(err)
	}
	cfg, err := config.Load(*configPath, os.LookupEnv)
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

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
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
