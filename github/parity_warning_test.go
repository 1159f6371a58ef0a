package github

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/templates"
)

// revertsConnectionLimit warns that deploying would revert a hotfix, as
// parity.RevertWarnings makes it.
var revertsConnectionLimit = preview.Finding{Kind: preview.FindingRevertsProduction, Subject: "postgresql_role.app.connection_limit",
	Production: "400", Preview: "200", Location: "main.tf:12", Warning: true,
	Reason: "production runs `postgresql_role.app.connection_limit = 400` since a change outside Terraform; merging this pull request and deploying would set it back to `200` (main.tf:12)"}

// TestParityCheckRunWarnsOfARevert: a warning never fails the
// previewd/parity check run: alone (or beside declared differences) it is
// neutral, never success, so it is seen; it is annotated at the module's
// line as a warning with its reason, and the summary counts and marks it
// apart from drift and declared differences. Beside drift, the run fails
// on the drift alone.
func TestParityCheckRunWarnsOfARevert(t *testing.T) {
	declared := preview.Finding{Kind: "variable", Subject: "replicas", Production: "3", Preview: "1", Declared: true, Reason: "scale", Location: "variables.tf:4"}
	tests := []struct {
		name              string
		findings          []preview.Finding
		sha               string
		conclusion, title string
		counts            string // the summary's first words
	}{
		{"a warning alone", []preview.Finding{revertsConnectionLimit}, runSHA, "neutral", "Deploying would revert 1 change(s) made to production",
			"**0 undeclared**, 0 declared"},
		{"a warning and a declared difference", []preview.Finding{declared, revertsConnectionLimit}, runSHA2, "neutral",
			"Deploying would revert 1 change(s) made to production (1 declared difference(s))", "**0 undeclared**, 1 declared"},
		{"a warning beside drift", []preview.Finding{revertsConnectionLimit, declared, engineDrift}, "dddd4444dddd4444dddd4444dddd4444dddd4444", "failure",
			"1 undeclared difference(s) from production; deploying would revert 1 change(s) made to production", "**1 undeclared**, 1 declared"},
	}
	f := newFakeGitHub(t, "")
	c := newTestApp(t, f, map[int64][]string{101: {"acme/shop"}}, newFakeClock())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := checkedEnv(tt.findings...)
			env.Parity.SHA = tt.sha
			shown, err := c.SyncParityStatus(context.Background(), env)
			if err != nil {
				t.Fatal(err)
			}
			runs := f.runsOf(tt.sha)
			if len(runs) != 1 {
				t.Fatalf("check runs = %+v, want one", runs)
			}
			run := runs[0]
			if run.Conclusion != tt.conclusion || run.Title != tt.title || shown.State != tt.conclusion {
				t.Errorf("run %q %q (shown %q), want %q %q", run.Conclusion, run.Title, shown.State, tt.conclusion, tt.title)
			}
			var warnings []map[string]any
			for _, a := range run.Annotations {
				if a["annotation_level"] == "warning" {
					warnings = append(warnings, a)
				}
			}
			if len(warnings) != 1 {
				t.Fatalf("annotations %v, want one warning", run.Annotations)
			}
			a := warnings[0]
			if a["path"] != "infra/main.tf" || a["start_line"] != float64(12) ||
				a["title"] != "deploying would revert a change made to production: postgresql_role.app.connection_limit" ||
				!strings.HasPrefix(a["message"].(string), revertsConnectionLimit.Reason) {
				t.Errorf("annotation %v, want a warning at infra/main.tf:12 with the reason", a)
			}
			for _, want := range []string{"⚠ **1 warning(s):** deploying would revert 1 change(s) made to production",
				"| ⚠ | reverts_production | `postgresql_role.app.connection_limit` | `400` | `200` | [infra/main.tf:12](https://github.com/acme/shop/blob/" + modCommit + "/infra/main.tf#L12) |"} {
				if !strings.Contains(run.Summary, want) {
					t.Errorf("summary lacks %q:\n%s", want, run.Summary)
				}
			}
			if !strings.HasPrefix(run.Summary, tt.counts) {
				t.Errorf("summary starts %q, want %q: a warning is neither undeclared nor declared", run.Summary[:min(len(run.Summary), 40)], tt.counts)
			}
			last := -1
			for _, mark := range []string{"| ✗ |", "| ⚠ |", "| ✓ |"} {
				if i := strings.Index(run.Summary, mark); i >= 0 {
					if i < last {
						t.Errorf("%s is listed out of order (drift, then warnings, then declared):\n%s", mark, run.Summary)
					}
					last = i
				}
			}
		})
	}
}

// TestParityStatusWithWarnings: in token mode a warning fails nothing
// either: warnings alone are success, drift beside one is failure counting
// the drift alone, and the description names the warnings.
func TestParityStatusWithWarnings(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := newTestClient(t, f, nil)
	env := checkedEnv(revertsConnectionLimit)
	got, err := c.SyncParityStatus(context.Background(), env)
	if err != nil || got.State != "success" {
		t.Fatalf("a warning alone: got %+v %v, want success", got, err)
	}
	env = checkedEnv(revertsConnectionLimit, engineDrift)
	env.Parity.SHA = runSHA2
	if got, err = c.SyncParityStatus(context.Background(), env); err != nil || got.State != "failure" {
		t.Fatalf("drift and a warning: got %+v %v, want failure", got, err)
	}
	_, _, statuses, _ := f.snapshot()
	want := []map[string]any{
		{"sha": runSHA, "state": "success", "context": "previewd/parity",
			"description": "Differs from production only where declared (0 declared); ⚠ deploying would revert 1 change(s) made to production"},
		{"sha": runSHA2, "state": "failure", "context": "previewd/parity",
			"description": "1 undeclared difference(s) from production; ⚠ deploying would revert 1 change(s) made to production"},
	}
	if !reflect.DeepEqual(statuses, want) {
		t.Errorf("statuses = %v, want %v", statuses, want)
	}
}

// TestCommentShowsAWarningApart: the comment counts a warning neither as
// undeclared nor as declared, and shows it under the verdict.
func TestCommentShowsAWarningApart(t *testing.T) {
	declared := preview.Finding{Kind: "variable", Subject: "replicas", Production: "3", Preview: "1", Declared: true, Reason: "scale"}
	env := checkedEnv(revertsConnectionLimit, declared)
	env.Parity.CheckedAt = time.Now()
	d := CommentData(env, func(string) string { return "" }, preview.Pricing{})
	if p := d.Parity; p == nil || !p.OK || p.Undeclared != 0 || p.Declared != 1 || len(p.Findings) != 2 || !p.Findings[0].Warning || p.Findings[0].Declared {
		t.Fatalf("parity view %+v, want ok, 1 declared, and the warning marked", d.Parity)
	}
	body, err := templates.RenderComment(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"✅ differs from production only where declared (1 declared).\n\n⚠️ **Deploying this would revert a change made to production:**",
		"| ⚠️ warning | reverts_production |"} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%s", want, body)
		}
	}
}
