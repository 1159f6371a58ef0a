// Package github is previewd's GitHub REST client: it keeps previewd's one
// comment on each pull request current, shows each environment as a GitHub
// deployment and a "previewd" commit status, answers comment commands
// (permission checks, reactions, replies), reports each repository's
// production drift in one issue, and reads pull requests and repositories
// for the resync loop. It speaks to api.github.com or a GitHub
// Enterprise Server through go-github, authenticated with a token or as a
// GitHub App (installation tokens through ghinstallation), rides out rate
// limits as GitHub documents them. CommentData says what the comment shows
// of an environment; how it is worded is the templates package's, and the
// caller injects the Render function that words it.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// DefaultBaseURL is the REST base URL of github.com.
const DefaultBaseURL = "https://api.github.com/"

// MaxCommentLength is the longest comment body GitHub accepts, in
// characters. SyncComment and Reply refuse longer bodies before sending
// anything.
const MaxCommentLength = 65536

// defaultTimeout bounds one HTTP exchange when the caller gives no client.
const defaultTimeout = 30 * time.Second

// Config configures a Client: in token mode (NewClient), which reads
// Token, or in GitHub App mode (NewApp), which reads AppID and the key;
// both read the rest.
type Config struct {
	// BaseURL is the REST base URL: DefaultBaseURL when empty, or a GitHub
	// Enterprise Server's, e.g. https://ghe.example.com/api/v3/. A missing
	// trailing slash is added. In App mode, App JWT calls and installation
	// tokens use it too.
	BaseURL string

	// Token (token mode), when set, is sent as "Authorization: Bearer
	// <token>". Leave it empty when HTTPClient authenticates by itself.
	Token string

	// AppID (App mode) is the App's numeric ID (its JWT's issuer).
	AppID int64
	// PrivateKeyPEM (App mode) is the App's RSA private key in PEM, as
	// GitHub issues it. When empty, PrivateKeyFile is read instead.
	PrivateKeyPEM []byte
	// PrivateKeyFile (App mode) is the path of the PEM file, read once by
	// NewApp.
	PrivateKeyFile string

	// HTTPClient sends the requests; a client with a 30 s timeout when nil.
	// Its Timeout bounds one request, not the waits between retries. It is
	// copied, never modified; in App mode its Transport is shared by every
	// installation.
	HTTPClient *http.Client
	// Render turns an environment into the comment body. The body's first
	// line must be a hidden marker (<!-- … -->) unique to the environment:
	// SyncComment finds a comment it lost track of by that line. Required.
	Render func(preview.Environment) (string, error)
	// Logger receives debug logs of what was sent; nothing when nil.
	Logger *slog.Logger
	// UserAgent is sent with every request; "previewd" when empty.
	UserAgent string
	// PublicURL is previewd's external base URL, from which deployment
	// statuses and commit statuses link to run logs (see LogURL). No link
	// is sent when empty.
	PublicURL string
	// LogLink, when set, makes the link to a run's log from a run ID
	// instead of LogURL(PublicURL, …): previewd passes signed links.
	LogLink func(runID string) string
	// Retry says how rate limits, 5xx answers and network errors are
	// retried; the zero value means the defaults. In App mode each
	// installation has its own limits.
	Retry RetryPolicy
	// NoticeDeclared (App mode) annotates declared differences too, at
	// the notice level, on the previewd/parity check run.
	NoticeDeclared bool
}

// Client talks to GitHub's REST API, in token mode (NewClient) or as a
// GitHub App (NewApp). It is safe for concurrent use, but two Sync calls of
// the same kind for the same environment must not run at once, or both may
// create a comment or a deployment. Mutating requests are serialised per
// installation (per client in token mode).
type Client struct {
	render  func(preview.Environment) (string, error)
	logger  *slog.Logger
	logLink func(runID string) string
	base    *url.URL

	token *endpoint // token mode
	app   *appAuth  // App mode

	noticeDeclared bool // see Config.NoticeDeclared
}

// endpoint is one set of credentials: the token, the App's JWT, or one
// installation's tokens, with the rate limits GitHub keeps for it.
type endpoint struct {
	api    func() *gh.Client
	limits *limiter
	// token returns the credential the endpoint's requests carry, for git
	// over HTTPS.
	token func(ctx context.Context) (string, error)
}

// do runs fn against e's API under e's rate-limit rules (see limiter.do).
func (e *endpoint) do(ctx context.Context, kind callKind, fn func(ctx context.Context, api *gh.Client) error) error {
	return e.limits.do(ctx, kind, func(ctx context.Context) error { return fn(ctx, e.api()) })
}

// NewClient returns a Client in token mode for cfg (App fields are not
// read). It returns an error when Render is nil or BaseURL is not an
// absolute http(s) URL. It sends no request.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Render == nil {
		return nil, errors.New("new github client: Render is required")
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("new github client: %w", err)
	}
	api, err := newAPI(cfg.HTTPClient, nil, base, cfg.UserAgent, strings.TrimSpace(cfg.Token))
	if err != nil {
		return nil, fmt.Errorf("new github client: %w", err)
	}
	c := newClient(cfg.Render, cfg.Logger, logLinker(cfg.PublicURL, cfg.LogLink), base)
	token := strings.TrimSpace(cfg.Token)
	c.token = &endpoint{api: api, limits: newLimiter(cfg.Retry), token: func(context.Context) (string, error) { return token, nil }}
	return c, nil
}

// logLinker returns link, or the admin API's log URL under publicURL.
func logLinker(publicURL string, link func(string) string) func(string) string {
	if link != nil {
		return link
	}
	return func(runID string) string { return LogURL(publicURL, runID) }
}

func newClient(render func(preview.Environment) (string, error), logger *slog.Logger, logLink func(string) string, base *url.URL) *Client {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{render: render, logger: logger.With("component", "github"), logLink: logLink, base: base}
}

// newAPI returns a maker of go-github clients of base that send through a
// copy of hc (a 30 s client when nil) with transport rt when non-nil, and
// the token when non-empty. Each call gets a fresh client: go-github v60
// remembers rate limits per client and refuses requests before a reset on
// its own, and that check cannot be turned off; with a fresh client the
// limiter alone decides when to wait.
func newAPI(hc *http.Client, rt http.RoundTripper, base *url.URL, userAgent, token string) (func() *gh.Client, error) {
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	if userAgent == "" {
		userAgent = "previewd"
	}
	httpClient := *hc
	if rt != nil {
		httpClient.Transport = rt
	}
	return func() *gh.Client {
		c := gh.NewClient(&httpClient)
		if token != "" {
			c = c.WithAuthToken(token)
		}
		u := *base
		c.BaseURL, c.UserAgent = &u, userAgent
		return c
	}, nil
}

// endpointFor returns the credentials for a call on repo: the token in
// token mode; in App mode the installation installationID, or when it is
// zero the installation looked up for repo (and cached).
func (c *Client) endpointFor(ctx context.Context, repo string, installationID int64) (*endpoint, error) {
	if c.app == nil {
		return c.token, nil
	}
	return c.app.endpointFor(ctx, repo, installationID)
}

// parseBaseURL parses raw (DefaultBaseURL when empty) and ends its path with
// a slash, as go-github requires.
func parseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want an absolute http or https URL", raw)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// repoPart matches an owner or a repository name as GitHub allows them.
var repoPart = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)

// splitRepo splits "owner/name". It refuses anything that is not a plain
// owner and name, since both end up in request paths unescaped.
func splitRepo(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || !repoPart.MatchString(owner) || !repoPart.MatchString(name) || name == "." || name == ".." || owner == "." || owner == ".." {
		return "", "", preview.Errorf(preview.EINVALID, "repository %q is not owner/name", repo)
	}
	return owner, name, nil
}

// apiError is an error from GitHub that also carries the previewd error code
// callers act on (preview.ErrorCode): not_found, unauthorized, invalid,
// conflict, or unavailable for what a later retry may cure. Its text is the
// go-github error's: method, URL, status and message; never a header.
type apiError struct {
	code *preview.Error
	err  error
}

func (e *apiError) Error() string   { return e.err.Error() }
func (e *apiError) Unwrap() []error { return []error{e.err, e.code} }

// classify attaches a previewd error code to an error from go-github.
func classify(err error) error {
	var (
		limited   *rateLimitError
		rateLimit *gh.RateLimitError
		abuse     *gh.AbuseRateLimitError
		token     *ghinstallation.HTTPError
		resp      *gh.ErrorResponse
	)
	switch {
	case errors.As(err, &limited):
		return &apiError{limited.code(), err}
	case errors.As(err, &rateLimit), errors.As(err, &abuse):
		return &apiError{preview.Errorf(preview.EUNAVAILABLE, "GitHub rate limit exceeded"), err}
	case errors.As(err, &token) && token.Response != nil:
		status := token.Response.StatusCode
		return &apiError{preview.Errorf(statusCode(status), "GitHub refused an installation token for installation %d: %d %s",
			token.InstallationID, status, http.StatusText(status)), err}
	case errors.As(err, &resp) && resp.Response != nil:
		status := resp.Response.StatusCode
		return &apiError{preview.Errorf(statusCode(status), "GitHub answered %d %s", status, http.StatusText(status)), err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{preview.Errorf(preview.EUNAVAILABLE, "GitHub request interrupted"), err}
	default:
		return &apiError{preview.Errorf(preview.EUNAVAILABLE, "GitHub could not be reached"), err}
	}
}

func statusCode(status int) string {
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		return preview.ENOTFOUND
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return preview.EUNAUTHORIZED
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		return preview.EINVALID
	case status == http.StatusConflict:
		return preview.ECONFLICT
	case status == http.StatusTooManyRequests || status >= 500:
		return preview.EUNAVAILABLE
	default:
		return preview.EINTERNAL
	}
}

// isNotFound reports whether GitHub answered 404 (or 410) to the request.
func isNotFound(err error) bool {
	var resp *gh.ErrorResponse
	return errors.As(err, &resp) && resp.Response != nil &&
		(resp.Response.StatusCode == http.StatusNotFound || resp.Response.StatusCode == http.StatusGone)
}

// ptr returns a pointer to v, for go-github's optional fields.
func ptr[T any](v T) *T { return &v }
