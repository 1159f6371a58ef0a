package templates

import (
	"strings"
	"testing"
	"time"
)

func TestRenderDashboardEscapesEverything(t *testing.T) {
	var b strings.Builder
	err := RenderDashboard(&b, DashboardData{Now: time.Unix(0, 0).UTC(), Live: 1, Rows: []DashboardRow{
		{Name: "x", Repo: "acme/shop", PR: 1, Branch: `<script>alert(1)</script>`, Status: "ready", URL: "javascript:alert(1)", LastError: strings.Repeat("e", 5000)},
		{Name: "y", Repo: "acme/shop", PR: 2, Branch: "b", Status: "ready", URL: "https://y.preview.test/", Drifted: true, Parity: "drift"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script>alert") {
		t.Errorf("a branch name was not escaped")
	}
	if strings.Contains(out, "javascript:") {
		t.Errorf("a javascript: URL became a link")
	}
	if !strings.Contains(out, `<a href="https://y.preview.test/">`) {
		t.Errorf("an https URL is not a link")
	}
	if !strings.Contains(out, ">drifted<") || !strings.Contains(out, ">parity drift<") {
		t.Errorf("drift is not shown")
	}
	if strings.Count(out, "e") > 2500 {
		t.Errorf("a long error was not cut")
	}
}

// TestEnvironmentPageNeverCallsAFailedCheckParity: a parity check that
// could not run says so, and never "no difference from production".
func TestEnvironmentPageNeverCallsAFailedCheckParity(t *testing.T) {
	var b strings.Builder
	err := RenderEnvironment(&b, EnvironmentPage{Name: "x", Status: "ready", Parity: &ParityPage{Error: "plan production: boom", CheckedAt: time.Unix(0, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Contains(out, "No difference") || !strings.Contains(out, "could not run") {
		t.Errorf("a failed check:\n%s", out)
	}
	b.Reset()
	RenderEnvironment(&b, EnvironmentPage{Name: "x", Status: "ready", Branch: `<script>alert(1)</script>`, URL: "javascript:alert(1)",
		Parity: &ParityPage{Status: "ok", CheckedAt: time.Unix(0, 0)}})
	if out := b.String(); !strings.Contains(out, "No difference") || strings.Contains(out, "<script>alert") || strings.Contains(out, `href="javascript:`) {
		t.Errorf("an ok check, hostile values:\n%s", out)
	}
}

// TestEnvironmentPageLinksTheCheckRun: the page shows the verdict the
// check run shows, and links it.
func TestEnvironmentPageLinksTheCheckRun(t *testing.T) {
	var b strings.Builder
	if err := RenderEnvironment(&b, EnvironmentPage{Name: "x", Status: "ready", Parity: &ParityPage{Status: "drift", CheckedAt: time.Unix(0, 0),
		CheckRunURL: "https://github.com/acme/shop/runs/7"}}); err != nil {
		t.Fatal(err)
	}
	if want := `<span class="status drift">drift</span> checked 1970-01-01 00:00 UTC · <a href="https://github.com/acme/shop/runs/7">check run on GitHub</a>`; !strings.Contains(b.String(), want) {
		t.Errorf("page lacks %q:\n%s", want, b.String())
	}
}

// TestEnvironmentPageShowsTheMigrations: the verdict, its reasons and the
// table of what was held; a statement from the pull request's migration
// stays text.
func TestEnvironmentPageShowsTheMigrations(t *testing.T) {
	var b strings.Builder
	err := RenderEnvironment(&b, EnvironmentPage{Name: "x", Status: "ready", Database: &DatabasePage{Status: "failure",
		Reasons: []string{"blocked writes on orders for 6.2 s (limit 5.0 s)"},
		Holds: []HoldRow{{Relation: "orders", Statement: "CREATE INDEX i ON orders (t) -- <script>alert(1)</script>", Mode: "ShareLock",
			BlockedWrites: "6.2 s", BlockedReads: "0.0 s", LongestWait: "1.0 s", Rows: "2M", ProductionRows: "1.4M"}}}})
	if err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<h2>Migrations</h2>", `<span class="status failure">failure</span>`, "<li>blocked writes on orders for 6.2 s (limit 5.0 s)</li>",
		"<td>ShareLock</td><td>6.2 s</td>", "&lt;script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("the statement's markup reached the page")
	}
}

// TestEnvironmentPageMarksAWarning: a finding that warns (deploying would
// revert a change made to production) is marked a warning, in a row styled
// as one, never "no" (undeclared) or "yes" (declared).
func TestEnvironmentPageMarksAWarning(t *testing.T) {
	var b strings.Builder
	err := RenderEnvironment(&b, EnvironmentPage{Name: "x", Status: "ready", Parity: &ParityPage{Status: "ok", CheckedAt: time.Unix(0, 0), Findings: []FindingRow{
		{Kind: "reverts_production", Subject: "postgresql_role.app.connection_limit", Production: "400", Preview: "200", Warning: true, Location: "main.tf:12",
			Reason: "production runs `postgresql_role.app.connection_limit = 400` since a change outside Terraform"},
		{Kind: "variable", Subject: "replicas", Production: "3", Preview: "1", Declared: true, Reason: "scale"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<tr class="warning"><td>reverts_production</td><td><code>postgresql_role.app.connection_limit</code></td><td><code>400</code></td><td><code>200</code></td><td><strong>warning</strong></td>`,
		`<tr><td>variable</td><td><code>replicas</code></td><td><code>3</code></td><td><code>1</code></td><td>yes</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<strong>no</strong>") {
		t.Errorf("a warning is shown as undeclared:\n%s", page)
	}
	if css := string(Stylesheets()["environment.css"]); !strings.Contains(css, ".warning") {
		t.Errorf("environment.css has no style for a warning's row")
	}
}
