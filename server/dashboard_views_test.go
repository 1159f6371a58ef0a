package server_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/server"
)

// fakeModules answers Inputs with its inputs, or its error.
type fakeModules struct {
	inputs server.ModuleInputs
	err    error
}

func (f fakeModules) Inputs(context.Context, preview.Environment) (server.ModuleInputs, error) {
	return f.inputs, f.err
}

// TestEnvironmentPageHidesSensitiveInputs renders an environment's page
// for a module with sensitive map and list variables, and plain variables
// whose values carry their secrets: each of these shows as (sensitive),
// no secret appears anywhere on the page, and plain inputs show in clear.
// The inputs are those of testdata/sensitive-inputs in cmd/previewd with
// production's values and the declared differences of its test there.
func TestEnvironmentPageHidesSensitiveInputs(t *testing.T) {
	pages := server.Pages{Modules: fakeModules{inputs: server.ModuleInputs{
		Vars: []server.Input{
			{Name: "api_tokens", Value: []any{"prev-token-cccc"}, Sensitive: true},
			{Name: "credentials", Value: map[string]any{"user": "app", "password": "prev-pass-5678"}, Sensitive: true},
			{Name: "database_url", Value: "postgres://app:prev-pass-5678@db/preview"},
			{Name: "environment", Value: "hidden"},
			{Name: "fallback_tokens", Value: []any{"prev-token-cccc"}},
			{Name: "region", Value: "eu-west-1"},
			{Name: "replicas", Value: 1},
			{Name: "tags", Value: map[string]any{"team": "shop"}},
		},
		// The leaves of the sensitive variables' values, production's
		// and the preview's.
		Secrets: []string{"prod-token-aaaa", "prod-token-bbbb", "prev-token-cccc", "app", "prod-pass-1234", "app", "prev-pass-5678"},
	}}}
	env := preview.Environment{Name: "hidden", Repo: "acme/shop", PR: 7, Branch: "hidden", Status: preview.StatusReady}
	var page bytes.Buffer
	if err := pages.Environment(context.Background(), &page, env, nil, server.PageState{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"credentials", "api_tokens", "database_url", "fallback_tokens"} {
		if want := "<code>" + name + "</code></td><td><em>(sensitive)</em>"; !strings.Contains(page.String(), want) {
			t.Errorf("the page does not show %s as sensitive", name)
		}
	}
	for _, secret := range []string{"pass-1234", "pass-5678", "token-aaaa", "token-bbbb", "token-cccc"} {
		if strings.Contains(page.String(), secret) {
			t.Errorf("the page shows the secret %q", secret)
		}
	}
	for name, value := range map[string]string{"environment": "hidden", "tags": "map[team:shop]", "region": "eu-west-1", "replicas": "1"} {
		if want := "<code>" + name + "</code></td><td><code>" + value + "</code>"; !strings.Contains(page.String(), want) {
			t.Errorf("the page does not show %s = %s in clear", name, value)
		}
	}
	if t.Failed() {
		t.Logf("the page:\n%s", page.String())
	}
}

// TestEnvironmentPageWithoutInputs: a module that cannot be read leaves
// the page without inputs, var files included.
func TestEnvironmentPageWithoutInputs(t *testing.T) {
	pages := server.Pages{Modules: fakeModules{
		inputs: server.ModuleInputs{VarFiles: []string{"/modules/shop/production.tfvars"}},
		err:    errors.New("no module"),
	}}
	var page bytes.Buffer
	if err := pages.Environment(context.Background(), &page, preview.Environment{Name: "gone", Repo: "acme/shop", PR: 1}, nil, server.PageState{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page.String(), "production.tfvars") {
		t.Errorf("the page shows inputs of a module that cannot be read:\n%s", page.String())
	}
}

// TestEnvironmentPageShowsAWarningAsOne: a parity finding that warns
// (deploying would revert a change made to production) is a warning on the
// page, neither declared nor drift, and the verdict stays ok.
func TestEnvironmentPageShowsAWarningAsOne(t *testing.T) {
	env := preview.Environment{Name: "warned", Repo: "acme/shop", PR: 7, Status: preview.StatusReady, Parity: preview.ParityReport{
		Status: preview.ParityOK, CheckedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Findings: []preview.Finding{{
			Kind: preview.FindingRevertsProduction, Subject: "postgresql_role.app.connection_limit", Production: "400", Preview: "200",
			Location: "main.tf:12", Warning: true, Reason: "production runs `postgresql_role.app.connection_limit = 400` since a change outside Terraform",
		}}}}
	var page bytes.Buffer
	if err := (server.Pages{}).Environment(context.Background(), &page, env, nil, server.PageState{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<span class="status ok">ok</span>`, `<tr class="warning"><td>reverts_production</td>`, `<td><strong>warning</strong></td>`} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the page lacks %q:\n%s", want, page.String())
		}
	}
	if strings.Contains(page.String(), "<strong>no</strong>") || strings.Contains(page.String(), "<td>yes</td>") {
		t.Errorf("the page shows the warning as undeclared or declared:\n%s", page.String())
	}
}

// TestDashboardCosts: the list shows each environment's cost and this
// month's cost by repository, and links pull requests to GitHub's web
// site, a GitHub Enterprise Server's own host included.
func TestDashboardCosts(t *testing.T) {
	now := time.Now()
	pages := server.Pages{
		Pricing:      preview.Pricing{Repos: map[string]preview.Price{"acme/shop": {Hourly: 0.5, Currency: "€"}}},
		GitHubAPIURL: "https://ghe.example.com/api/v3/",
	}
	envs := []preview.Environment{
		{Name: "costly", Repo: "acme/shop", PR: 3, Status: preview.StatusReady, LiveSince: now.Add(-time.Hour), ExpiresAt: now.Add(71 * time.Hour)},
		{Name: "free", Repo: "acme/blog", PR: 4, Status: preview.StatusReady, LiveSince: now.Add(-time.Hour)},
	}
	var page bytes.Buffer
	if err := pages.Dashboard(&page, envs, server.ListQuery{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"€36.00 by expiry", "Estimated cost this month", "https://ghe.example.com/acme/shop/pull/3"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the list does not show %q:\n%s", want, page.String())
		}
	}
}

// TestDashboardFilters: the list selects by the stores' rule
// (preview.EnvironmentFilter: live ones, repository, status), then by
// parity verdict and search; its filters offer every status and verdict.
func TestDashboardFilters(t *testing.T) {
	at := time.Unix(1, 0)
	envs := []preview.Environment{
		{Name: "shop-ok", Repo: "acme/shop", PR: 1, Status: preview.StatusReady, AppliedSHA: "a",
			Parity: preview.ParityReport{Status: preview.ParityOK, CheckedAt: at, SHA: "a"}},
		{Name: "shop-drift", Repo: "acme/shop", PR: 2, Status: preview.StatusReady, AppliedSHA: "a",
			Parity: preview.ParityReport{Status: preview.ParityDrift, CheckedAt: at, SHA: "a"}},
		{Name: "shop-gone", Repo: "acme/shop", PR: 3, Status: preview.StatusDestroyed},
		{Name: "blog-new", Repo: "acme/blog", PR: 4, Status: preview.StatusQueued},
	}
	for _, tt := range []struct {
		q    server.ListQuery
		want []string
	}{
		{server.ListQuery{}, []string{"shop-ok", "shop-drift", "blog-new"}},
		{server.ListQuery{ShowAll: true}, []string{"shop-ok", "shop-drift", "shop-gone", "blog-new"}},
		{server.ListQuery{Status: "destroyed"}, []string{"shop-gone"}},
		{server.ListQuery{Repo: "ACME/Shop"}, []string{"shop-ok", "shop-drift"}},
		{server.ListQuery{Parity: "drift"}, []string{"shop-drift"}},
		{server.ListQuery{Parity: "unchecked"}, []string{"blog-new"}},
		{server.ListQuery{Search: "#4"}, []string{"blog-new"}},
	} {
		var page bytes.Buffer
		if err := (server.Pages{}).Dashboard(&page, envs, tt.q); err != nil {
			t.Fatal(err)
		}
		for _, e := range envs {
			if shown := strings.Contains(page.String(), ">"+e.Name+"<"); shown != slices.Contains(tt.want, e.Name) {
				t.Errorf("%+v: %s shown %v, want only %v", tt.q, e.Name, shown, tt.want)
			}
		}
		for _, option := range []string{">destroyed</option>", ">unchecked</option>", ">error</option>"} {
			if !strings.Contains(page.String(), option) {
				t.Errorf("%+v: the filters do not offer %s", tt.q, option)
			}
		}
	}
}
