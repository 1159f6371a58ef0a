package modules

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	preview "github.com/previewd/previewd"
)

// Setting is a repository's module as configured: a directory, or a
// source in git (Terraform's module-source syntax, or "base//DIR" for the
// pull request's own repository).
type Setting struct {
	Dir    string // module_dir
	Source string // module_source
}

// Module is the module an environment gets.
type Module struct {
	// Dir is the module's directory: Setting.Dir, or the module's
	// directory in a checkout.
	Dir string
	// Root is the checkout's tree holding Dir; "" for a module directory.
	Root string
	// Version names the source and commit; zero for a module directory.
	Version preview.ModuleVersion
}

// Resolver decides which module an environment gets, at which commit. For
// each module in git it keeps the commit the source's ref named when last
// resolved, with a read-only checkout of it: every run of the
// repository's environments uses it, and an apply resolves the ref again
// first (Follow), so each apply gets production's module as it is now.
type Resolver struct {
	fetcher *Fetcher
	host    string // GitHub's git host, for base sources
	scheme  string

	mu      sync.Mutex
	current map[string]Module // by source
}

// NewResolver fetches into dataDir/modules. apiURL is GitHub's REST API
// (api.github.com, or a GitHub Enterprise Server's /api/v3/): base sources
// and the token are for repositories on its git host. token gives the
// credential for a repository ("owner/name") there; it may be nil
// (offline mode: public or file repositories only).
func NewResolver(dataDir, apiURL string, token func(ctx context.Context, repo string) (string, error)) *Resolver {
	r := &Resolver{fetcher: &Fetcher{Dir: filepath.Join(dataDir, "modules")}, host: gitHost(apiURL), scheme: "https", current: map[string]Module{}}
	if u, err := url.Parse(apiURL); err == nil && u.Scheme != "" {
		r.scheme = u.Scheme
	}
	if token != nil {
		r.fetcher.Token = func(ctx context.Context, repoURL string) (string, error) {
			repo, ok := githubRepo(repoURL, r.host)
			// Only to GitHub's host, and never over plain http unless the
			// API itself is served so (a GitHub Enterprise Server on http).
			if u, err := url.Parse(repoURL); !ok || err != nil || (u.Scheme != "https" && u.Scheme != r.scheme) {
				return "", nil
			}
			return token(ctx, repo)
		}
	}
	return r
}

// Resolve returns the module env gets with s. A module directory is
// itself. A source is at the commit env.Module names (the one env was
// applied with, or the one an apply resolved just before), so a destroy
// or a check runs the module that made the environment; an environment
// with none yet gets the source's current commit, resolved first if need
// be. A checkout not on disk yet is fetched with ctx.
func (r *Resolver) Resolve(ctx context.Context, env preview.Environment, s Setting) (Module, error) {
	if s.Source == "" {
		return Module{Dir: s.Dir}, nil
	}
	source := r.SourceFor(env, s)
	if env.Module.Source == source && env.Module.Commit != "" {
		m, err := r.at(ctx, source, env.Module.Commit)
		if err != nil {
			return Module{}, fmt.Errorf("module of %s: %w", env.Repo, err)
		}
		return m, nil
	}
	if m, ok := r.get(source); ok {
		return m, nil
	}
	return r.Follow(ctx, env, s)
}

// Follow resolves the ref of the source env follows with s now, fetches
// that commit if need be, and makes it the source's current module: what
// an apply runs and what the module polling compares with. A module
// directory is itself.
func (r *Resolver) Follow(ctx context.Context, env preview.Environment, s Setting) (Module, error) {
	if s.Source == "" {
		return Module{Dir: s.Dir}, nil
	}
	source := r.SourceFor(env, s)
	src, err := ParseSource(source)
	if err != nil {
		return Module{}, preview.Errorf(preview.EINVALID, "%v", err)
	}
	commit, err := r.fetcher.Resolve(ctx, src)
	if err != nil {
		return Module{}, fmt.Errorf("module of %s: %w", env.Repo, err)
	}
	m, err := r.checkout(ctx, src, commit)
	if err != nil {
		return Module{}, fmt.Errorf("module of %s: %w", env.Repo, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.current[source] = m
	return m, nil
}

// at returns source's module at commit, fetched if need be (by commit:
// the ref may have moved, or be gone).
func (r *Resolver) at(ctx context.Context, source, commit string) (Module, error) {
	src, err := ParseSource(source)
	if err != nil {
		return Module{}, preview.Errorf(preview.EINVALID, "%v", err)
	}
	return r.checkout(ctx, src, commit)
}

func (r *Resolver) checkout(ctx context.Context, src Source, commit string) (Module, error) {
	root, err := r.fetcher.Checkout(ctx, src, commit)
	if err != nil {
		return Module{}, err
	}
	return Module{Dir: filepath.Join(root, src.Subdir), Root: root, Version: preview.ModuleVersion{Source: src.String(), Ref: src.Ref, Commit: commit}}, nil
}

func (r *Resolver) get(source string) (Module, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.current[source]
	return m, ok
}

// baseSource is the module source taking the module from the pull
// request's own repository at its default branch; "base//DIR" names the
// module's directory in it.
const baseSource = "base"

// BaseDir returns the "//DIR" part of a base source; ok is false for any
// other source.
func BaseDir(source string) (rest string, ok bool) {
	rest, ok = strings.CutPrefix(source, baseSource)
	return rest, ok && (rest == "" || strings.HasPrefix(rest, "//"))
}

// SourceFor is the module source env follows with s: s.Source, or for
// "base" the pull request's own repository on GitHub at its default
// branch (what production runs): never the pull request's head, nor
// another base branch it names, which its author chooses. A pull request
// must not change the module that runs with previewd's credentials.
func (r *Resolver) SourceFor(env preview.Environment, s Setting) string {
	rest, ok := BaseDir(s.Source)
	if !ok {
		return s.Source
	}
	return "git::" + r.scheme + "://" + r.host + "/" + env.Repo + ".git" + rest // no ref: the default branch
}

// ValidSource checks a module_source setting: a git source, or base with
// a directory inside the repository.
func ValidSource(s string) error {
	if rest, ok := BaseDir(s); ok {
		if strings.Contains(rest, "?") || slices.Contains(strings.Split(rest, "/"), "..") {
			return fmt.Errorf("%q: base takes a directory inside the repository (base//infra/shop) and no arguments", s)
		}
		return nil
	}
	_, err := ParseSource(s)
	return err
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
