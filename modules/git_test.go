package modules

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/gittest"
)

func TestParseSource(t *testing.T) {
	good := []struct {
		in   string
		want Source
	}{
		{"git::https://github.com/acme/infra.git//stacks/shop?ref=main", Source{"https://github.com/acme/infra.git", "stacks/shop", "main"}},
		{"git::https://github.com/acme/infra.git", Source{"https://github.com/acme/infra.git", "", ""}},
		{"git::file:///srv/git/infra.git?ref=v1.4.0", Source{"file:///srv/git/infra.git", "", "v1.4.0"}},
		{"git::file:///srv/git/infra.git//a/./b/?ref=release/2026", Source{"file:///srv/git/infra.git", "a/b", "release/2026"}},
	}
	for _, g := range good {
		got, err := ParseSource(g.in)
		if err != nil || got != g.want {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v", g.in, got, err, g.want)
		}
		if again, err := ParseSource(got.String()); err != nil || again != got {
			t.Errorf("%q does not read back: %+v, %v", got.String(), again, err)
		}
	}
	bad := []struct{ in, want string }{
		{"github.com/acme/infra//stacks/shop", "only git:: sources"},
		{"git::ssh://git@github.com/acme/infra.git", `scheme "ssh"`},
		{"git::https://x-access-token:ghs_secret@github.com/acme/infra.git", "credentials in the URL"},
		{"git::https://github.com/acme/infra.git//../../etc", "leaves the repository"},
		{"git::https://github.com/acme/infra.git?ref=main&depth=1", `argument "depth"`},
		{"git::https://github.com/acme/infra.git?ref=--upload-pack=evil", "is not a branch, tag or commit"},
		{"git::https://github.com/acme/infra.git?ref=HEAD", "leave ref out to follow the default branch"},
	}
	for _, b := range bad {
		_, err := ParseSource(b.in)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseSource(%q) = %v; want an error saying %q", b.in, err, b.want)
		}
		if err != nil && strings.Contains(err.Error(), "ghs_secret") {
			t.Errorf("the error shows the credentials: %v", err)
		}
	}
}

// gitRepo makes a repository holding a module at stacks/shop, with a
// commit tagged v1 and a newer one on main, and returns a bare clone of it
// and both commits.
func gitRepo(t *testing.T) (bare, v1, v2 string) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	run := func(dir string, args ...string) string { t.Helper(); return gittest.Git(t, dir, args...) }
	writeTree(t, src, map[string]string{"stacks/shop/main.tf": "variable \"environment\" {}\n# v1\n", "modules/web/main.tf": "# shared\n"})
	run(src, "init", "-q", "-b", "main")
	run(src, "add", ".")
	run(src, "commit", "-qm", "v1")
	run(src, "tag", "-a", "v1", "-m", "v1")
	v1 = run(src, "rev-parse", "HEAD")
	writeTree(t, src, map[string]string{"stacks/shop/main.tf": "variable \"environment\" {}\n# v2\n"})
	run(src, "commit", "-qam", "v2")
	v2 = run(src, "rev-parse", "HEAD")
	bare = filepath.Join(dir, "infra.git")
	run(dir, "clone", "-q", "--bare", src, bare)
	return bare, v1, v2
}

// TestFetcherFromAFileRepository resolves a tag and a branch, checks each
// commit out once into a read-only tree, and returns the same tree again
// without fetching.
func TestFetcherFromAFileRepository(t *testing.T) {
	bare, v1, v2 := gitRepo(t)
	f := &Fetcher{Dir: t.TempDir()}
	ctx := context.Background()
	for ref, want := range map[string]string{"v1": v1, "main": v2, "": v2, v1: v1} {
		src, err := ParseSource("git::file://" + bare + "//stacks/shop?ref=" + ref)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Resolve(ctx, src)
		if err != nil || got != want {
			t.Errorf("resolve %q: %s, %v; want %s", ref, got, err, want)
		}
	}
	src, _ := ParseSource("git::file://" + bare + "//stacks/shop?ref=v1")
	dir, err := f.Checkout(ctx, src, v1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "stacks", "shop", "main.tf"))
	if err != nil || !strings.Contains(string(b), "# v1") {
		t.Fatalf("checked out %q, %v; want v1's main.tf", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "modules", "web", "main.tf")); err != nil {
		t.Errorf("the rest of the repository is missing (local module calls need it): %v", err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "stacks", "shop"), filepath.Join(dir, "stacks", "shop", "main.tf")} {
		if info, err := os.Stat(p); err != nil || info.Mode().Perm()&0o222 != 0 {
			t.Errorf("%s is writable (%v)", p, err)
		}
	}
	os.RemoveAll(bare) // from now on, only the cache can answer
	again, err := f.Checkout(ctx, src, v1)
	if err != nil || again != dir {
		t.Errorf("second checkout: %s, %v; want the kept tree %s", again, err, dir)
	}
	if _, err := f.Checkout(ctx, src, v2); err == nil {
		t.Error("a commit never fetched was found without its repository")
	}
	missing := src
	missing.Subdir = "stacks/gone"
	if _, err := f.Checkout(ctx, missing, v1); err == nil || !strings.Contains(err.Error(), `no directory "stacks/gone"`) {
		t.Errorf("a missing module directory: %v", err)
	}
}

// TestDefaultBranchIsNeverARefNamedHEAD pushes, as anyone with push access
// could, a branch and then an annotated tag named HEAD holding another
// module: a source without a ref still resolves to the branch the
// repository's HEAD points to, and follows HEAD when it moves to another
// branch.
func TestDefaultBranchIsNeverARefNamedHEAD(t *testing.T) {
	bare, v1, v2 := gitRepo(t)
	run := func(dir string, args ...string) string { t.Helper(); return gittest.Git(t, dir, args...) }
	attacker := filepath.Join(t.TempDir(), "attacker")
	run(filepath.Dir(attacker), "clone", "-q", bare, attacker)
	writeTree(t, attacker, map[string]string{"stacks/shop/main.tf": "variable \"environment\" {}\n# evil\n"})
	run(attacker, "commit", "-qam", "evil")
	evil := run(attacker, "rev-parse", "HEAD")
	run(attacker, "tag", "-a", "evil", "-m", "evil")

	f := &Fetcher{Dir: t.TempDir()}
	ctx := context.Background()
	src, err := ParseSource("git::file://" + bare + "//stacks/shop")
	if err != nil {
		t.Fatal(err)
	}
	resolves := func(when, want string) {
		t.Helper()
		if got, err := f.Resolve(ctx, src); err != nil || got != want {
			t.Errorf("%s: resolved to %s, %v; want %s (evil is %s)", when, got, err, want, evil)
		}
	}
	run(attacker, "push", "-q", "origin", "HEAD:refs/heads/HEAD", "refs/tags/evil:refs/tags/HEAD")
	resolves("with a branch and a tag named HEAD", v2)
	run(attacker, "push", "-q", "origin", ":refs/heads/HEAD")
	resolves("with a tag named HEAD", v2)
	commit, _ := f.Resolve(ctx, src)
	dir, err := f.Checkout(ctx, src, commit)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "stacks", "shop", "main.tf")); err != nil || !strings.Contains(string(b), "# v2") {
		t.Errorf("checked out %q, %v; want main's module", b, err)
	}

	run(bare, "branch", "prod", v1)
	run(bare, "symbolic-ref", "HEAD", "refs/heads/prod")
	resolves("after the default branch became prod", v1)

	headRef := src
	headRef.Ref = "HEAD"
	if _, err := f.Resolve(ctx, headRef); preview.ErrorCode(err) != preview.EINVALID {
		t.Errorf("ref HEAD: %v; want EINVALID", err)
	}

	// Production pinned to a tag; a branch of the same name pushed beside
	// it must not choose the module. The full ref name still resolves.
	run(bare, "tag", "release", v1)
	pinned := src
	pinned.Ref = "release"
	if got, err := f.Resolve(ctx, pinned); err != nil || got != v1 {
		t.Fatalf("ref release: %s, %v; want %s", got, err, v1)
	}
	run(attacker, "push", "-q", "origin", "HEAD:refs/heads/release")
	if got, err := f.Resolve(ctx, pinned); preview.ErrorCode(err) != preview.EINVALID || !strings.Contains(err.Error(), "names both a branch and a tag") {
		t.Errorf("ref release, with a branch release pushed beside the tag: %s, %v; want EINVALID", got, err)
	}
	pinned.Ref = "refs/tags/release"
	if got, err := f.Resolve(ctx, pinned); err != nil || got != v1 {
		t.Errorf("ref refs/tags/release: %s, %v; want the tag's %s", got, err, v1)
	}
}

// TestFetcherOverSmartHTTPWithAToken serves the repository over git's smart
// HTTP protocol (git http-backend behind net/http/cgi), answering only a
// request carrying the token: the fetcher gets in with it, and a wrong
// token is a clear error that shows neither token.
func TestFetcherOverSmartHTTPWithAToken(t *testing.T) {
	bare, v1, _ := gitRepo(t)
	const token = "ghs_s3cret-installation-token"
	basic := func(token string) string { return strings.TrimPrefix(gittest.BasicAuth(token), "Basic ") }
	srv := httptest.NewServer(gittest.HTTP(filepath.Dir(bare), token))
	defer srv.Close()
	src, err := ParseSource("git::" + srv.URL + "/infra.git//stacks/shop?ref=v1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	wrong := &Fetcher{Dir: t.TempDir(), Token: func(context.Context, string) (string, error) { return "ghs_wrong-token", nil }}
	_, err = wrong.Resolve(ctx, src)
	if err == nil || !strings.Contains(err.Error(), "Authentication failed") || strings.Contains(err.Error(), "ghs_wrong-token") || strings.Contains(err.Error(), basic("ghs_wrong-token")) {
		t.Errorf("a wrong token: %v; want a failure that does not show it", err)
	}

	f := &Fetcher{Dir: t.TempDir(), Token: func(_ context.Context, u string) (string, error) {
		if !strings.HasPrefix(u, srv.URL) {
			t.Errorf("token asked for %s", u)
		}
		return token, nil
	}}
	commit, err := f.Resolve(ctx, src)
	if err != nil || commit != v1 {
		t.Fatalf("resolve over HTTP: %s, %v; want %s", commit, err, v1)
	}
	dir, err := f.Checkout(ctx, src, commit)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "stacks", "shop", "main.tf")); err != nil || !strings.Contains(string(b), "# v1") {
		t.Errorf("checked out %q, %v", b, err)
	}
	// The token is kept nowhere on disk.
	filepath.WalkDir(f.Dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), token) || strings.Contains(string(b), basic(token)) {
				t.Errorf("%s holds the token", p)
			}
		}
		return nil
	})
}

// writeTree writes files (slash paths relative to root, and their
// contents) under root.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
