// Package server is previewd's HTTP face: the GitHub webhook route, the admin
// API under /api/v1, health and readiness probes, and Prometheus metrics. It
// maps preview error codes to HTTP status codes in one place.
package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	preview "github.com/previewd/previewd"
	"github.com/prometheus/client_golang/prometheus"
)

// MaxWebhookBody is the largest delivery accepted; GitHub caps payloads at
// 25 MiB.
const MaxWebhookBody = 25 << 20

// RunLogs reads the log of a run, as stored so far.
type RunLogs interface {
	RunLog(ctx context.Context, id string) (io.ReadCloser, error)
}

// Store is what the server reads and changes.
type Store interface {
	FindEnvironmentByName(ctx context.Context, name string) (preview.Environment, error)
	FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error)
	// ScanEnvironments calls fn with each selected environment's stored
	// encoding (valid during the call) and returns the next page's cursor.
	ScanEnvironments(ctx context.Context, filter preview.EnvironmentFilter, fn func(name string, data []byte) error) (next string, err error)
	UpdateEnvironment(ctx context.Context, name string, fn func(*preview.Environment) error) (preview.Environment, error)
	FindRuns(ctx context.Context, filter preview.RunFilter) ([]preview.Run, error)
	FindRunByID(ctx context.Context, id string) (preview.Run, error)
	Backup(ctx context.Context, w io.Writer) (int64, error)
	Ping(ctx context.Context) error
}

// Deliveries verifies GitHub deliveries and durably records what they
// change. Receive returns an EUNAUTHORIZED error for a bad signature and an
// EINVALID error for a body that is not the event it claims to be.
type Deliveries interface {
	// CheckHeaders refuses a delivery by its headers alone, before its
	// body is read: EUNAUTHORIZED for a signature that cannot be right,
	// EINVALID for a delivery ID that is not GitHub's.
	CheckHeaders(d preview.Delivery) error
	Receive(ctx context.Context, d preview.Delivery) (preview.Receipt, error)
}

// Controller is told about changed environments and queued commands.
type Controller interface {
	Nudge(name string)
	NudgeCommands()
	// NudgeChecks has the environments waiting on the checks of commit
	// read them again.
	NudgeChecks(commit preview.Commit)
	// NudgeModules has production's modules from git resolved again.
	NudgeModules()
	// CheckDrift queues a drift check of a ready environment now.
	CheckDrift(name string)
	// WatchProduction has repo's production looked at now, whatever its
	// interval (on the replica that leads). It never blocks.
	WatchProduction(repo string)
	Ready() bool
}

// Config configures a Server.
type Config struct {
	Addr       string
	AdminToken string        // empty disables the admin API
	TTL        time.Duration // an admin redeploy extends expiry by this much
	// Operate are the rules of operators' actions; TTL fills its TTL when
	// unset.
	Operate    preview.OperateRules
	Store      Store
	Deliveries Deliveries
	Controller Controller
	// Preflight, when set, is what /readyz reports of the start-up checks
	// (those of previewd check): ran is false until they have finished.
	Preflight func() (results []PreflightResult, ran bool)
	Registry  *prometheus.Registry // served at /metrics; nil serves an empty registry
	// Gauges, when set, are the environment gauges kept up to date with
	// every write (registered in Registry by the caller): the dashboard
	// takes its totals from them and reads only the environments it
	// lists, not every one. With replicas, what the others write counts
	// in the totals once the gauges reload, as in the metrics.
	Gauges *EnvironmentGauges
	// MetricsToken, when set, is the bearer token a scrape of /metrics
	// must present.
	MetricsToken string
	// MetricsAddr, when set, is the address /metrics is served on alone
	// (ServeMetrics); the main listener then does not serve it.
	MetricsAddr string
	// LogLinks serves signed log links at /logs/ (nil: no such route).
	LogLinks *LogLinks
	// Dashboard renders the operators' list at /dashboard (nil: no
	// dashboard) as q asks: from every environment, or with Gauges from
	// those q's filter selects and q.Totals. Environment renders one
	// environment's page, Login the login form; without them the
	// dashboard is the list alone.
	Dashboard   func(w io.Writer, envs []preview.Environment, q ListQuery) error
	Environment func(ctx context.Context, w io.Writer, env preview.Environment, runs []preview.Run, st PageState) error
	Login       func(w io.Writer, failed bool) error
	// ProductionPage renders the dashboard's production page at
	// /dashboard/production (nil: no such page, and the list does not
	// link it): each watched repository's recent watches, newest first.
	// It needs Environment and Login too, as the page acts.
	ProductionPage func(w io.Writer, repos []ProductionHistory, st PageState) error
	// Production is the watches of production /api/v1/production and the
	// production page show; nil shows none (the routes answer that no
	// repository is watched).
	Production ProductionWatches
	// GitHubAPIURL is GitHub's REST base URL: the API's links to GitHub
	// (a production drift issue) go to its web site, github.com or the
	// GitHub Enterprise Server's host ("" is github.com).
	GitHubAPIURL string
	// Stylesheets are the pages' stylesheets by file name, served at
	// /assets/NAME to anyone (the login page needs them).
	Stylesheets map[string][]byte
	// PublicURL is previewd's external URL: an https one marks session
	// cookies Secure.
	PublicURL string
	// Pricing prices environments (the zero Pricing prices none).
	Pricing preview.Pricing
	// Logs reads run logs kept in the store (several replicas); nil reads
	// the file at each run's LogPath.
	Logs   RunLogs
	Logger *slog.Logger
	Now    func() time.Time
	// BodyReadTimeout is how long a webhook body of up to 1 MiB, or of
	// unknown length until it passes 1 MiB, may take to arrive (default
	// 10s); larger ones get the server's 60s.
	BodyReadTimeout time.Duration
}

// Server serves HTTP. Create it with New.
type Server struct {
	cfg  Config
	echo *echo.Echo
	http *http.Server
	// scrapes serves /metrics alone when Config.MetricsAddr is set.
	scrapes     *echo.Echo
	scrapesHTTP *http.Server
	log         *slog.Logger
	metrics     *metrics
	token       [32]byte // sha256 of the admin token, compared in constant time
	// metricsToken is the sha256 of Config.MetricsToken.
	metricsToken [32]byte
	// sessionKey signs dashboard sessions and CSRF tokens; derived from
	// the admin token, so every replica shares it and rotating the token
	// ends every session.
	sessionKey [32]byte

	views    *views      // environments' API encodings
	bodies   *bodyBudget // webhook body bytes unauthenticated senders may hold
	refusals *logLimiter // bounds the log lines refused deliveries cost
	// credentials bounds the wrong credentials each client may present.
	credentials *credentialLimiter
}

// MaxHeaderBytes bounds a request's headers. GitHub's are a few hundred
// bytes; larger ones are refused with 431 before a handler runs.
const MaxHeaderBytes = 64 << 10

// New builds the routes. It does not listen until Serve.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Operate.TTL == 0 {
		cfg.Operate.TTL = cfg.TTL
	}
	if cfg.Operate.MaxKeep == 0 {
		cfg.Operate.MaxKeep = 30 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BodyReadTimeout <= 0 {
		cfg.BodyReadTimeout = 10 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "server"), views: newViews()}
	s.token = sha256.Sum256([]byte(cfg.AdminToken))
	s.metricsToken = sha256.Sum256([]byte(cfg.MetricsToken))
	s.sessionKey = sha256.Sum256([]byte("previewd dashboard sessions v1\x00" + cfg.AdminToken))
	s.metrics = newMetrics(cfg.Registry)
	s.bodies = newBodyBudget(s.metrics.bodyBytes)
	s.refusals = newLogLimiter(5, 20, cfg.Now)
	s.credentials = newCredentialLimiter(credentialMaxClients, cfg.Now)
	s.echo = s.newEcho()
	s.routes()
	s.http = s.newHTTPServer(cfg.Addr, s.echo)
	if cfg.MetricsAddr != "" {
		s.scrapes = s.newEcho()
		s.scrapes.GET("/metrics", s.handleMetrics())
		s.scrapesHTTP = s.newHTTPServer(cfg.MetricsAddr, s.scrapes)
	}
	return s
}

// newEcho makes a router that answers errors, observes and marks every
// answer like the others.
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.observe, securityHeaders)
	return e
}

// newHTTPServer serves h on addr with previewd's limits.
func (s *Server) newHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

func (s *Server) routes() {
	e := s.echo
	e.POST("/webhooks/github", s.handleWebhook)
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	if s.cfg.MetricsAddr == "" {
		e.GET("/metrics", s.handleMetrics())
	}

	if s.cfg.LogLinks != nil {
		e.GET("/logs/:name/:seq", s.handleSignedLog)
	}
	if s.cfg.Dashboard != nil {
		e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/dashboard") })
		e.GET("/dashboard", s.handleDashboard, s.requireViewer)
		e.GET("/assets/:name", s.handleAsset)
		if s.cfg.Environment != nil && s.cfg.Login != nil {
			e.GET("/login", s.handleLoginForm)
			e.POST("/login", s.handleLogin)
			e.POST("/logout", s.handleLogout, s.requireSession)
			e.GET("/dashboard/environments/:name", s.handleEnvironmentPage, s.requireViewer)
			e.POST("/dashboard/environments/:name/:verb", s.handleAction, s.requireSession)
			e.GET("/dashboard/environments/:name/runs/:seq/log", s.handleRunLog, s.requireViewer)
			if s.servesProductionPage() {
				e.GET("/dashboard/production", s.handleProductionPage, s.requireViewer)
				e.POST("/dashboard/production/:owner/:repo/watch", s.handleProductionAction, s.requireSession)
			}
		}
	}

	api := e.Group("/api/v1", s.requireAdmin)
	api.GET("/openapi.json", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, OpenAPI()) })
	api.GET("/environments", s.handleListEnvironments)
	api.GET("/environments/:name", s.handleGetEnvironment)
	api.POST("/environments/:name/redeploy", s.handleRedeploy)
	api.DELETE("/environments/:name", s.handleDestroy)
	api.POST("/environments/:name/extend", s.handleExtend)
	api.POST("/environments/:name/keep", s.handleKeep(true))
	api.POST("/environments/:name/unkeep", s.handleKeep(false))
	api.GET("/environments/:name/parity", s.handleParity)
	api.GET("/environments/:name/database", s.handleDatabase)
	api.POST("/environments/:name/drift-check", s.handleDriftCheck)
	api.GET("/environments/:name/runs", s.handleListRuns)
	api.GET("/environments/:name/runs/:seq/log", s.handleRunLog)
	api.GET("/production", s.handleListProduction)
	api.GET("/production/:owner/:repo", s.handleProductionWatches)
	api.POST("/production/:owner/:repo/watch", s.handleWatchProduction)
	api.GET("/backup", s.handleBackup)
}

// Routes returns the paths served, in OpenAPI's form ("/x/{name}").
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		out = append(out, strings.Join(parts, "/"))
	}
	return out
}

// Handler returns the HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.echo }

// Serve accepts connections on l until Shutdown. It returns nil after a
// clean shutdown.
func (s *Server) Serve(l net.Listener) error {
	if err := s.http.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeMetrics accepts scrapes of /metrics on l until Shutdown; it returns
// nil after a clean shutdown, and an error at once without a
// Config.MetricsAddr.
func (s *Server) ServeMetrics(l net.Listener) error {
	if s.scrapesHTTP == nil {
		return errors.New("serve metrics: no metrics address is configured")
	}
	if err := s.scrapesHTTP.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections, scrapes too, and waits for
// requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if s.scrapesHTTP != nil {
		err = errors.Join(err, s.scrapesHTTP.Shutdown(ctx))
	}
	return err
}

// securityHeaders marks every answer as not to be cached, framed or
// sniffed: the dashboard and logs show environments' state, and a shared
// cache or a framing page must never get them. Pages that render set a
// stricter Content-Security-Policy of their own; the rest allow nothing.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		return next(c)
	}
}

// codes maps preview error codes to HTTP status codes.
var codes = map[string]int{
	preview.ECONFLICT:     http.StatusConflict,
	preview.EINVALID:      http.StatusBadRequest,
	preview.ENOTFOUND:     http.StatusNotFound,
	preview.EUNAUTHORIZED: http.StatusUnauthorized,
	preview.EUNAVAILABLE:  http.StatusServiceUnavailable,
	preview.EINTERNAL:     http.StatusInternalServerError,
}

// handleError writes every error as JSON {"error": "..."}; internal errors
// are logged and shown as "internal error".
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		status, msg = he.Code, http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok {
			msg = m
		}
	case preview.ErrorCode(err) != preview.EINTERNAL:
		status, msg = codes[preview.ErrorCode(err)], preview.ErrorMessage(err)
	default:
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	if err := c.JSON(status, map[string]string{"error": msg}); err != nil {
		s.log.Warn("write error response", "err", err)
	}
}

func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(c echo.Context) error {
	if err := s.cfg.Store.Ping(c.Request().Context()); err != nil {
		return preview.Errorf(preview.EUNAVAILABLE, "store: %v", err)
	}
	if !s.cfg.Controller.Ready() {
		return preview.Errorf(preview.EUNAVAILABLE, "reconciler is not running")
	}
	body := map[string]any{"status": "ready"}
	if s.cfg.Preflight != nil {
		results, ran := s.cfg.Preflight()
		failed := []PreflightResult{}
		for _, r := range results {
			if r.Status == "fail" {
				failed = append(failed, r)
			}
		}
		body["preflight"] = map[string]any{"ran": ran, "checks": len(results), "failed": failed}
		if len(failed) > 0 {
			// Still ready: webhooks are taken and kept, and what the
			// failed checks name fails only the environments that need it.
			body["status"] = "degraded"
		}
	}
	return c.JSON(http.StatusOK, body)
}

// PreflightResult is one start-up check's outcome as /readyz reports it:
// what was checked, ok, warn or fail, the setting at fault and the fix.
type PreflightResult struct {
	Check   string `json:"check"`
	Status  string `json:"status"`
	Setting string `json:"setting,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Fix     string `json:"fix,omitempty"`
}
