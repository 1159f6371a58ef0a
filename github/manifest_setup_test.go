package github

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/appsetup"
	"github.com/previewd/previewd/internal/waittest"
	"gopkg.in/yaml.v3"
)

// This file runs previewd setup's whole exchange: a real setup server
// (appsetup) in front of ManifestClient and the fake GitHub, whose
// requests are checked against GitHub's OpenAPI description.

type setupRun struct {
	t       *testing.T
	fake    *fakeGitHub
	base    string // the setup server's URL
	h       *appsetup.Handler
	stdout  *waittest.Buffer
	served  chan error
	webBase string
}

var setupManifest = NewManifest("previewd-acme", "https://previewd.example.com", Features{WaitForChecks: true})

// startSetup starts a setup server for f writing to out, wired as
// previewd setup wires it.
func startSetup(t *testing.T, f *fakeGitHub, org string, out appsetup.Output) *setupRun {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &setupRun{t: t, fake: f, base: "http://" + ln.Addr().String(), stdout: &waittest.Buffer{}, served: make(chan error, 1)}
	m := setupManifest
	m.RedirectURL = s.base + appsetup.CallbackPath
	newApp, err := NewAppURL(f.URL(), org)
	if err != nil {
		t.Fatal(err)
	}
	s.webBase, _ = WebURL(f.URL())
	mc, err := NewManifestClient(f.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.h, err = appsetup.New(appsetup.Options{Manifest: m, NewAppURL: newApp, Output: out, Stdout: s.stdout,
		Convert: func(ctx context.Context, code string) (appsetup.Credentials, error) {
			c, err := mc.ConvertManifest(ctx, code)
			return appsetup.Credentials(c), err
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { s.served <- appsetup.Serve(ctx, ln, s.h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.served:
		case <-time.After(10 * time.Second):
			t.Error("the setup server did not stop")
		}
	})
	return s
}

var (
	formAction   = regexp.MustCompile(`<form action="([^"]*)" method="post">`)
	formManifest = regexp.MustCompile(`<input type="hidden" name="manifest" value="([^"]*)">`)
)

// page GETs the setup page and returns the form's action and manifest,
// checked against GitHub's registration page and NewManifest.
func (s *setupRun) page(wantPath string) (state string) {
	t := s.t
	t.Helper()
	status, body := s.get("/")
	if status != http.StatusOK {
		t.Fatalf("GET /: %d %s", status, body)
	}
	a, m := formAction.FindStringSubmatch(body), formManifest.FindStringSubmatch(body)
	if a == nil || m == nil {
		t.Fatalf("GET /: no form with a manifest in %s", body)
	}
	action, err := url.Parse(html.UnescapeString(a[1]))
	if err != nil {
		t.Fatal(err)
	}
	state = action.Query().Get("state")
	if got := action.Scheme + "://" + action.Host + action.Path; got != s.webBase+wantPath || len(state) < 32 {
		t.Errorf("the form posts to %s, want %s?state=<random>", action, s.webBase+wantPath)
	}
	var got Manifest
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &got); err != nil {
		t.Fatalf("manifest %s: %v", m[1], err)
	}
	want := setupManifest
	want.RedirectURL = s.base + appsetup.CallbackPath
	if !reflect.DeepEqual(got, want) {
		t.Errorf("manifest %+v, want %+v", got, want)
	}
	return state
}

func (s *setupRun) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// conversions counts the exchanges GitHub saw.
func (s *setupRun) conversions() int {
	n := 0
	for _, m := range s.fake.methods() {
		if strings.HasPrefix(m, "POST /app-manifests/") {
			n++
		}
	}
	return n
}

func (s *setupRun) waitStopped() {
	s.t.Helper()
	select {
	case err := <-s.served:
		if err != nil {
			s.t.Errorf("Serve: %v", err)
		}
		s.served <- err // for the cleanup
	case <-time.After(10 * time.Second):
		s.t.Fatal("the setup server is still serving after the credentials were written")
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestSetupRegistersTheApp goes through the manifest flow as a browser
// would, on github.com's paths for a user and on a GitHub Enterprise
// Server's for an organisation: a forged state is refused with nothing
// exchanged; GitHub's redirect back is exchanged once; the key and the
// secret are written 0600 with a snippet naming them; the server stops; a
// replayed state is refused.
func TestSetupRegistersTheApp(t *testing.T) {
	_, pem := testAppKey(t)
	for _, c := range []struct{ prefix, org, path string }{
		{"", "", "/settings/apps/new"},
		{"/api/v3", "acme", "/organizations/acme/settings/apps/new"},
	} {
		t.Run("prefix="+c.prefix, func(t *testing.T) {
			f := newFakeGitHub(t, c.prefix)
			dir := filepath.Join(t.TempDir(), "out")
			s := startSetup(t, f, c.org, appsetup.Output{Dir: dir, APIURL: f.URL()})
			state := s.page(c.path)
			app := f.addManifestCode("a1b2c3", setupManifest, string(pem))

			for _, forged := range []string{"", "0123", strings.Repeat("f", 64)} {
				if status, body := s.get(appsetup.CallbackPath + "?code=a1b2c3&state=" + forged); status != http.StatusForbidden {
					t.Errorf("callback with state %q: %d %s, want 403", forged, status, body)
				}
			}
			if n, files := s.conversions(), listDir(t, dir); n != 0 || len(files) != 0 {
				t.Fatalf("after forged states: %d conversions, files %v; want none", n, files)
			}

			status, body := s.get(appsetup.CallbackPath + "?code=a1b2c3&state=" + state)
			if status != http.StatusOK || !strings.Contains(body, "previewd check") || !strings.Contains(body, "previewd serve") {
				t.Fatalf("callback: %d %s, want 200 and the next commands", status, body)
			}
			if strings.Contains(body, app["webhook_secret"].(string)) || strings.Contains(body, "PRIVATE KEY") {
				t.Errorf("the page shows a secret: %s", body)
			}
			s.waitStopped()
			if n := s.conversions(); n != 1 {
				t.Errorf("%d conversions, want 1", n)
			}
			for name, want := range map[string]string{appsetup.KeyFile: string(pem), appsetup.SecretFile: app["webhook_secret"].(string)} {
				p := filepath.Join(dir, name)
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
				}
				if got, _ := os.ReadFile(p); string(got) != want {
					t.Errorf("%s holds %q, want %q", name, got, want)
				}
			}
			var snippet struct {
				GitHub struct {
					APIURL  string `yaml:"api_url"`
					AppID   int64  `yaml:"app_id"`
					KeyFile string `yaml:"app_private_key_file"`
				} `yaml:"github"`
			}
			data, _ := os.ReadFile(filepath.Join(dir, appsetup.ConfigFile))
			if err := yaml.Unmarshal(data, &snippet); err != nil {
				t.Fatalf("%s: %v", data, err)
			}
			if g := snippet.GitHub; g.AppID != app["id"].(int64) || g.KeyFile != filepath.Join(dir, appsetup.KeyFile) || g.APIURL != f.URL() ||
				!strings.Contains(string(data), "PREVIEWD_WEBHOOK_SECRET") {
				t.Errorf("snippet %s: want app_id %v, the key file and how to pass the secret", data, app["id"])
			}

			// The same redirect again, once the server is gone, at the handler.
			rec := httptest.NewRecorder()
			s.h.ServeHTTP(rec, httptest.NewRequest("GET", appsetup.CallbackPath+"?code=a1b2c3&state="+state, nil))
			if rec.Code != http.StatusForbidden || s.conversions() != 1 {
				t.Errorf("replayed state: %d, %d conversions; want 403 and still 1", rec.Code, s.conversions())
			}
		})
	}
}

// TestSetupFailedConversion: GitHub refusing the code (404, 422) gives an
// error page naming the failure, and nothing is written.
func TestSetupFailedConversion(t *testing.T) {
	f := newFakeGitHub(t, "/api/v3")
	f.script["POST /app-manifests/refused/conversions"] = []fakeResponse{{Status: http.StatusUnprocessableEntity, Message: "Validation Failed"}}
	dir := t.TempDir()
	s := startSetup(t, f, "", appsetup.Output{Dir: dir})
	for _, c := range []struct{ code, want string }{{"unknown", "404"}, {"refused", "422"}} {
		state := s.page("/settings/apps/new")
		status, body := s.get(appsetup.CallbackPath + "?code=" + c.code + "&state=" + state)
		if status != http.StatusBadGateway || !strings.Contains(body, c.want) || !strings.Contains(body, "Nothing was written") {
			t.Errorf("code %s: %d %s, want 502 saying %s and that nothing was written", c.code, status, body, c.want)
		}
	}
	if files := listDir(t, dir); len(files) != 0 {
		t.Errorf("files %v written after failed conversions", files)
	}
}

// TestSetupKeepsExistingFiles: an existing key file stops the callback
// before the code is spent and is left as it was; with Force it is
// replaced, 0600.
func TestSetupKeepsExistingFiles(t *testing.T) {
	_, pem := testAppKey(t)
	f := newFakeGitHub(t, "")
	dir := t.TempDir()
	old := filepath.Join(dir, appsetup.KeyFile)
	if err := os.WriteFile(old, []byte("old key"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSetup(t, f, "", appsetup.Output{Dir: dir})
	state := s.page("/settings/apps/new")
	f.addManifestCode("k1", setupManifest, string(pem))
	status, body := s.get(appsetup.CallbackPath + "?code=k1&state=" + state)
	if got, _ := os.ReadFile(old); status != http.StatusConflict || string(got) != "old key" || s.conversions() != 0 {
		t.Fatalf("existing file: %d %s, file %q, %d conversions; want 409, the old key and none", status, body, got, s.conversions())
	}
	if files := listDir(t, dir); len(files) != 1 {
		t.Errorf("files %v, want only the old key", files)
	}

	forced := startSetup(t, f, "", appsetup.Output{Dir: dir, Force: true})
	state = forced.page("/settings/apps/new")
	if status, body := forced.get(appsetup.CallbackPath + "?code=k1&state=" + state); status != http.StatusOK {
		t.Fatalf("--force: %d %s", status, body)
	}
	fi, err := os.Stat(old)
	if got, _ := os.ReadFile(old); err != nil || string(got) != string(pem) || fi.Mode().Perm() != 0o600 {
		t.Errorf("--force: key %q (%v), want the new key, 0600", got, err)
	}
}

// TestSetupKubernetes prints a Secret with the keys previewd's Kubernetes
// manifest reads, and writes no file.
func TestSetupKubernetes(t *testing.T) {
	_, pem := testAppKey(t)
	f := newFakeGitHub(t, "")
	dir := t.TempDir()
	s := startSetup(t, f, "acme", appsetup.Output{Dir: dir, Kubernetes: true})
	state := s.page("/organizations/acme/settings/apps/new")
	app := f.addManifestCode("k8s", setupManifest, string(pem))
	if status, body := s.get(appsetup.CallbackPath + "?code=k8s&state=" + state); status != http.StatusOK || !strings.Contains(body, "app_id") {
		t.Fatalf("callback: %d %s", status, body)
	}
	s.waitStopped()
	var secret struct {
		APIVersion string                `yaml:"apiVersion"`
		Kind       string                `yaml:"kind"`
		Metadata   struct{ Name string } `yaml:"metadata"`
		Data       map[string]string     `yaml:"data"`
	}
	out := s.stdout.String()
	if err := yaml.Unmarshal([]byte(out), &secret); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if secret.APIVersion != "v1" || secret.Kind != "Secret" || secret.Metadata.Name != "previewd" || len(secret.Data) != 2 {
		t.Errorf("printed %s, want the Secret previewd with two keys", out)
	}
	for key, want := range map[string]string{"github-app-private-key": string(pem), "webhook-secret": app["webhook_secret"].(string)} {
		if got, err := base64.StdEncoding.DecodeString(secret.Data[key]); err != nil || string(got) != want {
			t.Errorf("data[%s] = %q (%v), want %q", key, got, err, want)
		}
	}
	deploy, err := os.ReadFile("../deploy/kubernetes/previewd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for key := range secret.Data {
		if !strings.Contains(string(deploy), "key: "+key) {
			t.Errorf("deploy/kubernetes/previewd.yaml reads no key %s", key)
		}
	}
	if files := listDir(t, dir); len(files) != 0 {
		t.Errorf("files %v written with --kubernetes", files)
	}
}
