package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/gittest"
)

// moduleEnvironment is an environment as the admin API shows it, with
// the module it was applied with.
type moduleEnvironment struct {
	apiEnvironment
	Module struct{ Source, Ref, Commit string } `json:"module"`
}

// infraRepo is a git repository holding the test module at stacks/shop,
// pushed to a bare repository root/acme/infra.git.
type infraRepo struct {
	t        *testing.T
	work     string
	bareRoot string
}

func newInfraRepo(t *testing.T) *infraRepo {
	t.Helper()
	r := &infraRepo{t: t, work: filepath.Join(t.TempDir(), "infra"), bareRoot: t.TempDir()}
	copyTree(t, "testdata/module", filepath.Join(r.work, "stacks", "shop"))
	r.git(r.work, "init", "-q", "-b", "main")
	r.commit("the module")
	r.git(r.bareRoot, "clone", "-q", "--bare", r.work, filepath.Join(r.bareRoot, "acme", "infra.git"))
	r.git(r.work, "remote", "add", "origin", filepath.Join(r.bareRoot, "acme", "infra.git"))
	return r
}

func (r *infraRepo) git(dir string, args ...string) string {
	r.t.Helper()
	return gittest.Git(r.t, dir, args...)
}

// commit commits the work tree and returns the commit.
func (r *infraRepo) commit(msg string) string {
	r.t.Helper()
	r.git(r.work, "add", ".")
	r.git(r.work, "commit", "-qm", msg)
	return r.git(r.work, "rev-parse", "HEAD")
}

// TestModuleFromGitAtProductionsRef takes the production module from a
// repository on the (fake) GitHub, over smart HTTP with the token: an apply
// gets the commit main names then, and records it on the environment and in
// the comment; when main moves, the environment is applied again with the
// new commit, on a push event or else at the next poll. The token is kept
// nowhere on previewd's disk or in its log.
func TestModuleFromGitAtProductionsRef(t *testing.T) {
	repo := newInfraRepo(t)
	first := repo.git(repo.work, "rev-parse", "HEAD")
	gh := &fakeGitHub{comments: map[int64]string{}, gitRoot: repo.bareRoot}
	srv := httptest.NewServer(gh.handler())
	defer srv.Close()
	source := "git::" + srv.URL + "/acme/infra.git//stacks/shop?ref=main"
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_SOURCE": source, "PREVIEWD_GITHUB_TOKEN": "ghs_e2etoken",
		"PREVIEWD_GITHUB_API_URL": srv.URL + "/", "PREVIEWD_MODULE_POLL_INTERVAL": "1s"})
	t0 := time.Now().Add(-time.Hour)
	sha1 := strings.Repeat("a", 40)

	p.send(prEvent{"opened", "feature/git", sha1, 1, t0})
	env := waitForAs(p, "feature-git", "ready with its module", func(e moduleEnvironment) bool {
		return e.Status == "ready" && strings.Contains(e.Comment.Body, "production's module at")
	})
	if env.Module.Commit != first || env.Module.Ref != "main" || env.Module.Source != source {
		t.Errorf("module: %+v, want %s at %s", env.Module, source, first)
	}
	if !strings.Contains(env.Comment.Body, "production's module at `"+first[:7]+"`") {
		t.Errorf("the comment does not show the module's commit:\n%s", env.Comment.Body)
	}

	// Production's module moves on main, and GitHub says so: the
	// environment is applied again at its head with the new commit.
	os.WriteFile(filepath.Join(repo.work, "stacks", "shop", "version.tf"), []byte("output \"module_version\" {\n  value = \"second\"\n}\n"), 0o644)
	second := repo.commit("an output")
	repo.git(repo.work, "push", "-q", "origin", "main")
	code, out := p.sendEvent("push", fmt.Appendf(nil, `{"ref":"refs/heads/main","after":%q,"repository":{"full_name":"acme/infra"}}`, second))
	if code != 202 || out["result"] != "push" {
		t.Errorf("push delivery: %d %v", code, out)
	}
	waitModule := func(commit, output string) {
		t.Helper()
		env := waitForAs(p, "feature-git", "re-applied at module commit "+commit, func(e moduleEnvironment) bool {
			return e.Module.Commit == commit && e.Status == "ready"
		})
		if env.AppliedSHA != sha1 || env.Outputs["module_version"] != output {
			t.Errorf("at module commit %s: applied %s, outputs %v; want head %s and module_version %q", commit, env.AppliedSHA, env.Outputs, sha1, output)
		}
	}
	waitModule(second, "second")

	// It moves again and no event comes: the poll finds it.
	os.WriteFile(filepath.Join(repo.work, "stacks", "shop", "version.tf"), []byte("output \"module_version\" {\n  value = \"third\"\n}\n"), 0o644)
	third := repo.commit("another")
	repo.git(repo.work, "push", "-q", "origin", "main")
	waitModule(third, "third")

	// Production's branch disappears and previewd restarts: the
	// environment is still destroyed, with the module commit it was
	// applied with (kept on disk), not whatever the ref names now.
	repo.git(filepath.Join(repo.bareRoot, "acme", "infra.git"), "update-ref", "-d", "refs/heads/main")
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	p = startPreviewd(t, map[string]string{"PREVIEWD_MODULE_SOURCE": source, "PREVIEWD_GITHUB_TOKEN": "ghs_e2etoken",
		"PREVIEWD_GITHUB_API_URL": srv.URL + "/", "PREVIEWD_MODULE_POLL_INTERVAL": "1s", "PREVIEWD_DATA_DIR": p.dataDir})
	p.send(prEvent{"closed", "feature/git", sha1, 1, t0.Add(2 * time.Minute)})
	p.waitFor("feature-git", "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })
	filepath.WalkDir(p.dataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), "ghs_e2etoken") {
				t.Errorf("%s holds the token", path)
			}
		}
		return nil
	})
	if strings.Contains(p.logs.String(), "ghs_e2etoken") {
		t.Error("previewd's log shows the token")
	}
}

// TestModuleFromThePullRequestsBaseBranch (module_source: base//DIR) takes
// the module from the pull request's own repository at its default branch,
// never from its head: a pull request whose branch changes the module
// still gets production's.
func TestModuleFromThePullRequestsBaseBranch(t *testing.T) {
	repo := &infraRepo{t: t, work: filepath.Join(t.TempDir(), "shop"), bareRoot: t.TempDir()}
	copyTree(t, "testdata/module", filepath.Join(repo.work, "infra", "shop"))
	os.WriteFile(filepath.Join(repo.work, "infra", "shop", "version.tf"), []byte("output \"module_version\" {\n  value = \"base\"\n}\n"), 0o644)
	repo.git(repo.work, "init", "-q", "-b", "main")
	base := repo.commit("the module")
	repo.git(repo.work, "checkout", "-q", "-b", "feature/sneaky")
	os.WriteFile(filepath.Join(repo.work, "infra", "shop", "version.tf"), []byte("output \"module_version\" {\n  value = \"head\"\n}\n"), 0o644)
	head := repo.commit("the pull request's own module")
	bare := filepath.Join(repo.bareRoot, "acme", "shop.git")
	repo.git(repo.bareRoot, "clone", "-q", "--bare", repo.work, bare)
	repo.git(bare, "symbolic-ref", "HEAD", "refs/heads/main") // main is the default branch, as on GitHub

	gh := &fakeGitHub{comments: map[int64]string{}, gitRoot: repo.bareRoot}
	srv := httptest.NewServer(gh.handler())
	defer srv.Close()
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_SOURCE": "base//infra/shop", "PREVIEWD_ALLOWED_REPOS": "acme/shop",
		"PREVIEWD_GITHUB_TOKEN": "ghs_e2etoken", "PREVIEWD_GITHUB_API_URL": srv.URL + "/"})
	p.send(prEvent{"opened", "feature/sneaky", head, 3, time.Now().Add(-time.Hour)})
	env := waitForAs(p, "feature-sneaky", "ready", func(e moduleEnvironment) bool { return e.Status == "ready" })
	if env.Outputs["module_version"] != "base" || env.Module.Commit != base || env.Module.Ref != "" || !strings.HasSuffix(env.Module.Source, "/acme/shop.git//infra/shop") {
		t.Errorf("module %+v, module_version %q; want main's (%s), never the head's", env.Module, env.Outputs["module_version"], base)
	}
}

// TestModuleFetchWithAWrongToken fails the environment with a clear error
// on the pull request when GitHub refuses previewd's token for the module's
// repository, and the token shows nowhere.
func TestModuleFetchWithAWrongToken(t *testing.T) {
	repo := newInfraRepo(t)
	gh := &fakeGitHub{comments: map[int64]string{}, gitRoot: repo.bareRoot}
	srv := httptest.NewServer(gh.handler())
	defer srv.Close()
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_SOURCE": "git::" + srv.URL + "/acme/infra.git//stacks/shop?ref=main",
		"PREVIEWD_GITHUB_TOKEN": "ghs_revoked-token", "PREVIEWD_GITHUB_API_URL": srv.URL + "/"})
	p.send(prEvent{"opened", "feature/denied", strings.Repeat("c", 40), 4, time.Now().Add(-time.Hour)})
	env := p.waitFor("feature-denied", "failed, and said so", func(e apiEnvironment) bool {
		return e.Status == "failed" && strings.Contains(e.Comment.Body, "Authentication failed")
	})
	if !strings.Contains(env.LastError, "module") || strings.Contains(env.LastError+env.Comment.Body+p.logs.String(), "ghs_revoked-token") {
		t.Errorf("last error %q; want a module fetch failure that does not show the token", env.LastError)
	}
}
