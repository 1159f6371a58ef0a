package templates

import (
	"strings"
	"testing"
	"time"
)

func TestCommentShowsWhereAFindingIsWritten(t *testing.T) {
	d := CommentData{Name: "feat-x", Repo: "acme/shop", PR: 1, Branch: "feat/x", Status: "ready", HeadSHA: strings.Repeat("a", 40),
		AppliedSHA: strings.Repeat("a", 40), URL: "https://feat-x.test/", ExpiresAt: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC),
		Parity: &ParityView{Undeclared: 2, Findings: []FindingRow{
			{Kind: "attribute", Subject: "terraform_data.db.input.engine_version", Production: "15.4", Preview: "13.11", Reason: "follows var.environment", Location: "main.tf:12"},
			{Kind: "attribute", Subject: "terraform_data.db.input.x", Production: "a", Preview: "b", Reason: "r", Location: "main.tf:1\n# injected | heading"},
			{Kind: "variable", Subject: "instance_count", Production: "3", Preview: "1", Declared: true, Reason: "scale"},
		}}}
	body, err := RenderComment(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| **drift** | attribute | `terraform_data.db.input.engine_version` at `main.tf:12` | `15.4` | `13.11` |",
		"| declared | variable | `instance_count` | `3` | `1` | `scale` |",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "\n# injected") {
		t.Errorf("a location broke out of its cell:\n%s", body)
	}
}
