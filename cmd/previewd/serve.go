package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/github"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/internal/databasewatch"
	"github.com/previewd/previewd/internal/paritycheck"
	"github.com/previewd/previewd/internal/preflightcheck"
	"github.com/previewd/previewd/internal/productionwatch"
	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/preflight"
	"github.com/previewd/previewd/provisioner"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/store"
	"github.com/previewd/previewd/store/postgres"
	"github.com/previewd/previewd/templates"
	"github.com/previewd/previewd/webhooks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// service is previewd's running pieces, as serve builds them.
type service struct {
	cfg      *config.Config
	logger   *slog.Logger
	dataDir  string
	tfBin    string
	db       serviceStore
	pg       *postgres.DB // the store, when replicas share it
	prov     *provisioner.Provisioner
	gh       gitHub
	reg      *prometheus.Registry
	gauges   *server.EnvironmentGauges
	ctrl     *controller.Controller
	srv      *server.Server
	observed observedStore
	// startup, with startup_checks, runs previewd check's checks once.
	startup       *preflight.Startup
	startupChecks preflight.Checks
}

// serve runs previewd until ctx is cancelled, then stops in order: no new
// HTTP requests, running Terraform interrupted and waited for (bounded by
// the shutdown timeout), the store closed. It serves on l, or listens on
// cfg.ListenAddr when l is nil.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, l net.Listener) error {
	s := &service{cfg: &cfg, logger: logger}
	dataDir, err := openDataDir(cfg)
	if err != nil {
		return err
	}
	s.dataDir = dataDir
	if s.db, err = openStore(ctx, cfg, dataDir); err != nil {
		return err
	}
	defer s.db.Close()
	s.pg, _ = s.db.(*postgres.DB)
	if err := s.build(ctx); err != nil {
		return err
	}
	if l == nil {
		if l, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
			return fmt.Errorf("listen_addr: %w", err)
		}
	}
	var scrapes net.Listener // /metrics alone, with metrics_listen_addr
	if cfg.MetricsListenAddr != "" {
		if scrapes, err = net.Listen("tcp", cfg.MetricsListenAddr); err != nil {
			return fmt.Errorf("metrics_listen_addr: %w", err)
		}
		logger.Info("metrics listening", "addr", scrapes.Addr().String(), "token", cfg.MetricsToken != "")
	}
	logger.Info("previewd listening", "addr", l.Addr().String(), "data_dir", dataDir, "terraform", s.tfBin,
		"github", github.Mode(cfg.GitHub.AppID, cfg.GitHub.Token), "version", version)
	return s.run(ctx, l, scrapes)
}

// build constructs the pieces over the open store: the provisioner, the
// GitHub client, the module resolver, the metrics, the controller and the
// HTTP server.
func (s *service) build(ctx context.Context) error {
	cfg := s.cfg
	pc, err := cfg.Terraform.Provisioner(s.dataDir)
	if err != nil {
		return err
	}
	pc.WaitDelay, pc.Logger, s.tfBin = cfg.StopDelay(), s.logger, pc.TerraformBin
	if s.prov, err = provisioner.New(pc); err != nil {
		return err
	}
	links, logLink, err := logLinks(ctx, *cfg, s.db)
	if err != nil {
		return err
	}
	if s.gh, err = newGitHub(*cfg, s.logger, logLink); err != nil {
		return err
	}
	var gitToken func(ctx context.Context, repo string) (string, error)
	if client, ok := s.gh.(*github.Client); ok {
		gitToken = client.GitToken
	}
	cfg.UseResolver(modules.NewResolver(s.dataDir, cfg.GitHub.APIURL, gitToken))

	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pricing := cfg.Pricing()
	// Every environment is read once at start: the gauges count them, and
	// the controller's recovery takes them up.
	envs, err := s.db.FindEnvironments(ctx, preview.EnvironmentFilter{})
	if err != nil {
		return fmt.Errorf("read environments: %w", err)
	}
	s.gauges = server.NewEnvironmentGauges(pricing, time.Now)
	s.gauges.Count(envs)
	s.reg.MustRegister(s.gauges)
	s.observed = observedStore{serviceStore: s.db, gauges: s.gauges} // what this process writes moves the gauges
	s.ctrl = controller.New(s.observed, terraform{p: s.prov, cfg: cfg}, s.gh, s.controllerConfig())
	s.ctrl.RecoverFrom(envs)
	server.RegisterControllerMetrics(s.reg, s.ctrl)
	if cfg.StartupChecks {
		client, _ := s.gh.(*github.Client) // nil offline
		if s.startupChecks, err = preflightcheck.Checks(*cfg, s.dataDir, client, preflightcheck.Options{Logger: s.logger}); err != nil {
			return err
		}
		s.startupChecks.Timeout = time.Minute
		s.startup = &preflight.Startup{}
	}
	s.srv = server.New(s.serverConfig(pricing, links))
	return nil
}

// controllerConfig is the controller's configuration from previewd's.
func (s *service) controllerConfig() controller.Config {
	cfg := s.cfg
	ctrlCfg := controller.Config{
		Runs: controller.RunsConfig{
			MaxConcurrent: cfg.MaxConcurrentRuns,
			MaxAttempts:   cfg.MaxAttempts,
			RetryBase:     cfg.RetryBase,
			LogDir:        filepath.Join(s.dataDir, "logs"),
			DataDir:       s.dataDir,
		},
		Expiry: controller.ExpiryConfig{TTL: cfg.TTL, MaxKeep: cfg.MaxKeep},
		Checks: controller.ChecksConfig{PollInterval: cfg.CheckPollInterval},
		Parity: controller.ParityConfig{MaxConcurrent: cfg.MaxConcurrentChecks,
			Checker: parity.NewLive(paritycheck.Planner{P: s.prov, Module: moduleOf(cfg)}, cfg).WithProduction(s.db)},
		Production: controller.ProductionConfig{Watcher: productionwatch.Watcher{Config: cfg, Prov: s.prov}, Store: s.db, Issues: s.gh},
		Resync:     controller.ResyncConfig{Interval: cfg.ResyncInterval, MaxDestroys: cfg.MaxResyncDestroys, Allowed: cfg.Serves},
		Redelivery: controller.RedeliveryConfig{Interval: cfg.RedeliveryInterval},
		Modules:    controller.ModulesConfig{PollInterval: cfg.ModulePollInterval, Versions: moduleVersions{cfg}},
		Databases:  databasewatch.Watches{Config: cfg, Prov: s.prov},
		LeaseTTL:   cfg.LeaseTTL,
		Metrics:    server.NewRunMetrics(s.reg),
		Budgets:    cfg,
		Commands:   s.gh,
		Logger:     s.logger,
	}
	if s.pg != nil { // leases, and logs every replica serves
		ctrlCfg.Leases, ctrlCfg.Runs.Logs = s.pg, s.pg
	}
	if client, ok := s.gh.(*github.Client); ok { // offline mode has no pull requests to read
		ctrlCfg.Resync.PullRequests = client
		ctrlCfg.Resync.Repos = resyncRepos(*cfg, client)
		ctrlCfg.Checks.Required = requiredChecks{cfg: cfg, client: client}
		if cfg.GitHub.AppID != 0 { // the delivery log is the App's
			ctrlCfg.Redelivery.Deliveries = client
		}
	}
	return ctrlCfg
}

// serverConfig is the HTTP server's configuration from previewd's.
func (s *service) serverConfig(pricing preview.Pricing, links *server.LogLinks) server.Config {
	cfg := s.cfg
	pages := server.Pages{Pricing: pricing, GitHubAPIURL: cfg.GitHub.APIURL, Modules: terraform{p: s.prov, cfg: cfg}}
	sc := server.Config{
		Addr:         cfg.ListenAddr,
		AdminToken:   cfg.AdminToken,
		TTL:          cfg.TTL,
		Operate:      preview.OperateRules{TTL: cfg.TTL, MaxKeep: cfg.MaxKeep, MaxAttempts: cfg.MaxAttempts},
		Store:        s.observed,
		Deliveries:   webhooks.NewIntake([]byte(cfg.WebhookSecret), s.observed, cfg.Serves),
		Controller:   s.ctrl,
		Registry:     s.reg,
		Dashboard:    pages.Dashboard,
		Environment:  pages.Environment,
		Login:        templates.RenderLogin,
		Stylesheets:  templates.Stylesheets(),
		PublicURL:    cfg.PublicURL,
		LogLinks:     links,
		Pricing:      pricing,
		Gauges:       s.gauges,
		Logger:       s.logger,
		MetricsToken: cfg.MetricsToken,
		MetricsAddr:  cfg.MetricsListenAddr,
	}
	if watched := cfg.WatchedProduction(); len(watched) > 0 {
		sc.Production, sc.ProductionPage, sc.GitHubAPIURL = productionWatches{s.db, cfg}, pages.Production, cfg.GitHub.APIURL
	}
	if s.pg != nil {
		sc.Logs = s.pg
	}
	if s.startup != nil {
		sc.Preflight = preflightcheck.Readiness(s.startup)
	}
	return sc
}

// run serves on l (and /metrics on scrapes, if any) and runs the
// controller until ctx ends or either stops, then shuts down in order.
func (s *service) run(ctx context.Context, l, scrapes net.Listener) error {
	logger := s.logger
	ctrlCtx, stopCtrl := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCtrl()
	ctrlDone := make(chan error, 1)
	go func() { ctrlDone <- s.ctrl.Run(ctrlCtx) }()
	if s.startup != nil {
		go s.startup.Run(ctrlCtx, s.startupChecks, logger)
	}
	if s.pg != nil { // other replicas' webhooks and commands wake this one too
		go s.pg.Listen(ctrlCtx, s.ctrl.Nudge)
		go s.gauges.ReloadEvery(ctrlCtx, s.db, s.cfg.LeaseTTL, logger) // and what they write reaches this one's gauges
		logger.Info("sharing the database with any other replicas", "holder", s.pg.Holder(), "lease_ttl", s.cfg.LeaseTTL)
	}
	srvDone := make(chan error, 2)
	go func() { srvDone <- s.srv.Serve(l) }()
	if scrapes != nil {
		go func() { srvDone <- s.srv.ServeMetrics(scrapes) }()
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "timeout", s.cfg.ShutdownTimeout)
	case err := <-srvDone:
		shutdownHTTP(s.srv, logger) // the other listener
		stopCtrl()
		<-ctrlDone
		return fmt.Errorf("http server: %w", err)
	case err := <-ctrlDone:
		shutdownHTTP(s.srv, logger)
		if err == nil {
			err = errors.New("controller stopped")
		}
		return err
	}
	shutdownHTTP(s.srv, logger)
	stopCtrl()
	select {
	case err := <-ctrlDone:
		if err != nil {
			return err
		}
	case <-time.After(s.cfg.ShutdownTimeout):
		return fmt.Errorf("runs did not stop within %s", s.cfg.ShutdownTimeout)
	}
	logger.Info("stopped cleanly")
	return nil
}

func shutdownHTTP(srv *server.Server, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
}

// logLinks returns how runs' logs are linked from GitHub: signed, expiring
// links served at /logs/ (log_links: signed, the default), or the admin
// API's log route, which needs the admin token (log_links: admin). Without a
// public_url there are no links. Signed links take their key from keys.
func logLinks(ctx context.Context, cfg config.Config, keys server.Keys) (*server.LogLinks, func(string) string, error) {
	if cfg.LogLinks != "signed" {
		return nil, func(runID string) string { return github.LogURL(cfg.PublicURL, runID) }, nil
	}
	key, err := server.LogLinkKey(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	links := server.NewLogLinks(key, cfg.PublicURL, cfg.LogLinkTTL)
	return links, links.Link, nil
}

// gitHub is what previewd needs of GitHub, online or offline.
type gitHub interface {
	controller.GitHub
	controller.Commander
	controller.ProductionIssues
}

// newGitHub returns the App-mode or token-mode client, or offline mode when
// neither is configured.
func newGitHub(cfg config.Config, logger *slog.Logger, logLink func(string) string) (gitHub, error) {
	pricing := cfg.Pricing()
	render := func(env preview.Environment) (string, error) {
		return templates.RenderComment(github.CommentData(env, logLink, pricing))
	}
	gc := github.Config{
		BaseURL: cfg.GitHub.APIURL, Token: cfg.GitHub.Token, AppID: cfg.GitHub.AppID, PrivateKeyFile: cfg.GitHub.AppPrivateKeyFile,
		Render: render, Logger: logger, UserAgent: "previewd/" + version, PublicURL: cfg.PublicURL, LogLink: logLink,
		NoticeDeclared: cfg.GitHub.NoticeDeclared,
	}
	switch github.Mode(cfg.GitHub.AppID, cfg.GitHub.Token) {
	case github.ModeApp:
		return github.NewApp(gc)
	case github.ModeToken:
		return github.NewClient(gc)
	default:
		return github.NewOffline(render, logger), nil
	}
}

// resyncRepos lists the repositories resync reads: the configured ones, and
// in App mode every repository of every installation.
func resyncRepos(cfg config.Config, client *github.Client) func(context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		names := cfg.RepoNames()
		if cfg.GitHub.AppID == 0 {
			return names, nil
		}
		installed, err := client.Repositories(ctx)
		return append(names, installed...), err
	}
}

// productionWatches are production's watches as the admin API and the
// dashboard show them: the store's, for the repositories watched.
type productionWatches struct {
	controller.ProductionStore
	cfg *config.Config
}

// Watched is each watched repository's interval.
func (p productionWatches) Watched() map[string]time.Duration { return p.cfg.WatchedProduction() }

// serviceStore is what the service needs of its store: bbolt's or
// PostgreSQL's, which keep the same contract (store/storetest).
type serviceStore interface {
	controller.Store
	controller.ProductionStore
	server.Store
	webhooks.Recorder
	server.Keys
	Close() error
}

// openDataDir returns cfg's data directory, absolute, created if need be.
func openDataDir(cfg config.Config) (string, error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err == nil {
		err = os.MkdirAll(dir, 0o750)
	}
	if err != nil {
		return "", fmt.Errorf("data_dir: %w", err)
	}
	return dir, nil
}

// openStore opens the store cfg names: bbolt in dataDir (one process per
// file), or PostgreSQL, held by this process alone until environments are
// leased to replicas.
func openStore(ctx context.Context, cfg config.Config, dataDir string) (serviceStore, error) {
	if cfg.Store.Driver != "postgres" {
		return store.Open(filepath.Join(dataDir, "previewd.db"), store.Options{
			NameMax: cfg.NameMaxLength, TTL: cfg.TTL, MaxKeep: cfg.MaxKeep, Drafts: cfg.Drafts,
		})
	}
	db, err := postgres.Open(ctx, cfg.Store.URL, postgres.Options{NameMax: cfg.NameMaxLength, TTL: cfg.TTL, MaxKeep: cfg.MaxKeep, Drafts: cfg.Drafts})
	if err != nil {
		return nil, err
	}
	return db, nil
}

// requiredChecks gives the controller each repository's wait_for_checks
// (config.Config.RequiredChecks) and reads them from GitHub.
type requiredChecks struct {
	cfg    *config.Config
	client *github.Client
}

func (r requiredChecks) Required(repo string) ([]string, time.Duration) {
	return r.cfg.RequiredChecks(repo)
}

func (r requiredChecks) Read(ctx context.Context, env preview.Environment) (map[string]preview.CheckState, error) {
	return r.client.Checks(ctx, env)
}
