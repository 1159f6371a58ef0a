package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/previewd/previewd/appsetup"
	"github.com/previewd/previewd/github"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/modules"
)

func setupCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("setup",
		"Registers previewd's GitHub App from a manifest: open the page it serves, confirm on GitHub,\n"+
			"and the App's ID, private key and webhook secret are written where previewd serve reads them.\n"+
			"The App's permissions follow the configuration; see docs/install.md.", stderr)
	configPath := fs.String("config", os.Getenv("PREVIEWD_CONFIG"), "YAML configuration `file` (default $PREVIEWD_CONFIG)")
	listen := fs.String("listen", "127.0.0.1:8090", "`address` of the setup page; GitHub sends the browser back to it")
	org := fs.String("org", "", "register the App in `ORG` (default: your user account)")
	out := fs.String("out", ".", "`directory` for the private key, the webhook secret and the configuration snippet")
	kube := fs.Bool("kubernetes", false, "print a Kubernetes Secret instead of writing files")
	force := fs.Bool("force", false, "write over existing files")
	name := fs.String("name", "previewd", "the App's `name` on GitHub (unique there)")
	publicURL := fs.String("public-url", "", "previewd's external `URL`, for the webhook (default: the configuration's public_url)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return flagsExit(err)
	}
	cfg, err := setupConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, "previewd setup:", err)
		return 2
	}
	if *publicURL == "" {
		*publicURL = cfg.PublicURL
	}
	if *publicURL == "" {
		fmt.Fprintln(stderr, "previewd setup: --public-url (or public_url) is required: GitHub sends webhooks to it")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	output := appsetup.Output{Dir: *out, Kubernetes: *kube, Force: *force}
	if cfg.GitHub.APIURL != github.DefaultBaseURL {
		output.APIURL = cfg.GitHub.APIURL
	}
	if err := runSetup(ctx, cfg, setupOptions{listen: *listen, org: *org, name: *name, publicURL: *publicURL, output: output}, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "previewd setup:", err)
		return 1
	}
	return 0
}

type setupOptions struct {
	listen, org, name, publicURL string
	output                       appsetup.Output
}

// runSetup wires the setup page to GitHub and serves it until the App is
// registered or ctx is done.
func runSetup(ctx context.Context, cfg config.Config, o setupOptions, stdout, stderr io.Writer) error {
	if err := o.output.Check(); err != nil {
		return fmt.Errorf("%w (--force writes over it)", err)
	}
	newApp, err := github.NewAppURL(cfg.GitHub.APIURL, o.org)
	if err != nil {
		return err
	}
	client, err := github.NewManifestClient(cfg.GitHub.APIURL, nil)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	features := cfg.Preflight(modules.NewResolver(cfg.DataDir, cfg.GitHub.APIURL, nil)).Features
	manifest := github.NewManifest(o.name, o.publicURL, features)
	manifest.RedirectURL = base + appsetup.CallbackPath
	h, err := appsetup.New(appsetup.Options{Manifest: manifest, NewAppURL: newApp, Output: o.output, Stdout: stdout,
		Convert: func(ctx context.Context, code string) (appsetup.Credentials, error) {
			c, err := client.ConvertManifest(ctx, code)
			return appsetup.Credentials(c), err
		}})
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(stderr, "previewd setup: open %s/ in a browser signed in to GitHub\n", base)
	return appsetup.Serve(ctx, ln, h)
}

// setupConfig loads the configuration file, checked as previewd parity
// checks it; without a file (setup comes first) the defaults and the
// PREVIEWD_* variables.
func setupConfig(path string) (config.Config, error) {
	if path != "" {
		return config.Read(path, os.LookupEnv, false)
	}
	cfg := config.Default()
	err := cfg.ApplyEnv(os.LookupEnv)
	return cfg, err
}
