package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/waittest"
)

// startApp serves gh as a GitHub App's GitHub (App 4242, installation 99)
// and returns its API URL and the App's key file.
func startApp(t *testing.T, gh *fakeGitHub) (apiURL, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(t.TempDir(), "app.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	app := &appGitHub{fakeGitHub: gh, appID: 4242, key: &key.PublicKey, auth: map[string][]string{}}
	srv := httptest.NewServer(app.handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/", keyFile
}

// run finds the newest check run previewd wrote named name on sha, and
// its id.
func (f *fakeGitHub) run(sha, name string) (fakeOwnRun, int, bool) {
	runs := f.runs()
	for i := len(runs) - 1; i >= 0; i-- {
		if r := runs[i]; r.SHA == sha && r.Name == name {
			return r, i + 1, true
		}
	}
	return fakeOwnRun{}, 0, false
}

// TestCheckRunsEndToEnd runs previewd as a GitHub App on a module kept in
// the pull request's own repository (module_source: base//infra) that
// quietly gives previews another database engine: the previewd/parity
// check run fails with an annotation at infra/main.tf line 15, and the
// comment links it. A reader's Re-check is refused on the run itself.
// Production's module then takes the engine from a variable the previews
// declare a difference in, and the next push gets a neutral run while
// every run of the old head is complete. A syntax error pushed to
// production's branch fails the previewd run, annotated at its line.
func TestCheckRunsEndToEnd(t *testing.T) {
	repo := &infraRepo{t: t, work: filepath.Join(t.TempDir(), "shop"), bareRoot: t.TempDir()}
	copyTree(t, "testdata/conditional", filepath.Join(repo.work, "infra"))
	repo.git(repo.work, "init", "-q", "-b", "main")
	repo.commit("the module")
	bare := filepath.Join(repo.bareRoot, "acme", "shop.git")
	repo.git(repo.bareRoot, "clone", "-q", "--bare", repo.work, bare)
	repo.git(bare, "symbolic-ref", "HEAD", "refs/heads/main")
	repo.git(repo.work, "remote", "add", "origin", bare)

	gh := &fakeGitHub{comments: map[int64]string{}, gitRoot: repo.bareRoot, gitToken: "ghs_installation_99",
		perms: map[string]string{"reader": "read", "maintainer": "write"}}
	api, keyFile := startApp(t, gh)
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	writeConfig := func(extra string) {
		os.WriteFile(configFile, fmt.Appendf(nil, "module_source: base//infra\nallowed_repos: [acme/shop]\nmodule_poll_interval: 1h\n"+
			"github:\n  api_url: %s\n  app_id: 4242\n  app_private_key_file: %s\n%s", api, keyFile, extra), 0o600)
	}
	writeConfig("")
	p := startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": configFile})
	t0 := time.Now().Add(-time.Hour)
	sha1, sha2 := strings.Repeat("1", 40), strings.Repeat("2", 40)
	runOf := func(sha, name, what string, done func(fakeOwnRun) bool) (fakeOwnRun, int) {
		t.Helper()
		var id int
		run := waittest.For(t, what, func() fakeOwnRun {
			r, n, _ := gh.run(sha, name)
			id = n
			return r
		}, done)
		return run, id
	}

	p.send(prEvent{"opened", "engine", sha1, 1, t0})
	parity, parityID := runOf(sha1, "previewd/parity", "previewd/parity on "+sha1[:7], func(r fakeOwnRun) bool { return r.Status == "completed" })
	if parity.Conclusion != "failure" || !slices.Equal(parity.Annotations, []string{"infra/main.tf:15 failure"}) ||
		!strings.Contains(parity.Summary, "terraform_data.database.input.engine_version") || !slices.Equal(parity.Actions, []string{"recheck"}) {
		t.Errorf("previewd/parity = %+v, want failure annotated at infra/main.tf:15, with a Re-check button", parity)
	}
	link := fmt.Sprintf("[Details](<https://github.com/acme/shop/runs/%d>)", parityID)
	env := p.waitFor("engine", "the comment linking the check run", func(e apiEnvironment) bool { return strings.Contains(e.Comment.Body, link) })
	if !strings.Contains(env.Comment.Body, "❌ 1 undeclared difference from production.") || !strings.Contains(env.Comment.Body, env.URL) {
		t.Errorf("comment lacks the one-line verdict or the URL:\n%s", env.Comment.Body)
	}

	// A reader's Re-check is refused, on the run.
	press := func(user string) {
		t.Helper()
		p.sendEvent("check_run", fmt.Appendf(nil, `{"action":"requested_action","check_run":{"id":%d,"name":"previewd/parity","head_sha":%q,`+
			`"pull_requests":[{"number":1}]},"requested_action":{"identifier":"recheck"},"repository":{"full_name":"acme/shop"},`+
			`"sender":{"login":%q},"installation":{"id":99}}`, parityID, sha1, user))
	}
	press("reader")
	runOf(sha1, "previewd/parity", "the refusal on the run", func(r fakeOwnRun) bool {
		return strings.HasPrefix(r.Summary, "> @reader `/preview recheck` needs write access")
	})

	// Production's module takes the engine from a variable; the previews
	// declare theirs.
	main := filepath.Join(repo.work, "infra", "main.tf")
	src, _ := os.ReadFile(main)
	src = []byte(strings.Replace(string(src), `var.environment == "production" ? "15.4" : "13.11"`, "var.engine_version", 1) +
		"\nvariable \"engine_version\" {\n  type    = string\n  default = \"15.4\"\n}\n")
	os.WriteFile(main, src, 0o644)
	repo.commit("the engine from a variable")
	repo.git(repo.work, "push", "-q", "origin", "main")
	writeConfig("repos:\n  - name: acme/shop\n    production:\n      vars: {engine_version: \"15.4\"}\n" +
		"    differences:\n      - {variable: engine_version, value: \"13.11\", reason: cost}\n")
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	p = startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": configFile, "PREVIEWD_DATA_DIR": p.dataDir})
	p.send(prEvent{"synchronize", "engine", sha2, 1, t0.Add(time.Minute)})
	parity, _ = runOf(sha2, "previewd/parity", "previewd/parity on "+sha2[:7], func(r fakeOwnRun) bool { return r.Status == "completed" })
	if parity.Conclusion != "neutral" || len(parity.Annotations) != 0 || !strings.Contains(parity.Summary, "declared: `cost`") {
		t.Errorf("after declaring: %+v, want neutral, the difference listed as declared, no annotation", parity)
	}
	for _, r := range gh.runs() {
		if r.SHA == sha1 && r.Status != "completed" {
			t.Errorf("the old head's %s run is %s, want it completed", r.Name, r.Status)
		}
	}

	// A syntax error on production's branch fails the previewd run at its line.
	os.WriteFile(main, append(src, []byte("\nresource \"terraform_data\" \"broken\" {\n  input = \n}\n")...), 0o644)
	repo.commit("a syntax error")
	repo.git(repo.work, "push", "-q", "origin", "main")
	p.sendEvent("push", []byte(`{"ref":"refs/heads/main","after":"`+strings.Repeat("3", 40)+`","repository":{"full_name":"acme/shop"},"installation":{"id":99}}`))
	line := strings.Count(string(src), "\n") + 3 // the line of "input ="
	failed, _ := runOf(sha2, "previewd", "the previewd run failing", func(r fakeOwnRun) bool { return r.Conclusion == "failure" })
	if want := fmt.Sprintf("infra/main.tf:%d failure", line); !slices.Contains(failed.Annotations, want) {
		var e apiEnvironment
		p.get("/api/v1/environments/engine", &e)
		t.Errorf("previewd run = %+v, want an annotation %q; the error:\n%s", failed, want, e.LastError)
	}
}
