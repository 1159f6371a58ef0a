package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/server"
	"github.com/previewd/previewd/store"
	"github.com/previewd/previewd/templates"
	"github.com/prometheus/client_golang/prometheus"
)

// watchedProduction is the store's watches and the repositories the
// configuration watches.
type watchedProduction struct {
	*store.DB
	watched map[string]time.Duration
}

func (w watchedProduction) Watched() map[string]time.Duration { return w.watched }

// driftWatch is a watch of acme/shop at at that found production's
// connection limit changed by hand and a file gone, with the drift issue
// 12 open.
func driftWatch(at time.Time) preview.ProductionWatch {
	return preview.ProductionWatch{Repo: "acme/shop", At: at, Took: 4200 * time.Millisecond, Ignored: 2, Issue: 12,
		Module: preview.ModuleVersion{Source: "git::https://github.com/acme/infra.git//shop", Ref: "main", Commit: "0123456789abcdef0123456789abcdef01234567"},
		Findings: []preview.ProductionFinding{
			{Kind: preview.ProductionChangedOutside, Address: "postgresql_role.app", Path: "connection_limit", Live: "400", Module: "200", Where: "main.tf:31"},
			{Kind: preview.ProductionDeletedOutside, Address: `local_file.motd["a b"]`, Where: "files.tf:4"},
		}}
}

// newProductionFixture serves acme/shop's watches (every 6h) and
// acme/blog's (only when asked, never watched yet), with the dashboard's
// pages, on a GitHub Enterprise Server.
func newProductionFixture(t *testing.T) *fixture {
	t.Helper()
	const ghe = "https://ghe.example.com/api/v3/"
	return newConfiguredFixture(t, nil, func(cfg *server.Config, db *store.DB) {
		pages := server.Pages{GitHubAPIURL: ghe}
		cfg.Production = watchedProduction{DB: db, watched: map[string]time.Duration{"acme/shop": 6 * time.Hour, "acme/blog": 0}}
		cfg.GitHubAPIURL = ghe
		cfg.Dashboard, cfg.Environment, cfg.ProductionPage = pages.Dashboard, pages.Environment, pages.Production
		cfg.Login = templates.RenderLogin
		cfg.Stylesheets = templates.Stylesheets()
	})
}

// TestProductionAPI: the list shows every watched repository by name with
// its interval and last watch (null before the first); a repository's
// watches come newest first, 20 unless ?limit= says otherwise, in the
// API's own encoding; a look is asked for by the configured name; a
// repository not watched is 404.
func TestProductionAPI(t *testing.T) {
	f := newProductionFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25 {
		w := preview.ProductionWatch{Repo: "acme/shop", At: t0.Add(time.Duration(i) * time.Hour), Took: time.Second, Findings: []preview.ProductionFinding{}}
		if err := f.db.RecordProductionWatch(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	failed := preview.ProductionWatch{Repo: "acme/shop", At: t0.Add(30 * time.Hour), Took: 3 * time.Second, Error: "read production's state: AccessDenied", Issue: 12}
	last := driftWatch(t0.Add(31 * time.Hour))
	for _, w := range []preview.ProductionWatch{failed, last} {
		if err := f.db.RecordProductionWatch(ctx, w); err != nil {
			t.Fatal(err)
		}
	}

	resp, raw := f.api(t, "GET", "/api/v1/production", token)
	var list []server.ProductionRepo
	if err := json.Unmarshal(raw, &list); err != nil || resp.StatusCode != 200 || len(list) != 2 {
		t.Fatalf("list: got %d %s", resp.StatusCode, raw)
	}
	if list[0].Repo != "acme/blog" || list[0].IntervalSeconds != 0 || list[0].Last != nil || !strings.Contains(string(raw), `"last":null`) {
		t.Errorf("a repository never watched: got %+v, want acme/blog first, only when asked, last null", list[0])
	}
	if list[1].Repo != "acme/shop" || list[1].IntervalSeconds != 6*3600 || list[1].Last == nil || !list[1].Last.At.Equal(last.At) {
		t.Fatalf("acme/shop: got %+v, want every 6h with its last watch", list[1])
	}
	got := *list[1].Last
	want := server.ProductionWatch{Repo: "acme/shop", At: last.At, TookSeconds: 4.2, Module: last.Module, Status: "drift", Ignored: 2, Issue: 12,
		IssueURL: "https://ghe.example.com/acme/shop/issues/12",
		Findings: []server.ProductionFinding{
			{Kind: "changed_outside", Address: "postgresql_role.app", Path: "connection_limit", Live: "400", Module: "200", Where: "main.tf:31", Text: last.Findings[0].String()},
			{Kind: "deleted_outside", Address: `local_file.motd["a b"]`, Where: "files.tf:4", Text: last.Findings[1].String()},
		}}
	if gotJSON, wantJSON := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); gotJSON != wantJSON {
		t.Errorf("the last watch:\ngot  %s\nwant %s", gotJSON, wantJSON)
	}
	for _, field := range []string{`"took_seconds":4.2`, `"text":"` + "`postgresql_role.app.connection_limit` is `400` in production"} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("the list lacks %s: %s", field, raw)
		}
	}
	for _, internal := range []string{`"took":`, `"Took"`} {
		if strings.Contains(string(raw), internal) {
			t.Errorf("the list shows the record's %s: %s", internal, raw)
		}
	}

	resp, raw = f.api(t, "GET", "/api/v1/production/ACME/Shop", token)
	var watches []server.ProductionWatch
	if err := json.Unmarshal(raw, &watches); err != nil || resp.StatusCode != 200 {
		t.Fatalf("watches: got %d %s", resp.StatusCode, raw)
	}
	if len(watches) != 20 || watches[0].Status != "drift" || watches[1].Status != "failed" || watches[1].Error != failed.Error || watches[2].Status != "ok" {
		t.Errorf("watches: got %d, statuses %v; want 20, newest first: drift, failed, ok", len(watches), statuses(watches))
	}
	for i := 1; i < len(watches); i++ {
		if !watches[i].At.Before(watches[i-1].At) {
			t.Errorf("watch %d at %s is not older than the one before (%s)", i, watches[i].At, watches[i-1].At)
		}
	}
	if watches[1].IssueURL != "https://ghe.example.com/acme/shop/issues/12" || watches[2].Issue != 0 || watches[2].IssueURL != "" || watches[2].Findings == nil {
		t.Errorf("issues and findings: %+v, %+v", watches[1], watches[2])
	}
	if _, raw := f.api(t, "GET", "/api/v1/production/acme/shop?limit=2", token); strings.Count(string(raw), `"repo":`) != 2 {
		t.Errorf("?limit=2: got %s", raw)
	}
	if _, raw := f.api(t, "GET", "/api/v1/production/acme/shop?limit=100", token); strings.Count(string(raw), `"repo":`) != 27 {
		t.Errorf("?limit=100: got %d watches, want all 27", strings.Count(string(raw), `"repo":`))
	}
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x"} {
		if resp, raw := f.api(t, "GET", "/api/v1/production/acme/shop"+q, token); resp.StatusCode != 400 {
			t.Errorf("%s: got %d %s, want 400", q, resp.StatusCode, raw)
		}
	}
	if resp, raw := f.api(t, "GET", "/api/v1/production/acme/blog", token); resp.StatusCode != 200 || string(raw) != "[]\n" {
		t.Errorf("a repository never watched: got %d %s, want an empty list", resp.StatusCode, raw)
	}

	if resp, raw := f.api(t, "GET", "/api/v1/production/acme/other", token); resp.StatusCode != 404 || !strings.Contains(string(raw), "not watched") {
		t.Errorf("a repository not watched: got %d %s, want 404", resp.StatusCode, raw)
	}
	if resp, raw := f.api(t, "POST", "/api/v1/production/acme/other/watch", token); resp.StatusCode != 404 || !strings.Contains(string(raw), "not watched") {
		t.Errorf("asking for a repository not watched: got %d %s, want 404", resp.StatusCode, raw)
	}
	if resp, raw := f.api(t, "POST", "/api/v1/production/Acme/Blog/watch", token); resp.StatusCode != 202 || string(raw) != "{\"asked\":true}\n" {
		t.Errorf("asking for a look: got %d %s, want 202 {\"asked\":true}", resp.StatusCode, raw)
	}
	if got := f.ctrl.watchedRepos(); len(got) != 1 || got[0] != "acme/blog" {
		t.Errorf("the controller was asked to watch %v, want [acme/blog] as configured", got)
	}
	for _, r := range []struct{ method, path string }{{"GET", "/api/v1/production"}, {"GET", "/api/v1/production/acme/shop"}, {"POST", "/api/v1/production/acme/shop/watch"}} {
		if resp, _ := f.api(t, r.method, r.path, ""); resp.StatusCode != 401 {
			t.Errorf("%s %s without the token: got %d, want 401", r.method, r.path, resp.StatusCode)
		}
	}
	if got := f.ctrl.watchedRepos(); len(got) != 1 {
		t.Errorf("asked without the token: the controller was asked %v", got)
	}
}

func statuses(ws []server.ProductionWatch) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Status)
	}
	return out
}

func (f *fakeController) watchedRepos() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.watched...)
}

// TestProductionAPIWithoutWatches: without Config.Production the routes
// answer that nothing is watched.
func TestProductionAPIWithoutWatches(t *testing.T) {
	f := newFixture(t, nil)
	if resp, raw := f.api(t, "GET", "/api/v1/production", token); resp.StatusCode != 200 || string(raw) != "[]\n" {
		t.Errorf("list: got %d %s, want []", resp.StatusCode, raw)
	}
	if resp, _ := f.api(t, "GET", "/api/v1/production/acme/shop", token); resp.StatusCode != 404 {
		t.Errorf("a repository's watches: got %d, want 404", resp.StatusCode)
	}
	if resp, _ := f.api(t, "POST", "/api/v1/production/acme/shop/watch", token); resp.StatusCode != 404 || len(f.ctrl.watchedRepos()) != 0 {
		t.Errorf("asking for a look: got %d, controller asked %v; want 404 and nothing asked", resp.StatusCode, f.ctrl.watchedRepos())
	}
}

// The controller tells the metrics of each watch when they can hear it.
var _ controller.ProductionMetrics = (*server.RunMetrics)(nil)

// TestProductionMetrics: each watch counts by outcome; the drift gauge is
// what the last watch that could look found, a failed watch leaving it be;
// the failure gauge says whether the last watch failed.
func TestProductionMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := server.NewRunMetrics(reg)
	type gauges struct{ drift, failed float64 }
	read := func(repo string) gauges {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var g gauges
		for _, mf := range mfs {
			for _, metric := range mf.GetMetric() {
				if l := metric.GetLabel(); len(l) != 1 || l[0].GetValue() != repo {
					continue
				}
				switch mf.GetName() {
				case "previewd_production_drift":
					g.drift = metric.GetGauge().GetValue()
				case "previewd_production_watch_failed":
					g.failed = metric.GetGauge().GetValue()
				}
			}
		}
		return g
	}
	steps := []struct {
		findings int
		failed   bool
		want     gauges
	}{
		{3, false, gauges{3, 0}},
		{0, true, gauges{3, 1}}, // nothing known of the drift: the last known stays
		{0, true, gauges{3, 1}},
		{0, false, gauges{0, 0}},
	}
	for i, s := range steps {
		m.ProductionWatched("acme/shop", s.findings, s.failed)
		if got := read("acme/shop"); got != s.want {
			t.Errorf("after watch %d (%d findings, failed %v): got %+v, want %+v", i+1, s.findings, s.failed, got, s.want)
		}
	}
	m.ProductionWatched("acme/blog", 0, true)
	if got := read("acme/blog"); got != (gauges{0, 1}) {
		t.Errorf("acme/blog, whose only watch failed: %+v", got)
	}
	counted := map[string]float64{}
	series := map[string]int{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			series[mf.GetName()]++
			if mf.GetName() == "previewd_production_watches_total" {
				labels := map[string]string{}
				for _, l := range metric.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				counted[labels["repo"]+" "+labels["outcome"]] = metric.GetCounter().GetValue()
			}
		}
	}
	wantCounted := map[string]float64{"acme/shop ok": 1, "acme/shop drift": 1, "acme/shop failed": 2, "acme/blog ok": 0, "acme/blog drift": 0, "acme/blog failed": 1}
	if fmt.Sprint(counted) != fmt.Sprint(wantCounted) {
		t.Errorf("previewd_production_watches_total: got %v, want %v (each outcome at zero from a repository's first watch)", counted, wantCounted)
	}
	if n := series["previewd_production_drift"]; n != 1 {
		t.Errorf("previewd_production_drift has %d series, want acme/shop's alone: nothing is known of acme/blog's drift", n)
	}
}

// login opens a dashboard session on f and returns its cookie and CSRF
// token, read from page.
func (f *fixture) login(t *testing.T, page string) (*http.Cookie, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(f.srv.URL+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "previewd_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("login: %d without a session cookie", resp.StatusCode)
	}
	_, body := f.page(t, "GET", page, session, nil)
	_, csrf, _ := strings.Cut(body, `name="csrf" value="`)
	csrf, _, _ = strings.Cut(csrf, `"`)
	if csrf == "" {
		t.Fatalf("%s has no CSRF token:\n%s", page, body)
	}
	return session, csrf
}

// page requests a dashboard page or posts a form with session, as a
// browser of previewd's own page does, without following redirects.
func (f *fixture) page(t *testing.T, method, path string, session *http.Cookie, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if session != nil {
		req.AddCookie(session)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readAll(t, resp)
}

// readAll reads resp's body and closes it.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestProductionPage: the list links the production page; the page shows
// each watched repository's last watch and history; "Watch now" asks the
// controller with the session's CSRF token, and is refused without it.
func TestProductionPage(t *testing.T) {
	f := newProductionFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.db.RecordProductionWatch(ctx, preview.ProductionWatch{Repo: "acme/shop", At: t0, Took: time.Second, Error: "read production's state: AccessDenied"})
	f.db.RecordProductionWatch(ctx, driftWatch(t0.Add(6*time.Hour)))

	session, csrf := f.login(t, "/dashboard")
	if _, list := f.page(t, "GET", "/dashboard", session, nil); !strings.Contains(list, `<a href="/dashboard/production" id="production">Production</a>`) {
		t.Errorf("the list does not link the production page:\n%s", list)
	}
	resp, page := f.page(t, "GET", "/dashboard/production", session, nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("the production page: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	for _, want := range []string{
		`<section class="production" id="acme/blog">`, "Looked at only when asked.", "not looked at yet",
		`<section class="production" id="acme/shop">`, "Looked at every 6h.", `<span class="status drift">drift</span>`,
		"<td>changed outside Terraform</td><td><code>postgresql_role.app.connection_limit</code></td><td><code>400</code></td><td><code>200</code></td>",
		"<code>main.tf:31</code>", "<td>deleted outside Terraform</td>", "<code>local_file.motd[&#34;a b&#34;]</code></td><td>—</td><td>—</td>",
		`<a href="https://ghe.example.com/acme/shop/issues/12">#12 on GitHub</a>`, "2 attributes listed in <code>production.ignore</code>",
		"2026-03-01 06:00 UTC, took 4.2s", "(ref main) at 0123456789abcdef0123456789abcdef01234567",
		`<td>03-01 00:00:00</td>`, `<span class="status failed">failed</span>`, "AccessDenied",
		`action="/dashboard/production/acme/shop/watch"`, `action="/dashboard/production/acme/blog/watch"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the production page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("the page:\n%s", page)
	}

	resp, _ = f.page(t, "POST", "/dashboard/production/acme/shop/watch", session, url.Values{"csrf": {"guess"}})
	if resp.StatusCode != http.StatusForbidden || len(f.ctrl.watchedRepos()) != 0 {
		t.Errorf("a post without the page's CSRF token: got %d, controller asked %v; want 403 and nothing asked", resp.StatusCode, f.ctrl.watchedRepos())
	}
	resp, _ = f.page(t, "POST", "/dashboard/production/ACME/shop/watch", session, url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/production?asked=acme%2Fshop#acme/shop" {
		t.Errorf("watch now: got %d to %q, want 303 back to the page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := f.ctrl.watchedRepos(); len(got) != 1 || got[0] != "acme/shop" {
		t.Errorf("the controller was asked to watch %v, want [acme/shop]", got)
	}
	if _, page := f.page(t, "GET", "/dashboard/production?asked=acme%2Fshop", session, nil); !strings.Contains(page, "A look at the production of acme/shop was asked for") {
		t.Errorf("the page does not say a look was asked for:\n%s", page)
	}
	if _, page := f.page(t, "GET", "/dashboard/production?asked=%3Cscript%3E%2Fx", session, nil); strings.Contains(page, "was asked for") {
		t.Errorf("the page says a look at a repository not watched was asked for")
	}
	if resp, _ := f.page(t, "POST", "/dashboard/production/acme/other/watch", session, url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("watch a repository not watched: got %d, want 404", resp.StatusCode)
	}

	// Read with the admin token as a bearer: the page, without its forms.
	req, _ := http.NewRequest("GET", f.srv.URL+"/dashboard/production", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != 200 || strings.Contains(body, "Watch now") || !strings.Contains(body, "Log in</a> to have production looked at now") {
		t.Errorf("the page read with a bearer token: %d, with forms %v", resp.StatusCode, strings.Contains(body, "Watch now"))
	}
}

// TestProductionPageWithoutWatches: the page says how to watch
// production when nothing is.
func TestProductionPageWithoutWatches(t *testing.T) {
	var b strings.Builder
	if err := (server.Pages{}).Production(&b, nil, server.PageState{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No repository's production is watched") || strings.Contains(b.String(), "Log in") {
		t.Errorf("the page without watches:\n%s", b.String())
	}
}

// TestProductionPageEscapesProduction: values come from production and
// its module, and are text.
func TestProductionPageEscapesProduction(t *testing.T) {
	hostile := `<img src=x onerror=alert(1)>`
	w := driftWatch(time.Unix(0, 0))
	w.Findings[0].Live, w.Findings[0].Module, w.Findings[0].Where = hostile, strings.Repeat("m", 5000), hostile
	w.Findings[1].Address = hostile
	failed := preview.ProductionWatch{Repo: "acme/shop", At: time.Unix(-60, 0), Error: "backend said " + hostile}
	var b strings.Builder
	err := (server.Pages{GitHubAPIURL: "javascript:alert(1)//"}).Production(&b, []server.ProductionHistory{
		{Repo: "acme/shop", Interval: 90 * time.Minute, Watches: []preview.ProductionWatch{w, failed}},
	}, server.PageState{CSRF: "token"})
	if err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "<img") || !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("a value from production is markup on the page")
	}
	if strings.Contains(page, "javascript:") {
		t.Errorf("a javascript: URL reached the page")
	}
	if strings.Count(page, "m") > 2500 {
		t.Errorf("a long value was not cut")
	}
	if !strings.Contains(page, "Looked at every 1h30m.") {
		t.Errorf("the interval: %s", page)
	}
}
