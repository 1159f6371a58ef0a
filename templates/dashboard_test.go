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
