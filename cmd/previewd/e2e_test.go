package main

// End-to-end tests: the real server (serve), a real bbolt file, the real
// terraform binary on real modules, and an httptest GitHub speaking the REST
// shapes previewd uses. They drive previewd only through DESIGN.md's
// interfaces: signed webhooks and the admin API.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/internal/gittest"
	"github.com/previewd/previewd/internal/waittest"
)

// The tests' webhook secret and admin token, as long as previewd requires
// (`openssl rand -hex 32` makes real ones).
const (
	testSecret = "e2e-webhook-secret-5f1d8c2a9b3e7f6041d2c8a7e9b0f3c6"
	testToken  = "e2e-admin-token-0c9e4b7a2d5f8e1c3a6b9d0f2e4c7a8b"
)

// terraformForTests returns the terraform binary the suite runs: the one in
// PREVIEWD_TERRAFORM_BIN or ./bin (make builds it). A missing binary fails the
// test: nothing here is skipped.
func terraformForTests(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PREVIEWD_TERRAFORM_BIN"), "../../bin/terraform"} {
		if p == "" {
			continue
		}
		if abs, err := filepath.Abs(p); err == nil {
			if _, err := os.Stat(abs); err == nil {
				return abs
			}
		}
	}
	t.Fatal("no terraform binary: run `make terraform` (builds Terraform 1.5.7 into ./bin) or set PREVIEWD_TERRAFORM_BIN")
	return ""
}

type previewd struct {
	t       testing.TB
	base    string
	dataDir string
	logs    *waittest.Buffer
	stop    func() error
}

// startPreviewd runs serve in-process with settings given as PREVIEWD_*
// variables, exactly as an operator would.
func startPreviewd(t testing.TB, env map[string]string) *previewd {
	t.Helper()
	dataDir := t.TempDir()
	vars := map[string]string{
		"PREVIEWD_WEBHOOK_SECRET": testSecret,
		"PREVIEWD_ADMIN_TOKEN":    testToken,
		"PREVIEWD_DATA_DIR":       dataDir,
		"PREVIEWD_TERRAFORM_BIN":  terraformForTests(t),
		"PREVIEWD_LOG_LEVEL":      "debug",
		// Tests of the start-up checks ask for them.
		"PREVIEWD_STARTUP_CHECKS": "false",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(vars["PREVIEWD_CONFIG"], func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := vars["PREVIEWD_PUBLIC_URL"]; !ok {
		cfg.PublicURL = "http://" + l.Addr().String() // links in comments point back here
	}
	logs := &waittest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), l)
	}()
	p := &previewd{t: t, base: "http://" + l.Addr().String(), dataDir: dataDir, logs: logs}
	var once sync.Once
	var stopErr error
	p.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("serve returned %v", err)
		}
		if t.Failed() {
			t.Logf("previewd log:\n%s", logs.String())
		}
	})
	p.waitReady()
	return p
}

func (p *previewd) waitReady() {
	p.t.Helper()
	waitHTTP(p.t, p.base+"/readyz")
}

type prEvent struct {
	action, branch, sha string
	number              int
	updated             time.Time
}

func (e prEvent) payload() []byte {
	state := "open"
	if e.action == "closed" {
		state = "closed"
	}
	return fmt.Appendf(nil, `{"action":%q,"number":%d,"pull_request":{"id":1%d,"number":%d,"state":%q,"title":"t","draft":false,
"updated_at":%q,"user":{"login":"octocat"},"labels":[{"name":"enhancement"}],
"head":{"ref":%q,"sha":%q,"repo":{"full_name":"acme/shop"}},"base":{"ref":"main","sha":"0000000","repo":{"full_name":"acme/shop"}}},
"repository":{"full_name":"acme/shop"},"sender":{"login":"octocat"},"installation":{"id":99}}`,
		e.action, e.number, e.number, e.number, state, e.updated.UTC().Format(time.RFC3339), e.branch, e.sha)
}

var deliveries int

func (p *previewd) send(e prEvent) (int, map[string]string) {
	p.t.Helper()
	return p.sendTo("acme/shop", e)
}

// sendTo sends e as a signed pull_request delivery for repository repo,
// and checks it was answered within a second.
func (p *previewd) sendTo(repo string, e prEvent) (int, map[string]string) {
	p.t.Helper()
	return p.sendEvent("pull_request", bytes.ReplaceAll(e.payload(), []byte(`"acme/shop"`), fmt.Appendf(nil, "%q", repo)))
}

// sendEvent sends body as a signed delivery of event, and checks it was
// answered within a second.
func (p *previewd) sendEvent(event string, body []byte) (int, map[string]string) {
	p.t.Helper()
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(body)
	req, _ := http.NewRequest("POST", p.base+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", event)
	deliveries++
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("e2e-%d-%d", time.Now().UnixNano(), deliveries))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if d := time.Since(start); d > time.Second {
		p.t.Errorf("webhook answered in %v, want under 1s", d)
	}
	out := map[string]string{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

type apiEnvironment struct {
	Name       string            `json:"name"`
	Repo       string            `json:"repo"`
	PR         int               `json:"pr"`
	Branch     string            `json:"branch"`
	HeadSHA    string            `json:"head_sha"`
	Status     string            `json:"status"`
	URL        string            `json:"url"`
	LastError  string            `json:"last_error"`
	AppliedSHA string            `json:"applied_sha"`
	Outputs    map[string]string `json:"outputs"`
	Parity     struct {
		SHA    string `json:"sha"`
		Status string `json:"status"`
	} `json:"parity"`
	Comment struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
	} `json:"comment"`
}

func (p *previewd) get(path string, v any) int {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

func (p *previewd) waitFor(name, what string, cond func(apiEnvironment) bool) apiEnvironment {
	p.t.Helper()
	return waitForAs(p, name, what, cond)
}

// answer is what the admin API answered: its status code and body.
type answer[T any] struct {
	Code int
	Body T
}

// waitForAs reads the named environment from the admin API into a T until
// cond holds, for up to two minutes (Terraform runs under the race
// detector), and returns it.
func waitForAs[T any](p *previewd, name, what string, cond func(T) bool) T {
	p.t.Helper()
	read := func() answer[T] {
		var env T
		code := p.get("/api/v1/environments/"+name, &env)
		return answer[T]{code, env}
	}
	return waittest.ForWithin(p.t, 2*time.Minute, name+": "+what, read, func(a answer[T]) bool { return a.Code == 200 && cond(a.Body) }).Body
}

func readyAt(sha string) func(apiEnvironment) bool {
	return func(e apiEnvironment) bool { return e.Status == "ready" && e.AppliedSHA == sha }
}

// fakeGitHub speaks the issue-comment REST shapes and records what previewd
// wrote; the github package's own tests check every request against
// GitHub's OpenAPI description.
type fakeGitHub struct {
	mu          sync.Mutex
	perms       map[string]string // user → permission
	deployments []string          // "id sha environment"
	depStatuses []string          // "id state"
	statuses    []string          // "sha state"
	reactions   []string          // "comment content"
	pulls       map[int]fakePull  // for resync
	comments    map[int64]string
	checkRuns   map[string]map[string]string // sha → check run name → conclusion ("" while in progress)
	ownRuns     []fakeOwnRun                 // the check runs previewd wrote (App mode), by id - 1
	gitRoot     string                       // when set, serves the git repositories under it over smart HTTP, to the token's bearer
	gitToken    string                       // that token: ghs_e2etoken unless set
	issues      map[int]*fakeIssue           // the issues previewd opened, by number
	creates     int
	edits       int
	auth        []string
}

func (f *fakeGitHub) handler() http.Handler {
	mux := http.NewServeMux()
	comment := func(id int64, body string) map[string]any {
		return map[string]any{"id": id, "node_id": "IC_x", "body": body, "user": map[string]any{"login": "previewd[bot]", "id": 1, "type": "Bot"},
			"html_url": fmt.Sprintf("https://github.com/acme/shop/pull/1#issuecomment-%d", id), "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"}
	}
	pull := func(n int, p fakePull) map[string]any {
		return map[string]any{"number": n, "state": p.State, "title": "t", "draft": false, "updated_at": "2026-11-22T00:00:00Z",
			"user": map[string]any{"login": "octocat"}, "labels": []any{},
			"head": map[string]any{"ref": p.Branch, "sha": p.SHA, "repo": map[string]any{"full_name": "acme/shop"}},
			"base": map[string]any{"ref": "main", "sha": "0", "repo": map[string]any{"full_name": "acme/shop"}}}
	}
	mux.HandleFunc("GET /repos/acme/shop/pulls", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		out := []any{}
		for n, p := range f.pulls {
			if p.State == "open" {
				out = append(out, pull(n, p))
			}
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /repos/acme/shop/pulls/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		f.mu.Lock()
		defer f.mu.Unlock()
		p, ok := f.pulls[n]
		if !ok {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(pull(n, p))
	})
	created := func(w http.ResponseWriter, v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(v)
	}
	if f.gitRoot != "" {
		token := f.gitToken
		if token == "" {
			token = "ghs_e2etoken"
		}
		mux.Handle("/acme/", gittest.HTTP(f.gitRoot, token))
	}
	mux.HandleFunc("GET /repos/acme/shop/commits/{sha}/status", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"state": "pending", "sha": r.PathValue("sha"), "total_count": 0, "statuses": []any{},
			"repository": map[string]any{"full_name": "acme/shop"}})
	})
	mux.HandleFunc("GET /repos/acme/shop/commits/{sha}/check-runs", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		runs := []any{}
		for name, conclusion := range f.checkRuns[r.PathValue("sha")] {
			run := map[string]any{"id": len(runs) + 1, "name": name, "head_sha": r.PathValue("sha"), "status": "in_progress", "conclusion": nil}
			if conclusion != "" {
				run["status"], run["conclusion"] = "completed", conclusion
			}
			runs = append(runs, run)
		}
		json.NewEncoder(w).Encode(map[string]any{"total_count": len(runs), "check_runs": runs})
	})
	mux.HandleFunc("POST /repos/acme/shop/deployments", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Ref, Environment string }
		json.NewDecoder(r.Body).Decode(&in)
		f.mu.Lock()
		id := len(f.deployments) + 1
		f.deployments = append(f.deployments, fmt.Sprintf("%d %s %s", id, in.Ref, in.Environment))
		f.mu.Unlock()
		created(w, map[string]any{"id": id, "sha": in.Ref, "ref": in.Ref, "environment": in.Environment, "task": "deploy"})
	})
	mux.HandleFunc("GET /repos/acme/shop/deployments", func(w http.ResponseWriter, r *http.Request) {
		sha, environment := r.URL.Query().Get("sha"), r.URL.Query().Get("environment")
		f.mu.Lock()
		defer f.mu.Unlock()
		out := []any{}
		for _, d := range f.deployments {
			var id int
			var ref, env string
			fmt.Sscan(d, &id, &ref, &env)
			if ref == sha && env == environment {
				out = append(out, map[string]any{"id": id, "sha": ref, "ref": ref, "environment": env, "task": "deploy"})
			}
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /repos/acme/shop/deployments/{id}/statuses", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ State string }
		json.NewDecoder(r.Body).Decode(&in)
		f.mu.Lock()
		f.depStatuses = append(f.depStatuses, r.PathValue("id")+" "+in.State)
		f.mu.Unlock()
		created(w, map[string]any{"id": 1, "state": in.State})
	})
	mux.HandleFunc("POST /repos/acme/shop/check-runs", f.writeCheckRun)
	mux.HandleFunc("PATCH /repos/acme/shop/check-runs/{id}", f.writeCheckRun)
	mux.HandleFunc("GET /repos/acme/shop/check-runs/{id}", f.writeCheckRun)
	mux.HandleFunc("POST /repos/acme/shop/statuses/{sha}", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ State, Context string }
		json.NewDecoder(r.Body).Decode(&in)
		f.mu.Lock()
		name := ""
		if in.Context != "previewd" {
			name = " " + in.Context
		}
		f.statuses = append(f.statuses, r.PathValue("sha")[:7]+" "+in.State+name)
		f.mu.Unlock()
		created(w, map[string]any{"id": 1, "state": in.State, "context": "previewd"})
	})
	mux.HandleFunc("GET /repos/acme/shop/collaborators/{user}/permission", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		perm, ok := f.perms[r.PathValue("user")]
		f.mu.Unlock()
		if !ok {
			perm = "read"
		}
		json.NewEncoder(w).Encode(map[string]any{"permission": perm, "user": map[string]any{"login": r.PathValue("user")}})
	})
	mux.HandleFunc("POST /repos/acme/shop/issues/comments/{id}/reactions", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Content string }
		json.NewDecoder(r.Body).Decode(&in)
		f.mu.Lock()
		f.reactions = append(f.reactions, r.PathValue("id")+" "+in.Content)
		f.mu.Unlock()
		created(w, map[string]any{"id": 1, "content": in.Content})
	})
	mux.HandleFunc("GET /repos/acme/shop/issues/{n}/comments", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		out := []any{}
		for id, body := range f.comments {
			out = append(out, comment(id, body))
		}
		json.NewEncoder(w).Encode(out)
	})
	f.handleIssues(mux)
	mux.HandleFunc("POST /repos/acme/shop/issues/{n}/comments", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Body string }
		json.NewDecoder(r.Body).Decode(&in)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.creates++
		id := int64(1000 + f.creates)
		f.comments[id] = in.Body
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(comment(id, in.Body))
	})
	mux.HandleFunc("PATCH /repos/acme/shop/issues/comments/{id}", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Body string }
		json.NewDecoder(r.Body).Decode(&in)
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		if _, ok := f.comments[id]; !ok {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		f.edits++
		f.comments[id] = in.Body
		json.NewEncoder(w).Encode(comment(id, in.Body))
	})
	return mux
}

// fakePull is a pull request as the fake GitHub lists it.
type fakePull struct{ State, Branch, SHA string }

func (f *fakeGitHub) setPull(n int, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pulls[n]
	p.State = state
	f.pulls[n] = p
}

// github returns copies of what was written besides comments.
func (f *fakeGitHub) github() (deployments, depStatuses, statuses, reactions []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deployments), slices.Clone(f.depStatuses), slices.Clone(f.statuses), slices.Clone(f.reactions)
}

// commentBodies, deploymentStatuses, commitStatuses and reacted are
// what snapshot and github return, one at a time, for waits.
func (f *fakeGitHub) commentBodies() []string {
	bodies, _, _ := f.snapshot()
	return bodies
}

func (f *fakeGitHub) deploymentStatuses() []string {
	_, s, _, _ := f.github()
	return s
}

func (f *fakeGitHub) commitStatuses() []string {
	_, _, s, _ := f.github()
	return s
}

func (f *fakeGitHub) reacted() []string {
	_, _, _, r := f.github()
	return r
}

func (f *fakeGitHub) snapshot() (bodies []string, creates, edits int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.comments {
		bodies = append(bodies, b)
	}
	return bodies, f.creates, f.edits
}

// TestLifecycleTokenMode plays open, push, close against a fixture module,
// with a GitHub that records the comment.
func TestLifecycleTokenMode(t *testing.T) {
	gh := &fakeGitHub{comments: map[int64]string{}}
	ghSrv := httptest.NewServer(gh.handler())
	defer ghSrv.Close()
	moduleDir, _ := filepath.Abs("testdata/module")
	before := treeDigest(t, moduleDir)
	configFile := filepath.Join(t.TempDir(), "previewd.yaml")
	os.WriteFile(configFile, fmt.Appendf(nil, `
repos:
  - name: acme/shop
    module_dir: %s
    production:
      var_files: [production.tfvars]
    differences:
      - variable: replicas
        value: 1
        reason: scale
`, moduleDir), 0o600)
	p := startPreviewd(t, map[string]string{
		"PREVIEWD_CONFIG":         configFile,
		"PREVIEWD_GITHUB_TOKEN":   "ghs_e2etoken",
		"PREVIEWD_GITHUB_API_URL": ghSrv.URL + "/",
	})

	t0 := time.Now().Add(-time.Hour)
	sha1, sha2 := strings.Repeat("a", 40), strings.Repeat("b", 40)
	code, out := p.send(prEvent{"opened", "feature/Checkout", sha1, 1, t0})
	if code != 202 || out["environment"] != "feature-checkout" {
		t.Fatalf("opened: got %d %v", code, out)
	}
	env := p.waitFor("feature-checkout", "ready", readyAt(sha1))
	if want := "https://feature-checkout.preview.test/?sha=" + sha1 + "&pr=1"; env.URL != want {
		t.Errorf("url: got %q want %q", env.URL, want)
	}
	if env.Repo != "acme/shop" || env.PR != 1 || env.Branch != "feature/Checkout" {
		t.Errorf("environment: got %+v", env)
	}
	// The declared difference reached the module; production's var file too.
	if !strings.Contains(logOf(t, p, "feature-checkout", 0), "with 1 replicas") {
		t.Errorf("run log does not show replicas=1 from the declared difference")
	}

	code, _ = p.send(prEvent{"synchronize", "feature/Checkout", sha2, 1, t0.Add(time.Minute)})
	if code != 202 {
		t.Fatalf("synchronize: got %d", code)
	}
	p.waitFor("feature-checkout", "ready at the new head", readyAt(sha2))
	waittest.For(t, "comment shows the new commit, ready", gh.commentBodies, func(bodies []string) bool {
		return len(bodies) == 1 && strings.Contains(bodies[0], "Deployed commit `bbbbbbb`")
	})
	// The comment's log link opens the run's log without the admin token.
	bodies, _, _ := gh.snapshot()
	link := regexp.MustCompile(regexp.QuoteMeta(p.base) + `/logs/[^)>\s]+`).FindString(bodies[0])
	if link == "" {
		t.Fatalf("comment has no signed log link:\n%s", bodies[0])
	}
	if body := fetch(t, link); !strings.Contains(body, "Apply complete!") || !strings.Contains(body, "sha="+sha2) {
		t.Errorf("signed log link: got %q", body)
	}

	p.send(prEvent{"closed", "feature/Checkout", sha2, 1, t0.Add(2 * time.Minute)})
	env = p.waitFor("feature-checkout", "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })
	if env.URL != "" {
		t.Errorf("destroyed environment still has url %q", env.URL)
	}
	waittest.For(t, "comment says destroyed", gh.commentBodies, func(bodies []string) bool {
		return len(bodies) == 1 && strings.Contains(bodies[0], "destroyed")
	})
	bodies, creates, edits := gh.snapshot()
	if creates != 1 || edits < 2 || len(bodies) != 1 {
		t.Errorf("comments: %d created, %d edits, %d on the pull request; want 1 created, edited in place", creates, edits, len(bodies))
	}
	for _, a := range gh.auth {
		if a != "Bearer ghs_e2etoken" {
			t.Errorf("Authorization header: got %q", a)
		}
	}
	waittest.For(t, "deployments inactive after destroy", gh.deploymentStatuses, func(ds []string) bool {
		return len(ds) > 0 && ds[len(ds)-1] == "2 inactive"
	})
	deployments, depStatuses, statuses, _ := gh.github()
	wantDeployments := []string{"1 " + sha1 + " feature-checkout", "2 " + sha2 + " feature-checkout"}
	if !slices.Equal(deployments, wantDeployments) {
		t.Errorf("deployments: got %v, want one per applied head %v", deployments, wantDeployments)
	}
	for _, want := range []string{"1 success", "2 success", "2 inactive"} {
		if !slices.Contains(depStatuses, want) {
			t.Errorf("deployment statuses %v lack %q", depStatuses, want)
		}
	}
	for _, want := range []string{"aaaaaaa success", "bbbbbbb success"} {
		if !slices.Contains(statuses, want) {
			t.Errorf("commit statuses %v lack %q", statuses, want)
		}
	}
	var runs []struct{ Phase, State string }
	p.get("/api/v1/environments/feature-checkout/runs", &runs)
	if len(runs) != 3 || runs[0].Phase != "apply" || runs[2].Phase != "destroy" || runs[2].State != "succeeded" {
		t.Errorf("journal: got %+v", runs)
	}
	// A clean destroy leaves no working directory behind.
	if _, err := os.Stat(filepath.Join(p.dataDir, "envs", "feature-checkout")); !os.IsNotExist(err) {
		t.Errorf("working directory after destroy: got err %v, want it removed", err)
	}
	if after := treeDigest(t, moduleDir); after != before {
		t.Errorf("the production module changed during runs")
	}
	if strings.Contains(p.logs.String(), "ghs_e2etoken") || strings.Contains(p.logs.String(), testSecret) {
		t.Errorf("a secret reached the log")
	}
}

// TestExampleModuleServesLivePreview runs the example module end to end in
// offline mode: the URL answers with the deployed commit, moves with a push,
// and stops answering after close.
func TestExampleModuleServesLivePreview(t *testing.T) {
	binDir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(binDir, "preview-web"), "../preview-web")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build preview-web: %v\n%s", err, out)
	}
	t.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	p := startPreviewd(t, map[string]string{"PREVIEWD_CONFIG": "../../examples/previewd.yaml"})

	t0 := time.Now().Add(-time.Hour)
	sha1, sha2 := "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	p.send(prEvent{"opened", "demo/live", sha1, 5, t0})
	env := p.waitFor("demo-live", "ready, checked and shown", func(e apiEnvironment) bool {
		return readyAt(sha1)(e) && e.Parity.SHA == sha1 && strings.Contains(e.Comment.Body, "Parity with production")
	})
	if body := fetch(t, env.URL); !strings.Contains(body, sha1) || !strings.Contains(body, "customers.jsonl</a></th><td>5000 records") || !strings.Contains(body, "orders.jsonl</a></th><td>20000 records") {
		t.Errorf("preview at %s does not show %s and the seeded data:\n%s", env.URL, sha1, body)
	}
	type parityReport struct {
		Status   string `json:"status"`
		Findings []struct {
			Kind, Subject, Location string
			Declared, Identity      bool
		} `json:"findings"`
		IdentityDifferences int `json:"identity_differences"`
	}
	var report, all parityReport
	code := p.get("/api/v1/environments/demo-live/parity", &report)
	located := 0
	for _, f := range report.Findings {
		if f.Kind == "attribute" && slices.Contains([]string{"main.tf:20", "main.tf:22", "main.tf:23", "main.tf:50"}, f.Location) {
			located++
		}
	}
	// triggers_replace.inputs is jsonencode(local.inputs): each differing
	// key is located at its line in local.inputs.
	if code != 200 || report.Status != "ok" || len(report.Findings) != 9 || located != 4 || report.IdentityDifferences == 0 {
		t.Errorf("parity: got %d %+v, want ok with the example's nine declared differences, four attributes at main.tf:20, :22, :23 and :50, and identity differences counted", code, report)
	}
	if code := p.get("/api/v1/environments/demo-live/parity?all=true", &all); code != 200 || len(all.Findings) != len(report.Findings)+report.IdentityDifferences {
		t.Errorf("parity?all=true: got %d, %d findings; want the %d identity differences listed too", code, len(all.Findings), report.IdentityDifferences)
	}
	if !strings.Contains(env.Comment.Body, "Parity with production:** ✅") {
		t.Errorf("comment lacks the parity verdict:\n%s", env.Comment.Body)
	}
	if env.Comment.ID != 0 || !strings.Contains(env.Comment.Body, env.URL) {
		t.Errorf("offline comment: got id %d body %q; want the body kept in the store with the URL", env.Comment.ID, env.Comment.Body)
	}
	p.send(prEvent{"synchronize", "demo/live", sha2, 5, t0.Add(time.Minute)})
	env = p.waitFor("demo-live", "ready at the new head", readyAt(sha2))
	if body := fetch(t, env.URL); !strings.Contains(body, sha2) {
		t.Errorf("after push, preview does not show %s:\n%s", sha2, body)
	}
	url := env.URL
	p.send(prEvent{"closed", "demo/live", sha2, 5, t0.Add(2 * time.Minute)})
	p.waitFor("demo-live", "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })
	if resp, err := http.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("%s still answers after destroy", url)
	}
}

// TestFailingApplyIsReportedAndANewPushRecovers uses a module that fails
// for one head.
func TestFailingApplyIsReportedAndANewPushRecovers(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`
variable "environment" { type = string }
variable "head_sha" { type = string }
resource "terraform_data" "app" {
  input = var.head_sha
  provisioner "local-exec" { command = "test ${var.head_sha} != bad || { echo 'database migration failed: relation users does not exist' >&2; exit 3; }" }
}
output "url" { value = "https://${var.environment}.preview.test/" }
`), 0o644)
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": dir})
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "broken", "bad", 9, t0})
	env := p.waitFor("broken", "failed", func(e apiEnvironment) bool { return e.Status == "failed" })
	if !strings.Contains(env.LastError, "relation users does not exist") {
		t.Errorf("last_error does not carry Terraform's error: %q", env.LastError)
	}
	// The comment follows asynchronously.
	if env = p.waitFor("broken", "the error in the comment", func(e apiEnvironment) bool { return strings.Contains(e.Comment.Body, "relation users does not exist") }); env.Status != "failed" {
		t.Errorf("status with the error shown: %s", env.Status)
	}
	p.send(prEvent{"synchronize", "broken", "good", 9, t0.Add(time.Minute)})
	p.waitFor("broken", "ready after the fix", readyAt("good"))
}

// TestRestartKeepsStateAndFindsTheComment restarts previewd on the same data
// directory: environments, state and the comment carry over.
func TestRestartKeepsState(t *testing.T) {
	moduleDir, _ := filepath.Abs("testdata/module")
	dataDir := t.TempDir()
	env := map[string]string{"PREVIEWD_MODULE_DIR": moduleDir, "PREVIEWD_DATA_DIR": dataDir}
	p := startPreviewd(t, env)
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "keep", "s1", 2, t0})
	p.waitFor("keep", "ready", readyAt("s1"))
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	p2 := startPreviewd(t, env)
	p2.waitFor("keep", "still ready after restart", readyAt("s1"))
	p2.send(prEvent{"closed", "keep", "s1", 2, t0.Add(time.Minute)})
	p2.waitFor("keep", "destroyed", func(e apiEnvironment) bool { return e.Status == "destroyed" })
}

func TestSecondProcessOnTheSameDataDirExits(t *testing.T) {
	moduleDir, _ := filepath.Abs("testdata/module")
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": moduleDir})
	vars := map[string]string{"PREVIEWD_WEBHOOK_SECRET": testSecret, "PREVIEWD_DATA_DIR": p.dataDir, "PREVIEWD_MODULE_DIR": moduleDir, "PREVIEWD_TERRAFORM_BIN": terraformForTests(t)}
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = serve(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err == nil || !strings.Contains(err.Error(), "another previewd") {
		t.Fatalf("second previewd: got %v, want a clear refusal", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second previewd took %v to give up", d)
	}
}

func logOf(t *testing.T, p *previewd, name string, i int) string {
	t.Helper()
	var runs []struct{ ID string }
	p.get("/api/v1/environments/"+name+"/runs", &runs)
	if len(runs) <= i {
		t.Fatalf("no run %d for %s", i, name)
	}
	return p.runLog(runs[i].ID).Body
}

// runLog reads the log of the run id ("<environment>/<seq>") so far.
func (p *previewd) runLog(id string) answer[string] {
	p.t.Helper()
	name, seq, _ := strings.Cut(id, "/")
	req, _ := http.NewRequest("GET", p.base+"/api/v1/environments/"+name+"/runs/"+seq+"/log", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer[string]{resp.StatusCode, string(b)}
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("fetch %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// treeDigest hashes every path, mode and content under dir.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %v\n", path, fi.Mode())
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(path)
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

// sendComment sends a signed issue_comment delivery for a comment on pull
// request number.
func (p *previewd) sendComment(number int, id int64, user, body string) (int, map[string]string) {
	p.t.Helper()
	payload := fmt.Appendf(nil, `{"action":"created","issue":{"number":%d,"pull_request":{"url":"https://api.github.com/repos/acme/shop/pulls/%d"}},
"comment":{"id":%d,"body":%q,"user":{"login":%q,"type":"User"}},"repository":{"full_name":"acme/shop"},"sender":{"login":%q}}`,
		number, number, id, body, user, user)
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(payload)
	req, _ := http.NewRequest("POST", p.base+"/webhooks/github", bytes.NewReader(payload))
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("comment-%d", id))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestCommentCommands drives /preview commands through the real server: a
// writer's redeploy runs Terraform again and gets a reaction; a reader's
// destroy gets a short reply and nothing runs.
func TestCommentCommands(t *testing.T) {
	gh := &fakeGitHub{comments: map[int64]string{}, perms: map[string]string{"maintainer": "write", "visitor": "read"}}
	ghSrv := httptest.NewServer(gh.handler())
	defer ghSrv.Close()
	moduleDir, _ := filepath.Abs("testdata/module")
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": moduleDir, "PREVIEWD_GITHUB_TOKEN": "ghs_cmd", "PREVIEWD_GITHUB_API_URL": ghSrv.URL + "/"})
	p.send(prEvent{"opened", "cmds", "c1", 1, time.Now().Add(-time.Hour)})
	p.waitFor("cmds", "ready", readyAt("c1"))

	if code, out := p.sendComment(1, 501, "maintainer", "/preview redeploy"); code != 202 || out["result"] != "queued" {
		t.Fatalf("command: got %d %v, want 202 queued", code, out)
	}
	waittest.Until(t, "a second apply", func() bool {
		var runs []struct{ Phase, State string }
		p.get("/api/v1/environments/cmds/runs", &runs)
		return len(runs) == 2 && runs[1].State == "succeeded"
	})
	waittest.For(t, "a reaction", gh.reacted, func(r []string) bool { return slices.Contains(r, "501 +1") })

	p.sendComment(1, 502, "visitor", "/preview destroy")
	waittest.Until(t, "a reply to the visitor", func() bool {
		bodies, _, _ := gh.snapshot()
		for _, b := range bodies {
			if strings.Contains(b, "@visitor") && strings.Contains(b, "needs write access") {
				return true
			}
		}
		return false
	})
	var env apiEnvironment
	p.get("/api/v1/environments/cmds", &env)
	if env.Status != "ready" {
		t.Errorf("after a reader's destroy: status %s, want ready", env.Status)
	}
}

// TestUndeclaredDriftFailsTheParityStatusUntilDeclared: a preview whose
// config lacks a key production has gets a failing previewd/parity status
// and the finding in its comment and the API; once the difference is
// declared, the next push turns it green.
func TestUndeclaredDriftFailsTheParityStatusUntilDeclared(t *testing.T) {
	gh := &fakeGitHub{comments: map[int64]string{}}
	ghSrv := httptest.NewServer(gh.handler())
	defer ghSrv.Close()
	module, _ := filepath.Abs("testdata/module")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "production.env"), []byte("DATABASE_URL=x\nRATE_LIMIT_PER_MINUTE=600\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "preview.env"), []byte("DATABASE_URL=y\n"), 0o600)
	configFile := func(declared string) string {
		path := filepath.Join(dir, "previewd.yaml")
		os.WriteFile(path, fmt.Appendf(nil, `repos:
  - name: acme/shop
    module_dir: %s
    parity:
      config_keys:
        - name: app-env
          production: {env_file: production.env}
          preview: {env_file: preview.env}
%s`, module, declared), 0o600)
		return path
	}
	dataDir := t.TempDir()
	env := map[string]string{"PREVIEWD_CONFIG": configFile(""), "PREVIEWD_DATA_DIR": dataDir, "PREVIEWD_GITHUB_TOKEN": "ghs_parity", "PREVIEWD_GITHUB_API_URL": ghSrv.URL + "/"}
	p := startPreviewd(t, env)
	t0 := time.Now().Add(-time.Hour)
	sha1, sha2 := strings.Repeat("1", 40), strings.Repeat("2", 40)
	p.send(prEvent{"opened", "keys", sha1, 1, t0})
	p.waitFor("keys", "checked", func(e apiEnvironment) bool { return e.Parity.SHA == sha1 })
	waittest.For(t, "a failing previewd/parity status", gh.commitStatuses, func(statuses []string) bool {
		return slices.Contains(statuses, "1111111 failure previewd/parity")
	})
	var report struct {
		Status   string
		Findings []struct {
			Kind, Subject string
			Declared      bool
		}
	}
	p.get("/api/v1/environments/keys/parity", &report)
	if report.Status != "drift" || len(report.Findings) != 1 || report.Findings[0].Kind != "config_key" || report.Findings[0].Declared {
		t.Errorf("API report: got %+v, want one undeclared config_key finding", report)
	}
	waittest.For(t, "the finding in the comment", gh.commentBodies, func(bodies []string) bool {
		return len(bodies) == 1 && strings.Contains(bodies[0], "undeclared difference") && strings.Contains(bodies[0], "RATE_LIMIT_PER_MINUTE")
	})
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}

	configFile("          differences:\n            - {key: RATE_LIMIT_PER_MINUTE, reason: external-integration}\n")
	p2 := startPreviewd(t, env)
	p2.send(prEvent{"synchronize", "keys", sha2, 1, t0.Add(time.Minute)})
	p2.waitFor("keys", "checked at the new head", func(e apiEnvironment) bool { return e.Parity.SHA == sha2 && e.Parity.Status == "ok" })
	waittest.For(t, "a green previewd/parity status", gh.commitStatuses, func(statuses []string) bool {
		return slices.Contains(statuses, "2222222 success previewd/parity")
	})
}

// fakeIssue is an issue previewd opened (the production drift issue).
type fakeIssue struct {
	Title, Body, State string
	Edits              int
}

// handleIssues serves creating, reading and editing acme/shop's issues.
func (f *fakeGitHub) handleIssues(mux *http.ServeMux) {
	show := func(w http.ResponseWriter, n int, i *fakeIssue) {
		json.NewEncoder(w).Encode(map[string]any{"id": 5000 + n, "number": n, "title": i.Title, "body": i.Body, "state": i.State,
			"repository_url": "https://api.github.com/repos/acme/shop", "html_url": fmt.Sprintf("https://github.com/acme/shop/issues/%d", n),
			"user": map[string]any{"login": "previewd[bot]", "id": 1, "type": "Bot"}, "labels": []any{}, "comments": 0,
			"created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z"})
	}
	mux.HandleFunc("POST /repos/acme/shop/issues", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Title, Body string }
		json.NewDecoder(r.Body).Decode(&in)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.issues == nil {
			f.issues = map[int]*fakeIssue{}
		}
		n := 100 + len(f.issues)
		f.issues[n] = &fakeIssue{Title: in.Title, Body: in.Body, State: "open"}
		w.WriteHeader(http.StatusCreated)
		show(w, n, f.issues[n])
	})
	mux.HandleFunc("GET /repos/acme/shop/issues/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		f.mu.Lock()
		defer f.mu.Unlock()
		if i, ok := f.issues[n]; ok {
			show(w, n, i)
			return
		}
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
	})
	mux.HandleFunc("PATCH /repos/acme/shop/issues/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		var in struct {
			Title, Body *string
			State       *string
		}
		json.NewDecoder(r.Body).Decode(&in)
		f.mu.Lock()
		defer f.mu.Unlock()
		i, ok := f.issues[n]
		if !ok {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		if in.Body != nil {
			i.Body = *in.Body
		}
		if in.State != nil {
			i.State = *in.State
		}
		i.Edits++
		show(w, n, i)
	})
}

// issue returns a copy of issue n, and whether previewd opened it.
func (f *fakeGitHub) issue(n int) (fakeIssue, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.issues[n]
	if !ok {
		return fakeIssue{}, false
	}
	return *i, true
}
