package templates

import (
	"strings"
	"testing"
	"time"
)

// TestRenderProductionPageEscapesEverything: every value comes from
// production or its module; none becomes markup or a link it should not,
// and long ones are cut.
func TestRenderProductionPageEscapesEverything(t *testing.T) {
	hostile := `<script>alert(1)</script>`
	var b strings.Builder
	err := RenderProductionPage(&b, ProductionPage{CSRF: "c", Now: time.Unix(0, 0).UTC(), Repos: []ProductionRepoView{{
		Repo: "acme/shop", Interval: "every 6h", WatchURL: "/dashboard/production/acme/shop/watch",
		Last: &ProductionWatchView{Status: "drift", At: time.Unix(0, 0).UTC(), Took: "1s", Issue: 3, IssueURL: "javascript:alert(1)",
			Findings: []ProductionFindingRow{{Kind: "changed_outside", Subject: hostile, Live: strings.Repeat("x", 5000), Module: hostile, Where: hostile}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;") {
		t.Errorf("a value became markup")
	}
	if strings.Contains(out, "javascript:") || !strings.Contains(out, "#3") {
		t.Errorf("a javascript: issue URL became a link, or the issue is not shown")
	}
	if strings.Count(out, "x") > maxShownValue+100 {
		t.Errorf("a long value was not cut")
	}
	if !strings.Contains(out, "<td>changed outside Terraform</td>") {
		t.Errorf("the finding's kind is not in words")
	}
}

// TestRenderProductionPageNeverCallsAFailedWatchOK: a watch that could
// not look says why, and never that production matches its module.
func TestRenderProductionPageNeverCallsAFailedWatchOK(t *testing.T) {
	for _, tt := range []struct {
		status, want, never string
	}{
		{"failed", "could not look at production", "matches its module"},
		{"ok", "Production matches its module.", "could not look"},
	} {
		var b strings.Builder
		err := RenderProductionPage(&b, ProductionPage{Repos: []ProductionRepoView{{Repo: "acme/shop", Interval: "every 6h",
			Last: &ProductionWatchView{Status: tt.status, Error: "plan: AccessDenied", At: time.Unix(0, 0).UTC()}}}})
		if err != nil {
			t.Fatal(err)
		}
		if out := b.String(); !strings.Contains(out, tt.want) || strings.Contains(out, tt.never) {
			t.Errorf("a %s watch:\n%s", tt.status, out)
		}
	}
}

// TestDashboardLinksTheProductionPage only when it is served.
func TestDashboardLinksTheProductionPage(t *testing.T) {
	for _, served := range []bool{false, true} {
		var b strings.Builder
		if err := RenderDashboard(&b, DashboardData{Production: served}); err != nil {
			t.Fatal(err)
		}
		if linked := strings.Contains(b.String(), `href="/dashboard/production"`); linked != served {
			t.Errorf("served %v: linked %v", served, linked)
		}
	}
}
