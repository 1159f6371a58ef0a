package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

const testAppID = 4242

var (
	keyOnce sync.Once
	appKey  *rsa.PrivateKey
)

// testAppKey returns the App's RSA key, made once per test binary.
func testAppKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if appKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return appKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(appKey)})
}

// newTestApp returns an App-mode client of f, which serves installations.
func newTestApp(t *testing.T, f *fakeGitHub, installations map[int64][]string, clock *fakeClock) *Client {
	t.Helper()
	key, keyPEM := testAppKey(t)
	f.enableApp(testAppID, &key.PublicKey, installations)
	c, err := NewApp(Config{
		BaseURL: f.URL(), AppID: testAppID, PrivateKeyPEM: keyPEM, Render: render,
		PublicURL: "https://previewd.example.com/", Retry: clock.policy(), UserAgent: "previewd-test",
	})
	if err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	return c
}

// TestAppEndToEnd drives one environment through queued → ready → a new
// head → ready → destroyed in App mode against a GitHub Enterprise Server
// path prefix, and checks everything GitHub recorded.
func TestAppEndToEnd(t *testing.T) {
	f := newFakeGitHub(t, "/api/v3")
	clock := newFakeClock()
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}, 202: {"other/site"}}, clock)
	f.mu.Lock()
	f.app.tokenTTLs = []time.Duration{30 * time.Second} // inside ghinstallation's refresh margin: the next call refreshes
	f.mu.Unlock()
	ctx := context.Background()

	const shaA, shaB = "aaaa1111aaaa1111aaaa1111aaaa1111aaaa1111", "bbbb2222bbbb2222bbbb2222bbbb2222bbbb2222"
	env := preview.Environment{
		Name: "feature-login", Repo: "acme/shop", PR: 42, Branch: "feature/login", HeadSHA: shaA,
		Status: preview.StatusQueued, Desired: preview.Desired{Present: true, PROpen: true},
	}
	sync := func(step string) {
		t.Helper()
		var err error
		if env.Comment, err = c.SyncComment(ctx, env); err != nil {
			t.Fatalf("%s: SyncComment: %v", step, err)
		}
		if env.Deployment, err = c.SyncDeployment(ctx, env); err != nil {
			t.Fatalf("%s: SyncDeployment: %v", step, err)
		}
		if env.CommitStatus, err = c.SyncCommitStatus(ctx, env); err != nil {
			t.Fatalf("%s: SyncCommitStatus: %v", step, err)
		}
	}

	sync("queued A")
	env.Status, env.LastRunID = preview.StatusProvisioning, "feature-login/1"
	sync("provisioning A")
	env.Status, env.AppliedSHA, env.URL = preview.StatusReady, shaA, "https://feature-login.preview.example.com"
	sync("ready A")
	before := len(f.recorded())
	sync("ready A again")
	if after := len(f.recorded()); after != before {
		t.Errorf("syncing an unchanged environment sent %d requests, want none", after-before)
	}
	env.HeadSHA, env.Status = shaB, preview.StatusQueued
	sync("queued B")
	env.Status, env.LastRunID = preview.StatusProvisioning, "feature-login/2"
	sync("provisioning B")
	env.Status, env.AppliedSHA = preview.StatusReady, shaB
	sync("ready B")
	env.Status, env.Desired.Present, env.Desired.PROpen = preview.StatusDestroyed, false, false
	sync("destroyed")

	deployments, deploymentStatuses, statuses, _ := f.snapshot()
	if len(deployments) != 2 {
		t.Fatalf("deployments = %v, want 2", deployments)
	}
	dep1, dep2 := deployments[0]["id"], deployments[1]["id"]
	for i, sha := range []string{shaA, shaB} {
		want := map[string]any{
			"id": deployments[i]["id"], "ref": sha, "environment": "feature-login", "task": "deploy:previewd",
			"transient_environment": true, "production_environment": false, "auto_merge": false,
			"required_contexts": []any{}, "description": "previewd preview of acme/shop#42 at " + sha[:7],
		}
		if !reflect.DeepEqual(deployments[i], want) {
			t.Errorf("deployment %d =\n%v\nwant\n%v", i, deployments[i], want)
		}
	}
	log1 := "https://previewd.example.com/api/v1/environments/feature-login/runs/1/log"
	log2 := "https://previewd.example.com/api/v1/environments/feature-login/runs/2/log"
	url := "https://feature-login.preview.example.com"
	wantStatuses := []map[string]any{
		{"deployment_id": dep1, "state": "in_progress", "description": "Deploying aaaa111", "log_url": log1},
		{"deployment_id": dep1, "state": "success", "description": "Deployed aaaa111", "log_url": log1, "environment_url": url},
		{"deployment_id": dep1, "state": "inactive", "description": "Superseded or destroyed"},
		{"deployment_id": dep2, "state": "in_progress", "description": "Deploying bbbb222", "log_url": log2},
		{"deployment_id": dep2, "state": "success", "description": "Deployed bbbb222", "log_url": log2, "environment_url": url},
		{"deployment_id": dep2, "state": "inactive", "description": "Environment destroyed"},
	}
	if !reflect.DeepEqual(deploymentStatuses, wantStatuses) {
		t.Errorf("deployment statuses =\n%v\nwant\n%v", deploymentStatuses, wantStatuses)
	}
	// In App mode the verdict is a check run, one per commit, updated in
	// place from queued to in progress to its conclusion; no commit status.
	if len(statuses) != 0 {
		t.Errorf("commit statuses = %v, want none in App mode", statuses)
	}
	for _, sha := range []string{shaA, shaB} {
		runs := f.runsOf(sha)
		want := "Preview of " + sha[:7] + " is ready at " + url
		if len(runs) != 1 || runs[0].Name != "previewd" || runs[0].Status != "completed" || runs[0].Conclusion != "success" ||
			runs[0].Title != want || runs[0].Writes != 3 || !strings.Contains(runs[0].Summary, url) {
			t.Errorf("check runs on %s = %+v, want one previewd run, written 3 times (queued, in progress, completed), success: %q", sha[:7], runs, want)
		}
	}
	if runs := f.runsOf(shaB); len(runs) == 1 && (env.CommitStatus.CheckRunID != runs[0].ID || env.CommitStatus.State != "success" ||
		env.CommitStatus.URL == "" || env.CommitStatus.SHA != shaB) {
		t.Errorf("env.CommitStatus = %+v, want check run %d, success on %s", env.CommitStatus, runs[0].ID, shaB[:7])
	}
	if want := (preview.Deployment{ID: dep2.(int64), SHA: shaB, State: "inactive"}); env.Deployment != want {
		t.Errorf("env.Deployment = %+v, want %+v", env.Deployment, want)
	}
	if comments := f.issueComments(42); len(comments) != 1 || !strings.Contains(comments[0].Body, "destroyed") {
		t.Errorf("comments = %+v, want one, showing destroyed", comments)
	}

	checkAppAuth(t, f, 101)
}

// checkAppAuth checks who authenticated each request of an end-to-end run
// on installation id's repositories.
func checkAppAuth(t *testing.T, f *fakeGitHub, id int64) {
	t.Helper()
	var lookups, tokens int
	var tokenNumbers []string
	for _, r := range f.recorded() {
		path := strings.TrimPrefix(r.Path, f.prefix)
		switch {
		case strings.HasSuffix(path, "/installation"):
			lookups++
			if r.Auth != "jwt" {
				t.Errorf("%s %s authenticated as %q, want the App's JWT", r.Method, path, r.Auth)
			}
		case strings.HasSuffix(path, "/access_tokens"):
			tokens++
			if r.Auth != "jwt" || path != fmt.Sprintf("/app/installations/%d/access_tokens", id) {
				t.Errorf("%s %s authenticated as %q, want the App's JWT for installation %d", r.Method, path, r.Auth, id)
			}
		default:
			prefix := fmt.Sprintf("installation:%d:", id)
			if !strings.HasPrefix(r.Auth, prefix) || strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
				t.Errorf("%s %s authenticated as %q (%.10s…), want an installation token of %d", r.Method, path, r.Auth, r.Header.Get("Authorization"), id)
			}
			tokenNumbers = append(tokenNumbers, strings.TrimPrefix(r.Auth, prefix))
		}
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "previewd-test") && !strings.HasSuffix(path, "/access_tokens") {
			t.Errorf("%s %s User-Agent = %q, want previewd-test", r.Method, path, ua)
		}
	}
	if lookups != 1 {
		t.Errorf("installation looked up %d times, want once (then cached)", lookups)
	}
	if tokens != 2 {
		t.Errorf("%d installation tokens requested, want 2 (the first expires within the refresh margin)", tokens)
	}
	// The first request used token 1; it was refreshed on the next, and
	// token 2 served the rest.
	if len(tokenNumbers) < 3 || tokenNumbers[0] != "1" || slices.ContainsFunc(tokenNumbers[1:], func(n string) bool { return n != "2" }) {
		t.Errorf("tokens used in order = %v, want 1 then only 2", tokenNumbers)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, claims := range f.app.jwts {
		if claims.Iss != fmt.Sprint(testAppID) || claims.Exp-claims.Iat > 600 {
			t.Errorf("JWT claims %+v, want iss %d and at most 10 minutes", claims, testAppID)
		}
	}
}

func TestAppRepositories(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.maxPage = 1
	c := newTestApp(t, f, map[int64][]string{
		101: {"acme/shop", "acme/api"},
		202: {"other/site"},
		303: {"gone/suspended"},
	}, newFakeClock())
	f.mu.Lock()
	f.app.suspended[303] = true
	f.mu.Unlock()

	got, err := c.Repositories(context.Background())
	if err != nil {
		t.Fatalf("Repositories: %v", err)
	}
	if want := []string{"acme/api", "acme/shop", "other/site"}; !slices.Equal(got, want) {
		t.Errorf("Repositories = %q, want %q", got, want)
	}
	var listings []string
	for _, r := range f.recorded() {
		if r.Path == "/installation/repositories" {
			listings = append(listings, r.Auth)
		}
		if r.Path == "/app/installations" && r.Auth != "jwt" {
			t.Errorf("GET /app/installations authenticated as %q, want jwt", r.Auth)
		}
	}
	if want := []string{"installation:101:1", "installation:101:1", "installation:202:1"}; !slices.Equal(listings, want) {
		t.Errorf("GET /installation/repositories authenticated as %q, want %q", listings, want)
	}

	// Repositories taught the client which installation serves what: no
	// look-up is needed now.
	f.addPull(7, "open", "x", "ccc333", "carol", "other/site", "other/site")
	pr, err := c.GetPullRequest(context.Background(), "other/site", 7)
	if err != nil {
		t.Fatalf("GetPullRequest: %v", err)
	}
	if pr.InstallationID != 202 {
		t.Errorf("InstallationID = %d, want 202", pr.InstallationID)
	}
	for _, r := range f.recorded() {
		if strings.HasSuffix(r.Path, "/installation") {
			t.Errorf("unexpected installation look-up %s", r.Path)
		}
	}
}

func TestAppErrors(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	ctx := context.Background()

	// A repository the App is not installed on.
	_, err := c.GetPullRequest(ctx, "stranger/repo", 1)
	if preview.ErrorCode(err) != preview.ENOTFOUND || !strings.Contains(preview.ErrorMessage(err), "not installed on stranger/repo") {
		t.Errorf("not installed: err = %v, want not_found saying so", err)
	}

	// An installation that is gone: GitHub refuses it a token.
	env := testEnv()
	env.Desired = preview.Desired{Present: true, PROpen: true, InstallationID: 999}
	_, err = c.SyncComment(ctx, env)
	if preview.ErrorCode(err) != preview.ENOTFOUND || !strings.Contains(preview.ErrorMessage(err), "installation 999") {
		t.Errorf("installation gone: err = %v, want not_found naming installation 999", err)
	}

	// The JWT of another key is refused.
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := NewApp(Config{BaseURL: f.URL(), AppID: testAppID, Render: render, Retry: newFakeClock().policy(),
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.GetPullRequest(ctx, "acme/shop", 1); preview.ErrorCode(err) != preview.EUNAUTHORIZED {
		t.Errorf("wrong key: err = %v, want unauthorized", err)
	}
}

func TestNewAppConfig(t *testing.T) {
	_, keyPEM := testAppKey(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	notAKey := []byte("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n-----END RSA PRIVATE KEY-----\n")
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"PEM", Config{AppID: 1, PrivateKeyPEM: keyPEM, Render: render}, ""},
		{"key file", Config{AppID: 1, PrivateKeyFile: keyFile, Render: render}, ""},
		{"GHES", Config{AppID: 1, PrivateKeyPEM: keyPEM, Render: render, BaseURL: "https://ghe.example.com/api/v3"}, ""},
		{"no render", Config{AppID: 1, PrivateKeyPEM: keyPEM}, "Render is required"},
		{"no app ID", Config{PrivateKeyPEM: keyPEM, Render: render}, "app ID must be positive"},
		{"no key", Config{AppID: 1, Render: render}, "private key (PEM or file) is required"},
		{"missing key file", Config{AppID: 1, PrivateKeyFile: filepath.Join(dir, "nope.pem"), Render: render}, "read private key"},
		{"not a key", Config{AppID: 1, PrivateKeyPEM: notAKey, Render: render}, "private key"},
		{"bad base URL", Config{AppID: 1, PrivateKeyPEM: keyPEM, Render: render, BaseURL: "ghe.example.com"}, "absolute http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewApp(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || c == nil || c.app == nil {
					t.Fatalf("NewApp = %v, %v; want an App-mode client", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "c2VjcmV0") || strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error %q quotes the key", err)
			}
		})
	}
}

func TestTokenModeRepositories(t *testing.T) {
	f := newFakeGitHub(t, "")
	_, err := newTestClient(t, f, nil).Repositories(context.Background())
	if preview.ErrorCode(err) != preview.EINVALID || !strings.Contains(preview.ErrorMessage(err), "list them in the configuration") {
		t.Errorf("err = %v, want invalid, pointing at the configuration", err)
	}
	wantRequests(t, f)
}

// TestAppInstallationsConcurrently refreshes tokens of several installations
// at once; run with -race.
func TestAppInstallationsConcurrently(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}, 202: {"other/site"}, 303: {"third/app"}}, newFakeClock())
	var wg sync.WaitGroup
	for i, repo := range []string{"acme/shop", "other/site", "third/app", "acme/shop", "other/site", "third/app"} {
		wg.Go(func() {
			env := testEnv()
			env.Repo, env.PR = repo, i+1
			env.Desired = preview.Desired{Present: true, PROpen: true}
			if _, err := c.SyncCommitStatus(context.Background(), env); err != nil {
				t.Errorf("SyncCommitStatus on %s: %v", repo, err)
			}
		})
	}
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ownRuns) != 6 {
		t.Errorf("%d check runs created, want 6", len(f.ownRuns))
	}
}

// TestGitToken gives git the installation's token for the repository in
// App mode, and the configured token in token mode.
func TestGitToken(t *testing.T) {
	ctx := context.Background()
	f := newFakeGitHub(t, "")
	app := newTestApp(t, f, map[int64][]string{7: {"acme/infra"}}, newFakeClock())
	if token, err := app.GitToken(ctx, "acme/infra"); err != nil || token != "ghs_installation7token1" {
		t.Errorf("App mode: %q, %v; want installation 7's token", token, err)
	}
	if _, err := app.GitToken(ctx, "other/repo"); preview.ErrorCode(err) != preview.ENOTFOUND {
		t.Errorf("a repository the App is not installed on: %v, want not_found", err)
	}
	if token, err := newTestClient(t, newFakeGitHub(t, ""), nil).GitToken(ctx, "acme/infra"); err != nil || token != testToken {
		t.Errorf("token mode: %q, %v", token, err)
	}
}
