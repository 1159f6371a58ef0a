package modules

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	preview "github.com/previewd/previewd"
	"golang.org/x/sync/singleflight"
)

// Source is a module named in Terraform's module-source syntax for git:
// "git::https://github.com/acme/infra.git//stacks/shop?ref=main", or
// "git::file:///srv/git/infra.git?ref=v1.4.0".
type Source struct {
	// URL is the repository (https, http or file), never with credentials.
	URL string
	// Subdir is the module's directory in the repository; "" for its root.
	Subdir string
	// Ref is a branch, a tag or a full commit SHA; "" for the remote's
	// default branch.
	Ref string
}

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// ParseSource reads s. It refuses what it cannot fetch safely: a source
// that is not git::, a scheme other than https, http and file, credentials
// in the URL (give a token instead: see Fetcher.Token), a subdirectory
// leaving the repository, and query arguments other than ref.
func ParseSource(s string) (Source, error) {
	rest, ok := strings.CutPrefix(s, "git::")
	if !ok {
		return Source{}, fmt.Errorf("module source %q: only git:: sources are supported", s)
	}
	rest, query, _ := strings.Cut(rest, "?")
	u, err := url.Parse(rest)
	if err != nil {
		return Source{}, fmt.Errorf("module source %q: %w", s, err)
	}
	switch u.Scheme {
	case "https", "http", "file":
	default:
		return Source{}, fmt.Errorf("module source %q: scheme %q: use https, http or file", s, u.Scheme)
	}
	if u.User != nil {
		return Source{}, fmt.Errorf("module source %q: credentials in the URL: previewd fetches with the GitHub token, never from the URL", redactUser(s))
	}
	src := Source{}
	// The module's directory follows a second "//" in the path.
	if repo, sub, found := strings.Cut(u.Path, "//"); found {
		u.Path = repo
		if slices.Contains(strings.Split(sub, "/"), "..") {
			return Source{}, fmt.Errorf("module source %q: the subdirectory leaves the repository", s)
		}
		src.Subdir = path.Clean("/" + sub)[1:]
	}
	if u.Path == "" || u.Path == "/" {
		return Source{}, fmt.Errorf("module source %q: no repository path", s)
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return Source{}, fmt.Errorf("module source %q: %w", s, err)
	}
	for k := range values {
		if k != "ref" {
			return Source{}, fmt.Errorf("module source %q: argument %q is not supported (only ref)", s, k)
		}
	}
	src.Ref = values.Get("ref")
	if problem := refProblem(src.Ref); problem != "" {
		return Source{}, fmt.Errorf("module source %q: %s", s, problem)
	}
	u.RawQuery, u.Fragment = "", ""
	src.URL = u.String()
	return src, nil
}

// refProblem says why ref cannot name a module's commit; "" when it can.
// HEAD is refused: anyone who can push may create a branch or a tag of
// that name, and the default branch is what a source without a ref names.
func refProblem(ref string) string {
	switch {
	case strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, " \t\n:^~?*[\\"):
		return fmt.Sprintf("%q is not a branch, tag or commit", ref)
	case ref == "HEAD":
		return "ref=HEAD could name a branch or a tag called HEAD: leave ref out to follow the default branch"
	}
	return ""
}

func redactUser(s string) string {
	return regexp.MustCompile(`//[^/@]*@`).ReplaceAllString(s, "//…@")
}

// String is the source in Terraform's syntax.
func (s Source) String() string {
	out := "git::" + s.URL
	if s.Subdir != "" {
		out += "//" + s.Subdir
	}
	if s.Ref != "" {
		out += "?ref=" + url.QueryEscape(s.Ref)
	}
	return out
}

// Fetcher fetches modules from git repositories with the git CLI, once per
// commit: each commit's tree is kept read-only under Dir and shared by every
// environment built from it.
type Fetcher struct {
	// Dir holds the fetched repositories and trees (DATA_DIR/modules).
	Dir string
	// Token returns the token to fetch an https or http repository with,
	// "" for none. It reaches git through its environment as an
	// Authorization header, never in a URL or on a command line.
	Token func(ctx context.Context, repoURL string) (string, error)
	// Git is the git binary (default "git", from PATH).
	Git string

	mu       sync.Mutex
	repos    map[string]*sync.Mutex // per repository: one fetch at a time
	checkout singleflight.Group
}

// Resolve returns the commit src.Ref names in the repository now; a full
// commit SHA is itself. With Ref "", it is the tip of the default branch:
// the branch the repository's HEAD points to, never a branch or a tag
// named HEAD. A ref refProblem refuses is an EINVALID error.
func (f *Fetcher) Resolve(ctx context.Context, src Source) (string, error) {
	if problem := refProblem(src.Ref); problem != "" {
		return "", preview.Errorf(preview.EINVALID, "resolve %s: %s", src, problem)
	}
	if fullSHA.MatchString(src.Ref) {
		return src.Ref, nil
	}
	if src.Ref == "" {
		return f.resolveDefaultBranch(ctx, src)
	}
	ref := src.Ref
	found, err := f.lsRemote(ctx, src, ref, "refs/heads/"+ref, "refs/tags/"+ref, "refs/tags/"+ref+"^{}")
	if err != nil {
		return "", err
	}
	// A branch and a tag of one name: whoever can push either (tags are
	// rarely protected) would choose which module runs. Refused; a full
	// ref name (refs/tags/v1.4.0) says which is meant.
	_, branch := found["refs/heads/"+ref]
	_, tag := found["refs/tags/"+ref]
	if branch && tag {
		return "", preview.Errorf(preview.EINVALID, "resolve %s: %q names both a branch and a tag: write ref=refs/heads/%s or ref=refs/tags/%s", src, ref, ref, ref)
	}
	// A peeled annotated tag names the commit.
	for _, name := range []string{"refs/heads/" + ref, "refs/tags/" + ref + "^{}", "refs/tags/" + ref, ref} {
		if sha, ok := found[name]; ok {
			return sha, nil
		}
	}
	return "", preview.Errorf(preview.EINVALID, "resolve %s: no branch or tag %q in the repository", src, src.Ref)
}

// resolveDefaultBranch returns the commit the repository's HEAD names
// through its symbolic ref, the default branch. ls-remote's pattern HEAD
// also matches refs/heads/HEAD and refs/tags/HEAD, which anyone who can
// push may create: only the line for HEAD itself counts.
func (f *Fetcher) resolveDefaultBranch(ctx context.Context, src Source) (string, error) {
	var out bytes.Buffer
	if err := f.git(ctx, src.URL, "", &out, nil, "ls-remote", "--symref", "--", src.URL, "HEAD"); err != nil {
		return "", fmt.Errorf("resolve %s: %w", src, err)
	}
	branch, commit := "", ""
	for _, line := range strings.Split(out.String(), "\n") {
		value, name, ok := strings.Cut(line, "\t")
		if !ok || name != "HEAD" {
			continue
		}
		if target, ok := strings.CutPrefix(value, "ref: "); ok {
			branch = target
		} else {
			commit = value
		}
	}
	if !strings.HasPrefix(branch, "refs/heads/") || !fullSHA.MatchString(commit) {
		return "", preview.Errorf(preview.EINVALID, "resolve %s: the repository's HEAD names no branch to follow", src)
	}
	return commit, nil
}

// lsRemote returns the refs of src's repository matching patterns, by name.
func (f *Fetcher) lsRemote(ctx context.Context, src Source, patterns ...string) (map[string]string, error) {
	var out bytes.Buffer
	if err := f.git(ctx, src.URL, "", &out, nil, append([]string{"ls-remote", "--", src.URL}, patterns...)...); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", src, err)
	}
	found := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if sha, name, ok := strings.Cut(line, "\t"); ok {
			found[name] = sha
		}
	}
	return found, nil
}

// Checkout returns the directory holding the repository of src at commit:
// fetched (only that commit, shallow) and unpacked the first time, then
// kept read-only and returned again. The module itself is
// filepath.Join(dir, src.Subdir), which must exist.
func (f *Fetcher) Checkout(ctx context.Context, src Source, commit string) (string, error) {
	if !fullSHA.MatchString(commit) {
		return "", fmt.Errorf("checkout %s: %q is not a commit SHA", src, commit)
	}
	dir := filepath.Join(f.Dir, "trees", urlKey(src.URL), commit)
	v, err, _ := f.checkout.Do(dir, func() (any, error) {
		if _, err := os.Stat(dir); err == nil {
			return dir, nil
		}
		return dir, f.fetchTree(ctx, src, commit, dir)
	})
	if err != nil {
		return "", fmt.Errorf("checkout %s at %s: %w", src, preview.ShortSHA(commit), err)
	}
	dir = v.(string)
	if info, err := os.Stat(filepath.Join(dir, src.Subdir)); err != nil || !info.IsDir() {
		return "", preview.Errorf(preview.EINVALID, "checkout %s at %s: the repository has no directory %q", src, preview.ShortSHA(commit), src.Subdir)
	}
	return dir, nil
}

// fetchTree fetches commit into the repository's bare cache and unpacks its
// tree into dir, through a temporary directory renamed into place.
func (f *Fetcher) fetchTree(ctx context.Context, src Source, commit, dir string) error {
	bare := filepath.Join(f.Dir, "repos", urlKey(src.URL)+".git")
	unlock := f.lockRepo(bare)
	defer unlock()
	if _, err := os.Stat(filepath.Join(bare, "HEAD")); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(bare, 0o700); err != nil {
			return err
		}
		if err := f.git(ctx, "", bare, io.Discard, nil, "init", "--quiet", "--bare", bare); err != nil {
			return err
		}
	}
	if err := f.git(ctx, "", bare, io.Discard, nil, "cat-file", "-e", commit+"^{commit}"); err != nil {
		// Objects are checked as they arrive: a malformed tree (two
		// entries of one name, a path through a link) is refused.
		err := f.git(ctx, src.URL, bare, io.Discard, nil, "-c", "transfer.fsckObjects=true", "fetch", "--quiet", "--depth=1", "--no-tags", "--", src.URL, commit)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".new-")
	if err != nil {
		return err
	}
	defer func() {
		makeWritable(tmp)
		os.RemoveAll(tmp)
	}()
	// Checked out as a clone would (as Terraform's own git:: fetch does),
	// with an index of its own: git writes no file through a link.
	index := tmp + ".index"
	defer os.Remove(index)
	env := []string{"GIT_INDEX_FILE=" + index}
	if err := f.git(ctx, "", bare, io.Discard, env, "--work-tree="+tmp, "read-tree", commit); err != nil {
		return fmt.Errorf("read tree: %w", err)
	}
	if err := f.git(ctx, "", bare, io.Discard, env, "--work-tree="+tmp, "checkout-index", "--all", "--force"); err != nil {
		return fmt.Errorf("check out: %w", err)
	}
	if err := makeReadOnly(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

func (f *Fetcher) lockRepo(bare string) func() {
	f.mu.Lock()
	if f.repos == nil {
		f.repos = map[string]*sync.Mutex{}
	}
	m, ok := f.repos[bare]
	if !ok {
		m = &sync.Mutex{}
		f.repos[bare] = m
	}
	f.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// git runs the git CLI with args in dir ("" for Dir), stdout to stdout,
// with nothing from the user's or the system's git configuration and no
// prompt; with repoURL set and a token for it, the token goes in an
// Authorization header through git's environment. Errors carry git's
// stderr, with the token redacted.
func (f *Fetcher) git(ctx context.Context, repoURL, dir string, stdout io.Writer, env []string, args ...string) error {
	bin := f.Git
	if bin == "" {
		bin = "git"
	}
	if dir == "" {
		dir = f.Dir
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + f.Dir, "LANG=C",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true",
		"GIT_ALLOW_PROTOCOL=https:http:file", // never ext::, ssh or anything a URL could smuggle in
	}
	cmd.Env = append(cmd.Env, env...)
	var secrets preview.Secrets
	if repoURL != "" && !strings.HasPrefix(repoURL, "file:") && f.Token != nil {
		token, err := f.Token(ctx, repoURL)
		if err != nil {
			return fmt.Errorf("token for %s: %w", repoURL, err)
		}
		if token != "" {
			basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
			secrets = preview.NewSecrets(token, basic)
			cmd.Env = append(cmd.Env, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Basic "+basic)
		}
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("git %s: %v: %s", subcommandOf(args), err, secrets.Redact(msg))
	}
	return nil
}

// subcommandOf is git's subcommand in args, after its options.
func subcommandOf(args []string) string {
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-c":
			i++
		case !strings.HasPrefix(args[i], "-"):
			return args[i]
		}
	}
	return "command"
}

// urlKey names a repository's place in the cache.
func urlKey(repoURL string) string {
	sum := sha256.Sum256([]byte(repoURL))
	return hex.EncodeToString(sum[:10])
}

// makeReadOnly removes every write permission under dir, dir included.
func makeReadOnly(dir string) error {
	return chmodAll(dir, func(m fs.FileMode) fs.FileMode { return m &^ 0o222 })
}

// makeWritable gives the owner write permission under dir again, so it can
// be removed.
func makeWritable(dir string) {
	chmodAll(dir, func(m fs.FileMode) fs.FileMode { return m | 0o200 })
}

func chmodAll(dir string, mode func(fs.FileMode) fs.FileMode) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p) // directories last, deepest first
			return os.Chmod(p, mode(info.Mode().Perm())|0o700)
		}
		return os.Chmod(p, mode(info.Mode().Perm()))
	})
	for i := len(dirs) - 1; i >= 0 && err == nil; i-- {
		info, serr := os.Stat(dirs[i])
		if serr != nil {
			return serr
		}
		err = os.Chmod(dirs[i], mode(info.Mode().Perm()))
	}
	return err
}
