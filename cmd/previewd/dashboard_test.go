package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/previewd/previewd/internal/waittest"
)

// browser is an HTTP client that keeps cookies and does not follow
// redirects, as the tests look at each answer.
type browser struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
}

func (b *browser) do(method, path string, form url.Values, header map[string]string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp, string(page)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestDashboardSessionsAndActions: a browser is sent to the login form,
// logs in with the admin token into an HttpOnly, SameSite=Strict session
// cookie, filters the list, opens an environment's page (its parity
// report, runs, inputs and log), and redeploys it with the page's form.
// Forged requests are refused: without the CSRF token, from another
// origin, or with Basic credentials a browser would send on its own.
func TestDashboardSessionsAndActions(t *testing.T) {
	module, _ := filepath.Abs("testdata/module")
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": module})
	t0 := time.Now().Add(-time.Hour)
	p.send(prEvent{"opened", "dash-one", "sha1", 1, t0})
	p.send(prEvent{"opened", "dash-two", "sha2", 2, t0})
	p.waitFor("dash-one", "ready and checked", func(e apiEnvironment) bool { return e.Status == "ready" && e.Parity.SHA == "sha1" })
	p.waitFor("dash-two", "ready and checked", func(e apiEnvironment) bool { return e.Status == "ready" && e.Parity.SHA == "sha2" })
	b := &browser{t: t, base: p.base}

	if resp, _ := b.do("GET", "/dashboard", nil, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("a browser without a session: %d %q, want the login form", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, page := b.do("GET", "/login", nil, nil); resp.StatusCode != 200 || !strings.Contains(page, `name="token"`) {
		t.Fatalf("login form: %d", resp.StatusCode)
	}
	if resp, page := b.do("POST", "/login", url.Values{"token": {"wrong"}}, nil); resp.StatusCode != 401 || !strings.Contains(page, "not the admin token") || len(resp.Cookies()) > 0 {
		t.Errorf("a wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp, _ := b.do("POST", "/login", url.Values{"token": {testToken}}, map[string]string{"X-Forwarded-Proto": "https"})
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	b.cookie = resp.Cookies()[0]
	if !b.cookie.HttpOnly || b.cookie.SameSite != http.SameSiteStrictMode || !b.cookie.Secure {
		t.Errorf("session cookie: %+v, want HttpOnly, SameSite=Strict, Secure behind HTTPS", b.cookie)
	}
	if strings.Contains(b.cookie.Value, testToken) {
		t.Error("the session cookie carries the admin token")
	}

	resp, page := b.do("GET", "/dashboard", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `href="/dashboard/environments/dash-one"`) || !strings.Contains(page, `href="https://github.com/acme/shop/pull/1"`) {
		t.Fatalf("the list: %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	for query, want := range map[string][]string{
		"?q=one": {"dash-one"}, "?q=%232": {"dash-two"}, "?status=ready": {"dash-one", "dash-two"},
		"?status=failed": nil, "?repo=acme/shop&parity=ok": {"dash-one", "dash-two"}, "?parity=drift": nil,
	} {
		_, page := b.do("GET", "/dashboard"+query, nil, nil)
		for _, name := range []string{"dash-one", "dash-two"} {
			if shown := strings.Contains(page, "/dashboard/environments/"+name+`"`); shown != slices.Contains(want, name) {
				t.Errorf("%s: %s shown %v, want %v", query, name, shown, !shown)
			}
		}
	}

	resp, page = b.do("GET", "/dashboard/environments/dash-one", nil, nil)
	m := csrfField.FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("the environment's page: %d, no CSRF token in its forms\n%s", resp.StatusCode, page)
	}
	csrf := m[1]
	for _, want := range []string{"Parity with production", `id="runs"`, `id="history"`, "succeeded", "<code>environment</code>", "Apply complete!", `action="/dashboard/environments/dash-one/redeploy"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the environment's page lacks %q", want)
		}
	}

	// Forged requests change nothing.
	before := p.waitFor("dash-one", "", func(apiEnvironment) bool { return true })
	for name, forged := range map[string]struct {
		form   url.Values
		header map[string]string
		cookie bool
	}{
		"no CSRF token":       {url.Values{}, nil, true},
		"a wrong CSRF token":  {url.Values{"csrf": {"x" + csrf}}, nil, true},
		"another origin":      {url.Values{"csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}, true},
		"a cross-site fetch":  {url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		"Basic credentials":   {url.Values{"csrf": {csrf}}, map[string]string{"Authorization": "Basic " + basic("admin", testToken)}, false},
		"a bearer token only": {url.Values{"csrf": {csrf}}, map[string]string{"Authorization": "Bearer " + testToken}, false},
	} {
		fb := &browser{t: t, base: p.base}
		if forged.cookie {
			fb.cookie = b.cookie
		}
		if resp, _ := fb.do("POST", "/dashboard/environments/dash-one/destroy", forged.form, forged.header); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	if after := p.waitFor("dash-one", "", func(apiEnvironment) bool { return true }); after.Status != "ready" || after.Comment.Body != before.Comment.Body {
		t.Errorf("a forged request changed the environment: %s", after.Status)
	}

	resp, _ = b.do("POST", "/dashboard/environments/dash-one/redeploy", url.Values{"csrf": {csrf}}, map[string]string{"Origin": p.base, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/environments/dash-one?done=redeploy" {
		t.Fatalf("redeploy from the page: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = b.do("GET", resp.Header.Get("Location"), nil, nil)
	if !strings.Contains(page, "Redeploy queued.") {
		t.Error("the page does not say the redeploy was queued")
	}
	p.waitFor("dash-one", "redeployed", func(e apiEnvironment) bool {
		var runs []struct{ Phase, State string }
		p.get("/api/v1/environments/dash-one/runs", &runs)
		return e.Status == "ready" && len(runs) == 2 && runs[1].State == "succeeded"
	})
	if resp, page := b.do("POST", "/dashboard/environments/dash-one/extend", url.Values{"csrf": {csrf}, "by": {"soon"}}, nil); resp.StatusCode != 400 || !strings.Contains(page, "Extend by a duration") {
		t.Errorf("extend by a bad duration: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/dashboard/environments/dash-one/keep", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("keep: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/logout", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", resp.StatusCode)
	}

	// Guessing the token: a few tries, then 429 for this address.
	guesser := &browser{t: t, base: p.base}
	codes := []int{}
	for range 7 {
		resp, _ := guesser.do("POST", "/login", url.Values{"token": {"guess"}}, nil)
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 401 || codes[len(codes)-1] != http.StatusTooManyRequests {
		t.Errorf("failed logins answered %v, want 401s then 429", codes)
	}
}

func basic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// TestFollowARunningLog reads a running apply's log with ?follow=true:
// its first bytes come while Terraform still runs, and the answer ends
// once the run has, with the whole log.
func TestFollowARunningLog(t *testing.T) {
	module, _ := filepath.Abs("testdata/slow")
	p := startPreviewd(t, map[string]string{"PREVIEWD_MODULE_DIR": module})
	p.send(prEvent{"opened", "follow", "sha1", 1, time.Now().Add(-time.Hour)})
	type run struct{ ID, State string }
	runs := waittest.ForWithin(t, time.Minute, "a run started, its log begun", func() []run {
		var runs []run
		p.get("/api/v1/environments/follow/runs", &runs)
		return runs
	}, func(runs []run) bool {
		return len(runs) > 0 && runs[0].State == "running" && p.runLog(runs[0].ID).Code == 200
	})
	seq := runs[0].ID[strings.LastIndexByte(runs[0].ID, '/')+1:]
	req, _ := http.NewRequest("GET", p.base+"/api/v1/environments/follow/runs/"+seq+"/log?follow=true", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	// A transport of its own: the description check reads whole answers.
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 64)
	if _, err := io.ReadAtLeast(resp.Body, first, 1); err != nil {
		t.Fatal(err)
	}
	var now []struct{ State string }
	p.get("/api/v1/environments/follow/runs", &now)
	if len(now) != 1 || now[0].State != "running" {
		t.Errorf("the first bytes came after the run: %+v", now)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if log := string(first) + string(rest); !strings.Contains(log, "Apply complete!") || !strings.Contains(log, "succeeded") {
		t.Errorf("the followed log does not end with the run:\n%s", log)
	}
}
