// Package github is previewd's GitHub REST client: it keeps previewd's one
// comment on each pull request current and reads pull requests for the
// resync loop. It speaks to api.github.com or a GitHub Enterprise Server
// through go-github, and knows nothing of how a comment is worded: the
// caller injects a Render function.
package github

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// DefaultBaseURL is the REST base URL of github.com.
const DefaultBaseURL = "https://api.github.com/"

// MaxCommentLength is the longest comment body GitHub accepts, in
// characters. SyncComment refuses longer bodies before sending anything.
const MaxCommentLength = 65536

// defaultTimeout bounds one HTTP exchange when the caller gives no client.
const defaultTimeout = 30 * time.Second

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL is the REST base URL: DefaultBaseURL when empty, or a GitHub
	// Enterprise Server's, e.g. https://ghe.example.com/api/v3/. A missing
	// trailing slash is added.
	BaseURL string
	// Token, when set, is sent as "Authorization: Bearer <token>". Leave it
	// empty when HTTPClient authenticates by itself (GitHub App mode).
	Token string
	// HTTPClient sends the requests; a client with a 30 s timeout when nil.
	// It is copied, never modified.
	HTTPClient *http.Client
	// Render turns an environment into the comment body. The body's first
	// line must be a hidden marker (<!-- … -->) unique to the environment:
	// SyncComment finds a comment it lost track of by that line. Required.
	Render func(preview.Environment) (string, error)
	// Logger receives debug logs of what was sent; nothing when nil.
	Logger *slog.Logger
	// UserAgent is sent with every request; "previewd" when empty.
	UserAgent string
}

// Client talks to GitHub's REST API. It is safe for concurrent use, but two
// SyncComment calls for the same environment must not run at once, or both
// may create a comment.
type Client struct {
	gh     *gh.Client
	render func(preview.Environment) (string, error)
	logger *slog.Logger
}

// NewClient returns a Client for cfg. It returns an error when Render is nil
// or BaseURL is not an absolute http(s) URL. It sends no request.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Render == nil {
		return nil, errors.New("new github client: Render is required")
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("new github client: %w", err)
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultTimeout}
	}
	client := gh.NewClient(httpClient)
	if token := strings.TrimSpace(cfg.Token); token != "" {
		client = client.WithAuthToken(token)
	}
	client.BaseURL = base
	client.UserAgent = cfg.UserAgent
	if client.UserAgent == "" {
		client.UserAgent = "previewd"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{gh: client, render: cfg.Render, logger: logger.With("component", "github")}, nil
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

// splitRepo splits "owner/name".
func splitRepo(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
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
		resp      *gh.ErrorResponse
		rateLimit *gh.RateLimitError
		abuse     *gh.AbuseRateLimitError
	)
	switch {
	case errors.As(err, &rateLimit), errors.As(err, &abuse):
		return &apiError{preview.Errorf(preview.EUNAVAILABLE, "GitHub rate limit exceeded"), err}
	case errors.As(err, &resp) && resp.Response != nil:
		status := resp.Response.StatusCode
		return &apiError{preview.Errorf(statusCode(status), "GitHub answered %d %s", status, http.StatusText(status)), err}
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
