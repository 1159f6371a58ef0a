package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/waittest"
)

// appGitHub wraps the end-to-end fake GitHub with what a GitHub App needs:
// it checks the App's RS256 JWT with the App's public key, issues an
// installation token, and records which credential each request carried.
type appGitHub struct {
	*fakeGitHub
	appID int64
	key   *rsa.PublicKey
	mu    sync.Mutex
	auth  map[string][]string // path → Authorization headers
}

func (a *appGitHub) handler() http.Handler {
	repo := a.fakeGitHub.handler()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/acme/shop/installation", func(w http.ResponseWriter, r *http.Request) {
		if !a.validJWT(w, r) {
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id": 99, "app_id": a.appID, "account": map[string]any{"login": "acme"}})
	})
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", func(w http.ResponseWriter, r *http.Request) {
		if !a.validJWT(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"token": "ghs_installation_" + r.PathValue("id"), "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	})
	mux.HandleFunc("GET /app/installations", func(w http.ResponseWriter, r *http.Request) {
		if a.validJWT(w, r) {
			json.NewEncoder(w).Encode([]any{map[string]any{"id": 99, "app_id": a.appID, "account": map[string]any{"login": "acme"}}})
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.auth[r.URL.Path] = append(a.auth[r.URL.Path], r.Header.Get("Authorization"))
		a.mu.Unlock()
		repo.ServeHTTP(w, r)
	})
	return mux
}

// validJWT checks the bearer JWT's RS256 signature and its iss claim.
func (a *appGitHub) validJWT(w http.ResponseWriter, r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(token, ".")
	fail := func(why string) bool {
		http.Error(w, `{"message":"`+why+`"}`, http.StatusUnauthorized)
		return false
	}
	if !ok || len(parts) != 3 {
		return fail("no JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || rsa.VerifyPKCS1v15(a.key, crypto.SHA256, digest[:], sig) != nil {
		return fail("bad JWT signature")
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss      json.RawMessage `json:"iss"`
		Exp, Iat int64
	}
	if json.Unmarshal(payload, &claims) != nil || strings.Trim(string(claims.Iss), `"`) != fmt.Sprint(a.appID) || claims.Exp-claims.Iat > 600 {
		return fail("bad JWT claims")
	}
	return true
}

// TestAppModeLifecycle runs previewd as a GitHub App: the JWT is checked,
// a token is issued for the installation the payload names, and every
// repository call carries that installation token, never the JWT.
func TestAppModeLifecycle(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	gh := &appGitHub{fakeGitHub: &fakeGitHub{comments: map[int64]string{}}, appID: 4242, key: &key.PublicKey, auth: map[string][]string{}}
	srv := httptest.NewServer(gh.handler())
	defer srv.Close()
	module, _ := filepath.Abs("testdata/module")
	p := startPreviewd(t, map[string]string{
		"PREVIEWD_MODULE_DIR": module, "PREVIEWD_GITHUB_APP_ID": "4242", "PREVIEWD_GITHUB_APP_PRIVATE_KEY_FILE": keyFile,
		"PREVIEWD_GITHUB_API_URL": srv.URL + "/",
	})
	sha := strings.Repeat("c", 40)
	p.send(prEvent{"opened", "app/mode", sha, 1, time.Now().Add(-time.Hour)})
	p.waitFor("app-mode", "ready", readyAt(sha))
	waittest.Until(t, "a comment, a successful deployment and check run", func() bool {
		bodies, _, _ := gh.snapshot()
		_, depStatuses, _, _ := gh.github()
		runs := gh.runs()
		return len(bodies) == 1 && strings.Contains(bodies[0], "is ready") && len(depStatuses) > 0 && depStatuses[len(depStatuses)-1] == "1 success" &&
			len(runs) > 0 && runs[0].Conclusion == "success"
	})
	// The verdict is a check run, written in place; no commit status.
	if _, _, statuses, _ := gh.github(); len(statuses) != 0 {
		t.Errorf("commit statuses %v, want none in App mode", statuses)
	}
	if runs := gh.runs(); runs[0].SHA != sha || runs[0].Name != "previewd" || !strings.Contains(runs[0].Title, "is ready") || !slices.Equal(runs[0].Actions, []string{"redeploy"}) {
		t.Errorf("check runs %+v, want the previewd run on %s, ready", runs, sha[:7])
	}
	gh.mu.Lock()
	defer gh.mu.Unlock()
	if len(gh.auth) == 0 {
		t.Fatal("no repository call was made")
	}
	for path, headers := range gh.auth {
		if !strings.HasPrefix(path, "/repos/") {
			continue
		}
		for _, h := range headers {
			if h != "token ghs_installation_99" {
				t.Errorf("%s was called with %q, want the installation token", path, h)
			}
		}
	}
}

// fakeOwnRun is a check run previewd wrote in App mode.
type fakeOwnRun struct {
	SHA, Name, Status, Conclusion, Title, Summary string
	Annotations                                   []string // "path:line level", every one ever added
	Actions                                       []string // the buttons' identifiers
}

// writeCheckRun creates a check run (POST), updates one (PATCH
// …/check-runs/{id}) or reads one (GET), as GitHub does.
func (f *fakeGitHub) writeCheckRun(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name       string `json:"name"`
		HeadSHA    string `json:"head_sha"`
		Status     string `json:"status"`
		Conclusion string `json:"conclusion"`
		Actions    []struct {
			Identifier string `json:"identifier"`
		} `json:"actions"`
		Output *struct {
			Title       string `json:"title"`
			Summary     string `json:"summary"`
			Annotations []struct {
				Path            string `json:"path"`
				StartLine       int    `json:"start_line"`
				AnnotationLevel string `json:"annotation_level"`
			} `json:"annotations"`
		} `json:"output"`
	}
	if r.Method != http.MethodGet {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, `{"message":"Problems parsing JSON"}`, http.StatusBadRequest)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := len(f.ownRuns) + 1
	if r.PathValue("id") != "" {
		id, _ = strconv.Atoi(r.PathValue("id"))
		if id < 1 || id > len(f.ownRuns) {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
	} else {
		f.ownRuns = append(f.ownRuns, fakeOwnRun{SHA: in.HeadSHA, Name: in.Name, Status: "queued"})
	}
	run := &f.ownRuns[id-1]
	if in.Status != "" {
		run.Status = in.Status
	}
	if in.Conclusion != "" {
		run.Status, run.Conclusion = "completed", in.Conclusion
	}
	if in.Actions != nil {
		run.Actions = nil
		for _, a := range in.Actions {
			run.Actions = append(run.Actions, a.Identifier)
		}
	}
	if o := in.Output; o != nil {
		run.Title, run.Summary = o.Title, o.Summary
		for _, a := range o.Annotations {
			run.Annotations = append(run.Annotations, fmt.Sprintf("%s:%d %s", a.Path, a.StartLine, a.AnnotationLevel))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusCreated)
	}
	json.NewEncoder(w).Encode(map[string]any{"id": id, "head_sha": run.SHA, "name": run.Name, "status": run.Status,
		"html_url": fmt.Sprintf("https://github.com/acme/shop/runs/%d", id),
		"output":   map[string]any{"title": run.Title, "summary": run.Summary}})
}

// runs returns copies of the check runs previewd wrote.
func (f *fakeGitHub) runs() []fakeOwnRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ownRuns)
}
