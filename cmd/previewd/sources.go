package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/provisioner"
)

// moduleSources keeps, for each module kept in git (module_source), the
// commit its ref named when last resolved and that commit's read-only
// checkout: every run of the repository's environments uses it. An apply
// resolves the ref again first, so each apply gets production's module as
// it is now.
type moduleSources struct {
	fetcher *provisioner.Fetcher

	mu      sync.Mutex
	current map[string]checkout // by source
}

type checkout struct {
	version preview.ModuleVersion
	root    string // the repository's tree at version.Commit
	dir     string // the module in it
}

// newModuleSources fetches into dataDir/modules, with token giving the
// credential for a repository on the GitHub whose API is at apiURL (its
// repositories on github.com for api.github.com, or on a GitHub Enterprise
// Server's own host). token may be nil (offline mode: public or file
// repositories only).
func newModuleSources(dataDir, apiURL string, token func(ctx context.Context, repo string) (string, error)) *moduleSources {
	f := &provisioner.Fetcher{Dir: filepath.Join(dataDir, "modules")}
	if token != nil {
		host := gitHost(apiURL)
		scheme := "https"
		if u, err := url.Parse(apiURL); err == nil && u.Scheme != "" {
			scheme = u.Scheme
		}
		f.Token = func(ctx context.Context, repoURL string) (string, error) {
			repo, ok := githubRepo(repoURL, host)
			// Only to GitHub's host, and never over plain http unless the
			// API itself is served so (a GitHub Enterprise Server on http).
			if u, err := url.Parse(repoURL); !ok || err != nil || (u.Scheme != "https" && u.Scheme != scheme) {
				return "", nil
			}
			return token(ctx, repo)
		}
	}
	return &moduleSources{fetcher: f, current: map[string]checkout{}}
}

// githubRepo returns "owner/name" for a repository URL on host.
func githubRepo(repoURL, host string) (string, bool) {
	u, err := url.Parse(repoURL)
	if err != nil || !strings.EqualFold(u.Host, host) {
		return "", false
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(u.Path, ".git"), "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", false
	}
	return parts[0] + "/" + parts[1], true
}

// gitHost is the host GitHub serves repositories on for an API base URL:
// github.com for api.github.com, the server's own host for GitHub
// Enterprise Server (https://HOST/api/v3/).
func gitHost(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil {
		return ""
	}
	if strings.EqualFold(u.Host, "api.github.com") {
		return "github.com"
	}
	return u.Host
}

// refresh resolves source's ref now, fetches that commit if needed, and
// makes it the current checkout of source.
func (m *moduleSources) refresh(ctx context.Context, source string) (checkout, error) {
	src, err := provisioner.ParseSource(source)
	if err != nil {
		return checkout{}, preview.Errorf(preview.EINVALID, "%v", err)
	}
	commit, err := m.fetcher.Resolve(ctx, src)
	if err != nil {
		return checkout{}, err
	}
	root, err := m.fetcher.Checkout(ctx, src, commit)
	if err != nil {
		return checkout{}, err
	}
	co := checkout{version: preview.ModuleVersion{Source: src.String(), Ref: src.Ref, Commit: commit}, root: root, dir: filepath.Join(root, src.Subdir)}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.current[source] = co
	return co, nil
}

// at returns source's checkout at commit, fetched if need be (by commit:
// the ref may have moved, or be gone); with commit "", the current one.
func (m *moduleSources) at(ctx context.Context, source, commit string) (checkout, error) {
	if commit == "" {
		return m.ensure(ctx, source)
	}
	src, err := provisioner.ParseSource(source)
	if err != nil {
		return checkout{}, preview.Errorf(preview.EINVALID, "%v", err)
	}
	root, err := m.fetcher.Checkout(ctx, src, commit)
	if err != nil {
		return checkout{}, err
	}
	return checkout{version: preview.ModuleVersion{Source: src.String(), Ref: src.Ref, Commit: commit}, root: root, dir: filepath.Join(root, src.Subdir)}, nil
}

// ensure returns source's current checkout, resolving it first if it has
// none yet (after a start).
func (m *moduleSources) ensure(ctx context.Context, source string) (checkout, error) {
	if co, ok := m.get(source); ok {
		return co, nil
	}
	return m.refresh(ctx, source)
}

func (m *moduleSources) get(source string) (checkout, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	co, ok := m.current[source]
	return co, ok
}

// moduleVersions tells the controller which version of its production
// module each repository's environments must run.
type moduleVersions struct{ cfg *Config }

// Current resolves the module source env follows now (and makes that
// commit the current checkout); the zero version for a module directory.
func (m moduleVersions) Current(ctx context.Context, env preview.Environment) (preview.ModuleVersion, error) {
	r, ok := m.cfg.repo(env.Repo)
	if !ok || r.ModuleSource == "" || m.cfg.sources == nil {
		return preview.ModuleVersion{}, nil
	}
	co, err := m.cfg.sources.refresh(ctx, m.cfg.sourceFor(r, env))
	return co.version, err
}
