package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"

	preview "github.com/previewd/previewd"
)

// appAuth is the App mode of a Client: the App's JWT for /app and
// installation look-ups, and one endpoint per installation whose
// ghinstallation transport caches its token and refreshes it a minute
// before it expires.
type appAuth struct {
	appID     int64
	key       []byte // the PEM, parsed again for each installation's transport
	jwt       *endpoint
	newAPI    func(rt http.RoundTripper) (func() *gh.Client, error)
	transport http.RoundTripper // the caller's, shared by every installation
	tokenURL  string            // BaseURL without its trailing slash, as ghinstallation wants it
	retry     RetryPolicy
	logger    *slog.Logger

	mu            sync.Mutex
	repos         map[string]int64 // lower-case owner/name → installation ID
	installations map[int64]*endpoint
}

// NewApp returns a Client that authenticates as the GitHub App cfg.AppID:
// an RS256 JWT for the App's own calls and an installation token for each
// call on a repository. It returns an error when AppID is not positive, the
// key cannot be read or parsed (the error never quotes the key), Render is
// nil, or BaseURL is not an absolute http(s) URL. Token is not read. It
// sends no request.
func NewApp(cfg Config) (*Client, error) {
	if cfg.Render == nil {
		return nil, errors.New("new github app: Render is required")
	}
	if cfg.AppID <= 0 {
		return nil, fmt.Errorf("new github app: app ID must be positive, got %d", cfg.AppID)
	}
	key := bytes.Clone(cfg.PrivateKeyPEM)
	if len(key) == 0 {
		if cfg.PrivateKeyFile == "" {
			return nil, errors.New("new github app: a private key (PEM or file) is required")
		}
		var err error
		if key, err = os.ReadFile(cfg.PrivateKeyFile); err != nil {
			return nil, fmt.Errorf("new github app: read private key: %w", err)
		}
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("new github app: %w", err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	transport := hc.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	apps, err := ghinstallation.NewAppsTransport(transport, cfg.AppID, key)
	if err != nil {
		return nil, fmt.Errorf("new github app %d: %w", cfg.AppID, err)
	}
	a := &appAuth{
		appID:         cfg.AppID,
		key:           key,
		transport:     transport,
		tokenURL:      strings.TrimSuffix(base.String(), "/"),
		retry:         cfg.Retry,
		repos:         map[string]int64{},
		installations: map[int64]*endpoint{},
		newAPI: func(rt http.RoundTripper) (func() *gh.Client, error) {
			return newAPI(hc, rt, base, cfg.UserAgent, "")
		},
	}
	apps.BaseURL = a.tokenURL
	jwtAPI, err := a.newAPI(apps)
	if err != nil {
		return nil, fmt.Errorf("new github app: %w", err)
	}
	a.jwt = &endpoint{api: jwtAPI, limits: newLimiter(cfg.Retry)}
	c := newClient(cfg.Render, cfg.Logger, logLinker(cfg.PublicURL, cfg.LogLink), base)
	c.noticeDeclared = cfg.NoticeDeclared
	a.logger = c.logger
	c.app = a
	return c, nil
}

// endpointFor returns installation id's endpoint, or when id is zero the
// endpoint of the installation that serves repo, looked up once with
// GET /repos/{owner}/{repo}/installation. An id given is remembered for
// repo. A repository the App is not installed on is an error with code
// not_found.
func (a *appAuth) endpointFor(ctx context.Context, repo string, id int64) (*endpoint, error) {
	if id != 0 {
		a.remember(repo, id)
		return a.installation(id)
	}
	if id = a.cachedInstallation(repo); id != 0 {
		return a.installation(id)
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	var inst *gh.Installation
	err = a.jwt.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
		inst, _, err = api.Apps.FindRepositoryInstallation(ctx, owner, name)
		return err
	})
	if isNotFound(err) {
		return nil, &apiError{preview.Errorf(preview.ENOTFOUND, "the GitHub App is not installed on %s", repo), err}
	} else if err != nil {
		return nil, fmt.Errorf("find the App's installation on %s: %w", repo, classify(err))
	}
	if inst.GetID() == 0 {
		return nil, preview.Errorf(preview.EINTERNAL, "GitHub named no installation for %s", repo)
	}
	a.remember(repo, inst.GetID())
	a.logger.Debug("installation found", "repo", repo, "installation_id", inst.GetID())
	return a.installation(inst.GetID())
}

func (a *appAuth) remember(repo string, id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.repos[strings.ToLower(repo)] = id
}

// cachedInstallation returns the installation known to serve repo, or 0.
func (a *appAuth) cachedInstallation(repo string) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.repos[strings.ToLower(repo)]
}

// forget drops what is known of installation id, after GitHub refused it a
// token (the App was uninstalled or suspended), so the next call looks the
// repository's installation up again.
func (a *appAuth) forget(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.installations, id)
	for repo, known := range a.repos {
		if known == id {
			delete(a.repos, repo)
		}
	}
}

// installation returns installation id's endpoint, made on first use.
func (a *appAuth) installation(id int64) (*endpoint, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ep, ok := a.installations[id]; ok {
		return ep, nil
	}
	// Each installation gets its own AppsTransport: ghinstallation writes
	// to the one it refreshes tokens with, so sharing one would race.
	tr, err := ghinstallation.New(a.transport, a.appID, id, a.key)
	if err != nil {
		return nil, fmt.Errorf("installation %d: %w", id, err)
	}
	tr.BaseURL = a.tokenURL
	// An empty object asks for the installation's own permissions and
	// repositories; left nil, ghinstallation would send the body "null".
	tr.InstallationTokenOptions = &gh.InstallationTokenOptions{}
	api, err := a.newAPI(tr)
	if err != nil {
		return nil, fmt.Errorf("installation %d: %w", id, err)
	}
	ep := &endpoint{api: api, limits: newLimiter(a.retry), token: tr.Token}
	ep.limits.onTokenRefused = func() { a.forget(id) }
	a.installations[id] = ep
	return ep, nil
}

// Repositories returns the full names ("owner/name") of every repository of
// every installation of the App, sorted, skipping suspended installations:
// GET /app/installations, then GET /installation/repositories with each
// installation's token, 100 at a time. In token mode, where GitHub cannot
// say which repositories previewd serves, it returns an error with code
// invalid. It blocks for one request per page.
func (c *Client) Repositories(ctx context.Context) ([]string, error) {
	if c.app == nil {
		return nil, errTokenRepositories
	}
	installs, err := c.app.listInstallations(ctx)
	if err != nil {
		return nil, err
	}
	var repos []string
	for _, inst := range installs {
		if inst.SuspendedAt != nil {
			c.logger.Info("installation suspended; its repositories are skipped", "installation_id", inst.GetID(), "account", inst.GetAccount().GetLogin())
			continue
		}
		names, err := c.app.listRepositories(ctx, inst.GetID())
		if err != nil {
			return nil, err
		}
		repos = append(repos, names...)
	}
	slices.Sort(repos)
	return slices.Compact(repos), nil
}

// errTokenRepositories is Repositories' answer in token mode.
var errTokenRepositories = preview.Errorf(preview.EINVALID,
	"in token mode GitHub cannot say which repositories previewd serves: list them in the configuration (repos)")

func (a *appAuth) listInstallations(ctx context.Context) ([]*gh.Installation, error) {
	opts := &gh.ListOptions{PerPage: 100}
	var all []*gh.Installation
	for {
		var (
			page []*gh.Installation
			resp *gh.Response
		)
		err := a.jwt.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
			page, resp, err = api.Apps.ListInstallations(ctx, opts)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list the App's installations: %w", classify(err))
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// listRepositories returns the repositories installation id may access,
// remembering that id serves them.
func (a *appAuth) listRepositories(ctx context.Context, id int64) ([]string, error) {
	ep, err := a.installation(id)
	if err != nil {
		return nil, err
	}
	opts := &gh.ListOptions{PerPage: 100}
	var names []string
	for {
		var (
			page *gh.ListRepositories
			resp *gh.Response
		)
		err := ep.do(ctx, read, func(ctx context.Context, api *gh.Client) (err error) {
			page, resp, err = api.Apps.ListRepos(ctx, opts)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list the repositories of installation %d: %w", id, classify(err))
		}
		for _, r := range page.Repositories {
			if name := r.GetFullName(); name != "" {
				names = append(names, name)
				a.remember(name, id)
			}
		}
		if resp.NextPage == 0 {
			return names, nil
		}
		opts.Page = resp.NextPage
	}
}
