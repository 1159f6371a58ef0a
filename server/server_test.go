package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/apitest"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/store"
	"github.com/previewd/previewd/store/postgres"
	"github.com/previewd/previewd/webhooks"
)

const (
	secret = "It's a Secret to Everybody"
	token  = "admin-token-for-tests"
)

type fakeController struct {
	mu          sync.Mutex
	nudged      []string
	driftChecks []string
	watched     []string // repositories whose production was asked to be looked at
	ready       bool
}

func (f *fakeController) NudgeModules() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nudged = append(f.nudged, "modules")
}

func (f *fakeController) NudgeChecks(commit preview.Commit) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nudged = append(f.nudged, "checks of "+commit.Repo+"@"+commit.SHA)
}

func (f *fakeController) Nudge(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nudged = append(f.nudged, name)
}

func (f *fakeController) Ready() bool { return f.ready }

func (f *fakeController) NudgeCommands() {}

func (f *fakeController) CheckDrift(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.driftChecks = append(f.driftChecks, name)
}

func (f *fakeController) WatchProduction(repo string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watched = append(f.watched, repo)
}

// failingRecorder stands in for a store whose disk is full.
type failingRecorder struct{}

func (failingRecorder) RecordPullRequest(context.Context, string, preview.PullRequest) (preview.RecordResult, error) {
	return preview.RecordResult{}, errors.New("write previewd.db: no space left on device")
}

func (failingRecorder) RecordCommand(context.Context, string, preview.Command) (bool, error) {
	return false, errors.New("write previewd.db: no space left on device")
}

type fixture struct {
	srv    *httptest.Server
	server *server.Server
	db     *store.DB
	ctrl   *fakeController
}

func newFixture(t *testing.T, deliveries server.Deliveries) *fixture {
	t.Helper()
	return newConfiguredFixture(t, deliveries, nil)
}

// newConfiguredFixture is newFixture with its configuration changed by
// configure, given the fixture's store.
func newConfiguredFixture(t *testing.T, deliveries server.Deliveries, configure func(*server.Config, *store.DB)) *fixture {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if deliveries == nil {
		deliveries = webhooks.NewIntake([]byte(secret), db, nil)
	}
	ctrl := &fakeController{ready: true}
	cfg := server.Config{AdminToken: token, TTL: time.Hour, Store: db, Deliveries: deliveries, Controller: ctrl}
	if configure != nil {
		configure(&cfg, db)
	}
	s := server.New(cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, server: s, db: db, ctrl: ctrl}
}

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func prPayload(action string, number int, branch, sha string, updated time.Time) []byte {
	state := "open"
	if action == "closed" {
		state = "closed"
	}
	return fmt.Appendf(nil, `{"action":%q,"number":%d,"pull_request":{"number":%d,"state":%q,"draft":false,
"updated_at":%q,"user":{"login":"octocat"},"labels":[],
"head":{"ref":%q,"sha":%q,"repo":{"full_name":"acme/shop"}},"base":{"ref":"main","sha":"b","repo":{"full_name":"acme/shop"}}},
"repository":{"full_name":"acme/shop"}}`, action, number, number, state, updated.UTC().Format(time.RFC3339), branch, sha)
}

func (f *fixture) deliver(t *testing.T, event, delivery string, body []byte, signature string) (*http.Response, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestWebhookStatusCodes(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now()
	good := prPayload("opened", 1, "feature/a", "aaa", now)
	tests := []struct {
		name, event, signature string
		body                   []byte
		want                   int
	}{
		{"signed pull request", "pull_request", sign(good), good, http.StatusAccepted},
		{"missing signature", "pull_request", "", good, http.StatusUnauthorized},
		{"wrong signature", "pull_request", sign([]byte("other")), good, http.StatusUnauthorized},
		{"sha1 only", "pull_request", "sha1=0123456789abcdef0123456789abcdef01234567", good, http.StatusUnauthorized},
		{"not json", "pull_request", sign([]byte("nope")), []byte("nope"), http.StatusBadRequest},
		{"pull request without head", "pull_request", sign([]byte(`{"action":"opened","number":1,"pull_request":{}}`)), []byte(`{"action":"opened","number":1,"pull_request":{}}`), http.StatusBadRequest},
		{"ping", "ping", sign([]byte(`{"zen":"Keep it logically awesome."}`)), []byte(`{"zen":"Keep it logically awesome."}`), http.StatusAccepted},
		{"unused event", "workflow_job", sign([]byte(`{"action":"queued"}`)), []byte(`{"action":"queued"}`), http.StatusAccepted},
		{"a push", "push", sign([]byte(`{"ref":"refs/heads/main","after":"abc","repository":{"full_name":"acme/infra"}}`)), []byte(`{"ref":"refs/heads/main","after":"abc","repository":{"full_name":"acme/infra"}}`), http.StatusAccepted},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := f.deliver(t, tt.event, fmt.Sprintf("delivery-%d", i), tt.body, tt.signature)
			if resp.StatusCode != tt.want {
				t.Errorf("status: got %d want %d (body %v)", resp.StatusCode, tt.want, out)
			}
			if resp.StatusCode >= 400 && out["error"] == "" {
				t.Errorf("error response has no JSON error: %v", out)
			}
		})
	}
}

func TestWebhookTooLarge(t *testing.T) {
	f := newFixture(t, nil)
	body := bytes.Repeat([]byte(" "), server.MaxWebhookBody+1)
	resp, _ := f.deliver(t, "pull_request", "big", body, sign(body))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status: got %d want 413", resp.StatusCode)
	}
}

func TestWebhookRecordsBeforeAnsweringAndDeduplicates(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 7, "Feature/Login", "abc", time.Now())
	resp, out := f.deliver(t, "pull_request", "d-1", body, sign(body))
	if resp.StatusCode != http.StatusAccepted || out["result"] != "changed" || out["environment"] != "feature-login" {
		t.Fatalf("first delivery: got %d %v", resp.StatusCode, out)
	}
	// Stored by the time the answer came.
	env, err := f.db.FindEnvironmentByName(context.Background(), "feature-login")
	if err != nil || env.HeadSHA != "abc" || env.PR != 7 {
		t.Fatalf("stored environment: got %+v (err %v)", env, err)
	}
	if _, out := f.deliver(t, "pull_request", "d-1", body, sign(body)); out["result"] != "duplicate" {
		t.Errorf("redelivery: got %v, want duplicate", out)
	}
	if got := len(f.ctrl.nudged); got != 1 {
		t.Errorf("nudges: got %d want 1", got)
	}
}

func TestWebhookStoreFailureIsA5xx(t *testing.T) {
	f := newFixture(t, webhooks.NewIntake([]byte(secret), failingRecorder{}, nil))
	body := prPayload("opened", 1, "a", "a", time.Now())
	resp, out := f.deliver(t, "pull_request", "d", body, sign(body))
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(out["error"], "no space") {
		t.Errorf("got %d %v; want 503 without internals", resp.StatusCode, out)
	}
}

func (f *fixture) api(t *testing.T, method, path, bearer string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestAdminAPI(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 3, "feature/x", "abc", time.Now())
	f.deliver(t, "pull_request", "d", body, sign(body))

	for _, bearer := range []string{"", "wrong", token + "x"} {
		if resp, body := f.api(t, "GET", "/api/v1/environments", bearer); resp.StatusCode != 401 || !strings.Contains(string(body), `"error"`) {
			t.Errorf("token %q: got %d %s, want 401 with a JSON error", bearer, resp.StatusCode, body)
		}
	}
	resp, raw := f.api(t, "GET", "/api/v1/environments", token)
	var list []map[string]any
	if err := json.Unmarshal(raw, &list); err != nil || resp.StatusCode != 200 || len(list) != 1 {
		t.Fatalf("list: got %d %s", resp.StatusCode, raw)
	}
	for _, field := range []string{"name", "repo", "pr", "branch", "head_sha", "status", "url", "created_at", "updated_at", "expires_at", "last_error"} {
		if _, ok := list[0][field]; !ok {
			t.Errorf("environment JSON lacks %q: %s", field, raw)
		}
	}
	if list[0]["repo"] != "acme/shop" || list[0]["name"] != "feature-x" {
		t.Errorf("list: got %v", list[0])
	}
	if resp, _ := f.api(t, "GET", "/api/v1/environments/nope", token); resp.StatusCode != 404 {
		t.Errorf("unknown environment: got %d want 404", resp.StatusCode)
	}
	resp, raw = f.api(t, "POST", "/api/v1/environments/feature-x/redeploy", token)
	var env preview.Environment
	json.Unmarshal(raw, &env)
	if resp.StatusCode != 202 || env.Desired.Generation != 1 {
		t.Errorf("redeploy: got %d generation %d", resp.StatusCode, env.Desired.Generation)
	}
	resp, raw = f.api(t, "DELETE", "/api/v1/environments/feature-x", token)
	json.Unmarshal(raw, &env)
	if resp.StatusCode != 202 || env.Desired.Present {
		t.Errorf("delete: got %d present %v", resp.StatusCode, env.Desired.Present)
	}
	// A closed pull request cannot be redeployed.
	closed := prPayload("closed", 3, "feature/x", "abc", time.Now().Add(time.Minute))
	f.deliver(t, "pull_request", "d2", closed, sign(closed))
	if resp, raw := f.api(t, "POST", "/api/v1/environments/feature-x/redeploy", token); resp.StatusCode != 409 {
		t.Errorf("redeploy of a closed pull request: got %d %s want 409", resp.StatusCode, raw)
	}
	if resp, raw := f.api(t, "GET", "/api/v1/environments/feature-x/runs", token); resp.StatusCode != 200 || string(raw) != "[]\n" {
		t.Errorf("runs: got %d %q", resp.StatusCode, raw)
	}
}

func TestAdminAPIDisabledWithoutToken(t *testing.T) {
	db, _ := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{})
	defer db.Close()
	s := server.New(server.Config{Store: db, Deliveries: webhooks.NewIntake([]byte(secret), db, nil), Controller: &fakeController{}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, bearer := range []string{"", "anything"} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/environments", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("token %q with the API disabled: got %d want 401", bearer, resp.StatusCode)
		}
	}
}

func TestProbesAndMetrics(t *testing.T) {
	f := newFixture(t, nil)
	if resp, _ := f.api(t, "GET", "/healthz", ""); resp.StatusCode != 200 {
		t.Errorf("healthz: got %d", resp.StatusCode)
	}
	if resp, _ := f.api(t, "GET", "/readyz", ""); resp.StatusCode != 200 {
		t.Errorf("readyz: got %d", resp.StatusCode)
	}
	f.ctrl.ready = false
	if resp, _ := f.api(t, "GET", "/readyz", ""); resp.StatusCode != 503 {
		t.Errorf("readyz with the reconciler stopped: got %d want 503", resp.StatusCode)
	}
	body := prPayload("opened", 1, "a", "a", time.Now())
	f.deliver(t, "pull_request", "m", body, sign(body))
	resp, raw := f.api(t, "GET", "/metrics", "")
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `previewd_webhook_deliveries_total{event="pull_request",result="changed"} 1`) {
		t.Errorf("metrics: got %d\n%s", resp.StatusCode, raw)
	}
}

// TestMetricsTokenAndListener: with a metrics token a scrape must present
// it (the admin token is not it); with a metrics address /metrics is
// served there alone, on a listener of its own, and not on the main one.
func TestMetricsTokenAndListener(t *testing.T) {
	const scrapeToken = "metrics-token-for-tests"
	tests := []struct {
		name          string
		token, addr   string
		mainServes    bool // the main listener answers /metrics at all
		separateServe bool
	}{
		{"open on the main listener", "", "", true, false},
		{"a token on the main listener", scrapeToken, "", true, false},
		{"a listener of its own", "", "127.0.0.1:0", false, true},
		{"a listener of its own and a token", scrapeToken, "127.0.0.1:0", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(filepath.Join(t.TempDir(), "previewd.db"), store.Options{TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			s := server.New(server.Config{AdminToken: token, Store: db, Deliveries: webhooks.NewIntake([]byte(secret), db, nil),
				Controller: &fakeController{ready: true}, MetricsToken: tt.token, MetricsAddr: tt.addr})
			main := httptest.NewServer(s.Handler())
			defer main.Close()
			scrapes := main.URL
			if tt.separateServe {
				l, err := net.Listen("tcp", tt.addr)
				if err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- s.ServeMetrics(l) }()
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					if err := s.Shutdown(ctx); err != nil {
						t.Errorf("shutdown: %v", err)
					}
					if err := <-done; err != nil {
						t.Errorf("serve metrics: %v", err)
					}
				}()
				scrapes = "http://" + l.Addr().String()
			}
			scrape := func(base, bearer string) (int, string) {
				t.Helper()
				req, _ := http.NewRequest("GET", base+"/metrics", nil)
				if bearer != "" {
					req.Header.Set("Authorization", "Bearer "+bearer)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				out, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(out)
			}
			if !tt.mainServes {
				for _, bearer := range []string{"", scrapeToken} {
					if code, _ := scrape(main.URL, bearer); code != http.StatusNotFound {
						t.Errorf("/metrics on the main listener: got %d, want 404", code)
					}
				}
				for _, path := range []string{"/healthz", "/webhooks/github"} {
					resp, err := http.Get(scrapes + path)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusNotFound {
						t.Errorf("%s on the metrics listener: got %d, want 404", path, resp.StatusCode)
					}
				}
			}
			wantWithout := http.StatusOK
			if tt.token != "" {
				wantWithout = http.StatusUnauthorized
				for _, bearer := range []string{"wrong", token} {
					if code, _ := scrape(scrapes, bearer); code != http.StatusUnauthorized {
						t.Errorf("a scrape with %q: got %d, want 401", bearer, code)
					}
				}
			}
			if code, out := scrape(scrapes, ""); code != wantWithout {
				t.Errorf("a scrape without a token: got %d, want %d\n%.300s", code, wantWithout, out)
			}
			if code, out := scrape(scrapes, scrapeToken); code != http.StatusOK || !strings.Contains(out, "previewd_webhook_deliveries_total") {
				t.Errorf("a scrape with the metrics token: got %d\n%.300s", code, out)
			}
		})
	}
}

func TestBackupEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	resp, raw := f.api(t, "GET", "/api/v1/backup", token)
	if resp.StatusCode != 200 || len(raw) < 4096 {
		t.Errorf("backup: got %d, %d bytes", resp.StatusCode, len(raw))
	}
	// The PostgreSQL store, backed up with PostgreSQL's own tools, refuses
	// before a byte: an error answer, not an empty 200.
	url, _ := pgtest.Database(t)
	pg, err := postgres.Open(context.Background(), url, postgres.Options{TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	f.server = server.New(server.Config{AdminToken: token, TTL: time.Hour, Store: pg, Deliveries: webhooks.NewIntake([]byte(secret), pg, nil), Controller: f.ctrl})
	f.srv.Config.Handler = f.server.Handler()
	resp, raw = f.api(t, "GET", "/api/v1/backup", token)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), "pg_dump") {
		t.Errorf("a backup the store refuses: got %d %q, want 400 saying why", resp.StatusCode, raw)
	}
}

// TestFetchBackup fetches the backup as previewd backup --url does: the
// database whole with the admin token, and without one an error that says
// which token to set.
func TestFetchBackup(t *testing.T) {
	f := newFixture(t, nil)
	var got bytes.Buffer
	if n, err := server.FetchBackup(context.Background(), f.srv.URL+"/", token, &got); err != nil || n < 4096 || int64(got.Len()) != n {
		t.Errorf("with the token: got %d bytes (%d written), %v", n, got.Len(), err)
	}
	got.Reset()
	_, err := server.FetchBackup(context.Background(), f.srv.URL, "", &got)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "set PREVIEWD_ADMIN_TOKEN") || got.Len() > 0 {
		t.Errorf("without a token: got %v, %d bytes; want a 401 naming PREVIEWD_ADMIN_TOKEN", err, got.Len())
	}
}

func TestDashboard(t *testing.T) {
	db, _ := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{TTL: time.Hour})
	defer db.Close()
	var shown []preview.Environment
	s := server.New(server.Config{AdminToken: token, Store: db, Deliveries: webhooks.NewIntake([]byte(secret), db, nil), Controller: &fakeController{},
		Dashboard: func(w io.Writer, envs []preview.Environment, _ server.ListQuery) error {
			shown = envs
			_, err := fmt.Fprintf(w, "<p>%d environments</p>", len(envs))
			return err
		}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	db.RecordPullRequest(context.Background(), "", preview.PullRequest{Repo: "acme/shop", Number: 1, Open: true, HeadSHA: "a", Branch: "dash", UpdatedAt: time.Now()})
	get := func(user, password string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/dashboard", nil)
		if password != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get("", ""); resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: got %d %q, want 401 asking for Basic", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp := get("admin", "wrong"); resp.StatusCode != 401 {
		t.Errorf("wrong password: got %d", resp.StatusCode)
	}
	if resp := get("anyone", token); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("admin token as password: got %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if len(shown) != 1 || shown[0].Name != "dash" {
		t.Errorf("the dashboard was given %+v, want the one environment", shown)
	}
}

func TestParityEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 4, "parity/x", "abc", time.Now())
	f.deliver(t, "pull_request", "p1", body, sign(body))
	if resp, raw := f.api(t, "GET", "/api/v1/environments/parity-x/parity", token); resp.StatusCode != 404 || !strings.Contains(string(raw), "no parity check") {
		t.Errorf("before a check: got %d %s, want 404", resp.StatusCode, raw)
	}
	checked := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f.db.UpdateEnvironment(context.Background(), "parity-x", func(e *preview.Environment) error {
		e.Parity = preview.ParityReport{Status: preview.ParityDrift, CheckedAt: checked, Findings: []preview.Finding{
			{Kind: preview.FindingConfigKey, Subject: "payments: RATE_LIMIT", Production: "present", Preview: "missing", Reason: "not declared"},
		}}
		return nil
	})
	resp, raw := f.api(t, "GET", "/api/v1/environments/parity-x/parity", token)
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %d %s", resp.StatusCode, raw)
	}
	findings, _ := got["findings"].([]any)
	first, _ := findings[0].(map[string]any)
	if got["status"] != "drift" || got["checked_at"] != "2026-11-01T00:00:00Z" || len(findings) != 1 || first["kind"] != "config_key" || first["declared"] != false {
		t.Errorf("report: got %s", raw)
	}
	for _, field := range []string{"kind", "subject", "production", "preview", "declared", "reason"} {
		if _, ok := first[field]; !ok {
			t.Errorf("finding lacks %q: %s", field, raw)
		}
	}
}

func TestAdminDeleteRetriesADestroyThatGaveUp(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 5, "gave/up", "abc", time.Now())
	f.deliver(t, "pull_request", "g1", body, sign(body))
	f.db.UpdateEnvironment(context.Background(), "gave-up", func(e *preview.Environment) error {
		e.Desired.Present, e.Status, e.LastPhase, e.Attempts = false, preview.StatusFailed, preview.PhaseDestroy, 5
		return nil
	})
	if resp, _ := f.api(t, "DELETE", "/api/v1/environments/gave-up", token); resp.StatusCode != 202 {
		t.Fatalf("delete: got %d", resp.StatusCode)
	}
	env, _ := f.db.FindEnvironmentByName(context.Background(), "gave-up")
	if env.Attempts != 0 || env.NextAction(time.Now(), 5) != preview.ActionDestroy {
		t.Errorf("after DELETE: attempts %d, next %q; want the destroy retried", env.Attempts, env.NextAction(time.Now(), 5))
	}
}

func TestAdminRedeployRefusesAnUnapprovedForkHead(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 6, "patch-1", "abc", time.Now())
	body = bytes.Replace(body, []byte(`"head":{"ref":"patch-1","sha":"abc","repo":{"full_name":"acme/shop"}}`), []byte(`"head":{"ref":"patch-1","sha":"abc","repo":{"full_name":"stranger/shop"}}`), 1)
	f.deliver(t, "pull_request", "f1", body, sign(body))
	if resp, raw := f.api(t, "POST", "/api/v1/environments/patch-1/redeploy", token); resp.StatusCode != 409 || !strings.Contains(string(raw), "preview:approved") {
		t.Errorf("redeploy of an unapproved fork head: got %d %s, want 409 naming the label", resp.StatusCode, raw)
	}
}

func TestSignedLogLinks(t *testing.T) {
	db, _ := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{})
	defer db.Close()
	logPath := filepath.Join(t.TempDir(), "run.log")
	os.WriteFile(logPath, []byte("$ terraform apply\nApply complete!\n"), 0o600)
	res, _ := db.RecordPullRequest(context.Background(), "", preview.PullRequest{Repo: "acme/shop", Number: 3, Open: true, HeadSHA: "abc", Branch: "feature/x", UpdatedAt: time.Now()})
	run, _ := db.CreateRun(context.Background(), preview.Run{Environment: res.Environment.Name, Repo: "acme/shop", PR: 3, Phase: preview.PhaseApply, LogPath: logPath})
	links := server.NewLogLinks([]byte("key"), "http://previewd.test", time.Hour)
	s := server.New(server.Config{Store: db, Deliveries: webhooks.NewIntake([]byte(secret), db, nil), Controller: &fakeController{}, LogLinks: links})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	link := links.Link(run.ID)
	if !strings.HasPrefix(link, "http://previewd.test/logs/feature-x/") {
		t.Fatalf("link: got %q", link)
	}
	get := func(u string) (int, string) {
		resp, err := http.Get(strings.Replace(u, "http://previewd.test", srv.URL, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(link); code != 200 || !strings.Contains(body, "Apply complete!") {
		t.Errorf("valid link: got %d %q", code, body)
	}
	u, _ := url.Parse(link)
	q := u.Query()
	tampered := *u
	q2 := url.Values{"expires": {q.Get("expires")}, "signature": {strings.Repeat("0", 64)}}
	tampered.RawQuery = q2.Encode()
	if code, _ := get(tampered.String()); code != 401 {
		t.Errorf("wrong signature: got %d, want 401", code)
	}
	other := strings.Replace(link, "/logs/feature-x/", "/logs/feature-y/", 1)
	if code, _ := get(other); code != 401 {
		t.Errorf("a signature for another environment: got %d, want 401", code)
	}
	expired := server.NewLogLinks([]byte("key"), "http://previewd.test", -2*time.Hour).Link(run.ID)
	if code, _ := get(expired); code != 401 {
		t.Errorf("expired link: got %d, want 401", code)
	}
}

func TestListRejectsBadFilters(t *testing.T) {
	f := newFixture(t, nil)
	for _, q := range []string{"?status=bogus", "?live=maybe"} {
		if resp, raw := f.api(t, "GET", "/api/v1/environments"+q, token); resp.StatusCode != 400 || !strings.Contains(string(raw), `"error"`) {
			t.Errorf("%s: got %d %s, want 400", q, resp.StatusCode, raw)
		}
	}
	if resp, _ := f.api(t, "GET", "/api/v1/environments?status=ready&live=false", token); resp.StatusCode != 200 {
		t.Errorf("good filters: got %d", resp.StatusCode)
	}
}

// TestAPIAnswersWithItsOwnTypes: the list and an environment answer with
// the API's encoding, not the store's (no bookkeeping such as attempted
// heads or log paths), the list shows a change as soon as it is stored, and
// list and single answers agree.
func TestAPIAnswersWithItsOwnTypes(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 3, "feature/x", "abc", time.Now())
	f.deliver(t, "pull_request", "d", body, sign(body))
	ctx := context.Background()
	f.db.UpdateEnvironment(ctx, "feature-x", func(e *preview.Environment) error {
		e.Status, e.LastError, e.AttemptedSHA, e.LastPhase = preview.StatusFailed, "boom", "abc", preview.PhaseApply
		e.Attempts, e.Transient, e.RetryAt = 1, true, time.Now().Add(time.Minute)
		return nil
	})
	list := func() []byte {
		_, raw := f.api(t, "GET", "/api/v1/environments", token)
		return raw
	}
	first := list()
	for _, internal := range []string{"attempted_sha", "attempted_generation", "last_phase", "log_path", "installation_id"} {
		if bytes.Contains(first, []byte(`"`+internal+`"`)) {
			t.Errorf("the list shows the store's %q: %s", internal, first)
		}
	}
	if !bytes.Contains(first, []byte(`"retry":{"phase":"apply","attempts":1,`)) {
		t.Errorf("a failed environment's retry: %s", first)
	}
	f.db.UpdateEnvironment(ctx, "feature-x", func(e *preview.Environment) error { e.LastError = "changed"; return nil })
	second := list()
	if !bytes.Contains(second, []byte(`"last_error":"changed"`)) {
		t.Errorf("the list after a change: %s", second)
	}
	_, one := f.api(t, "GET", "/api/v1/environments/feature-x", token)
	if got, want := strings.TrimSpace(string(one)), strings.TrimSuffix(strings.TrimPrefix(string(second), "["), "]"); got != want {
		t.Errorf("one environment:\n%s\nin the list:\n%s", got, want)
	}
}

// TestOpenAPIDescriptionIsServed: the description is served behind the
// token and is a valid OpenAPI 3 document naming every admin route.
func TestOpenAPIDescriptionIsServed(t *testing.T) {
	f := newFixture(t, nil)
	if resp, _ := f.api(t, "GET", "/api/v1/openapi.json", ""); resp.StatusCode != 401 {
		t.Errorf("without the token: %d, want 401", resp.StatusCode)
	}
	resp, raw := f.api(t, "GET", "/api/v1/openapi.json", token)
	if resp.StatusCode != 200 || !bytes.Equal(raw, server.OpenAPI()) {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	apitest.Router(t) // loads and validates it
	for _, route := range f.server.Routes() {
		if strings.HasPrefix(route, "/api/v1/") && !strings.HasSuffix(route, "*") && !bytes.Contains(raw, []byte(`"`+route+`"`)) {
			t.Errorf("route %s is not in the description", route)
		}
	}
}

// TestOperatorActions: extend, keep and unkeep through the admin API, with
// the rules every operator action follows: a duration is required, and an
// extension stops at the maximum a kept environment lives.
func TestOperatorActions(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 3, "feature/x", "abc", time.Now())
	f.deliver(t, "pull_request", "d", body, sign(body))
	before, _ := f.db.FindEnvironmentByName(context.Background(), "feature-x")
	resp, raw := f.api(t, "POST", "/api/v1/environments/feature-x/extend?by=2d", token)
	var env server.Environment
	json.Unmarshal(raw, &env)
	if resp.StatusCode != 202 || env.ExpiresAt.Sub(before.ExpiresAt).Round(time.Minute) != 48*time.Hour {
		t.Errorf("extend by 2d: %d, expiry %s → %s", resp.StatusCode, before.ExpiresAt, env.ExpiresAt)
	}
	f.api(t, "POST", "/api/v1/environments/feature-x/extend?by=9999h", token)
	if e, _ := f.db.FindEnvironmentByName(context.Background(), "feature-x"); e.ExpiresAt.After(time.Now().Add(30*24*time.Hour + time.Minute)) {
		t.Errorf("extended past the maximum: %s", e.ExpiresAt)
	}
	for _, by := range []string{"", "soon", "-1h"} {
		if resp, _ := f.api(t, "POST", "/api/v1/environments/feature-x/extend?by="+by, token); resp.StatusCode != 400 {
			t.Errorf("extend by %q: %d, want 400", by, resp.StatusCode)
		}
	}
	for verb, want := range map[string]bool{"keep": true, "unkeep": false} {
		resp, raw := f.api(t, "POST", "/api/v1/environments/feature-x/"+verb, token)
		env = server.Environment{}
		json.Unmarshal(raw, &env)
		if resp.StatusCode != 202 || env.Desired.Pinned != want {
			t.Errorf("%s: %d pinned %v", verb, resp.StatusCode, env.Desired.Pinned)
		}
	}
	if resp, _ := f.api(t, "POST", "/api/v1/environments/nope/keep", token); resp.StatusCode != 404 {
		t.Errorf("keep an unknown environment: %d", resp.StatusCode)
	}
}

// TestEnvironmentShowsItsCheckRuns: in App mode the environment's
// verdicts are check runs; the API gives their ids and pages.
func TestEnvironmentShowsItsCheckRuns(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 4, "parity/x", "abc", time.Now())
	f.deliver(t, "pull_request", "p1", body, sign(body))
	f.db.UpdateEnvironment(context.Background(), "parity-x", func(e *preview.Environment) error {
		e.ParityStatus = preview.CommitStatus{SHA: "abc", State: "failure", CheckRunID: 77, URL: "https://github.com/acme/shop/runs/77", Digest: "d"}
		return nil
	})
	resp, raw := f.api(t, "GET", "/api/v1/environments/parity-x", token)
	var got struct {
		ParityStatus map[string]any `json:"parity_status"`
	}
	if err := json.Unmarshal(raw, &got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %d %s", resp.StatusCode, raw)
	}
	if p := got.ParityStatus; p["check_run_id"] != float64(77) || p["url"] != "https://github.com/acme/shop/runs/77" || p["state"] != "failure" || p["digest"] != nil {
		t.Errorf("parity_status = %v, want the check run's id, page and state (and nothing of previewd's bookkeeping)", p)
	}
}

// TestDatabaseEndpoint answers what the preview's database held (404
// before a watch), in seconds, with the verdict.
func TestDatabaseEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 4, "parity/x", "abc", time.Now())
	f.deliver(t, "pull_request", "p1", body, sign(body))
	if resp, raw := f.api(t, "GET", "/api/v1/environments/parity-x/database", token); resp.StatusCode != 404 || !strings.Contains(string(raw), "not been watched") {
		t.Errorf("before a watch: got %d %s, want 404", resp.StatusCode, raw)
	}
	prod := 1.4e6
	f.db.UpdateEnvironment(context.Background(), "parity-x", func(e *preview.Environment) error {
		e.Database = preview.DatabaseReport{Watched: true, SHA: "abc", Samples: 80, From: time.Unix(0, 0), To: time.Unix(6, 0),
			DeclaredData: []string{"database_template"},
			Holds: []preview.LockHold{{Relation: "orders", Statement: "CREATE INDEX i ON orders (t)", ReadStatement: "ALTER TABLE orders ADD c int", HeldBeforeWatch: true,
				Mode: "ShareLock", BlockedWrites: 6200 * time.Millisecond, Rows: 200, ProductionRows: &prod}}}
		e.Database.Verdict = e.Database.Judge(preview.MigrationLimits{MaxWriteBlock: 5 * time.Second, MinShare: 0.1})
		return nil
	})
	resp, raw := f.api(t, "GET", "/api/v1/environments/parity-x/database", token)
	var got struct {
		Watched bool
		Holds   []map[string]any
		Verdict struct{ Status string }
	}
	if err := json.Unmarshal(raw, &got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %d %s", resp.StatusCode, raw)
	}
	if !got.Watched || got.Verdict.Status != "failure" || len(got.Holds) != 1 || got.Holds[0]["blocked_writes_seconds"] != 6.2 ||
		got.Holds[0]["production_rows"] != 1.4e6 || got.Holds[0]["statement"] != "CREATE INDEX i ON orders (t)" ||
		got.Holds[0]["read_statement"] != "ALTER TABLE orders ADD c int" || got.Holds[0]["held_before_watch"] != true ||
		!strings.Contains(string(raw), `"declared_data":["database_template"]`) {
		t.Errorf("report: %s", raw)
	}
}
