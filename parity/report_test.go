package parity

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

func TestReport(t *testing.T) {
	declared := preview.Finding{Kind: preview.FindingVariable, Subject: "instance_count", Production: "3", Preview: "1", Declared: true, Reason: "scale"}
	version := preview.Finding{Kind: preview.FindingVariable, Subject: "database_engine_version", Production: "15.4", Preview: "13", Reason: "not declared"}
	key := preview.Finding{Kind: preview.FindingConfigKey, Subject: "env: A", Production: "present", Preview: "missing", Reason: "missing in the preview, not declared"}
	toggle := preview.Finding{Kind: preview.FindingToggle, Subject: "new_checkout", Production: "false", Preview: "true", Declared: true, Reason: "toggle: staging tier"}
	drift := LiveDriftFindings([]string{"output.url"})
	tests := []struct {
		name       string
		findings   [][]preview.Finding
		wantStatus preview.ParityStatus
		want       []preview.Finding
	}{
		{"nothing", nil, preview.ParityOK, []preview.Finding{}},
		{"declared only", [][]preview.Finding{{toggle}, {declared}}, preview.ParityOK, []preview.Finding{declared, toggle}},
		{"undeclared first, by kind, then subject", [][]preview.Finding{{declared, version}, {toggle}, drift, {key}}, preview.ParityDrift, []preview.Finding{version, key, drift[0], declared, toggle}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Report(tt.findings...)
			if r.Status != tt.wantStatus || !slices.Equal(r.Findings, tt.want) {
				t.Errorf("got %s %+v\nwant %s %+v", r.Status, r.Findings, tt.wantStatus, tt.want)
			}
			if time.Since(r.CheckedAt) > time.Minute || r.CheckedAt.Location() != time.UTC {
				t.Errorf("checked at %v", r.CheckedAt)
			}
		})
	}
	b, _ := json.Marshal(Report())
	if !strings.Contains(string(b), `"findings":[]`) || !strings.Contains(string(b), `"status":"ok"`) {
		t.Errorf("got JSON %s", b)
	}
}

func TestRenderText(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		report preview.ParityReport
		want   string
	}{
		{"ok", preview.ParityReport{Status: preview.ParityOK, CheckedAt: at, Findings: []preview.Finding{}},
			"parity: ok, the preview differs from production only where declared (0 declared; checked 2026-11-01T12:00:00Z)\n"},
		{"drift", preview.ParityReport{Status: preview.ParityDrift, CheckedAt: at, Findings: []preview.Finding{
			{Kind: preview.FindingVariable, Subject: "database_engine_version", Production: "15.4", Preview: "13", Reason: "not declared"},
			{Kind: preview.FindingVariable, Subject: "instance_count", Production: "3", Preview: "1", Declared: true, Reason: "scale"},
			{Kind: preview.FindingVariable, Subject: "banner", Production: "a\nb", Preview: "", Reason: "not declared"},
		}}, `parity: DRIFT, 2 undeclared differences (1 declared; checked 2026-11-01T12:00:00Z)

       KIND      SUBJECT                  PRODUCTION  PREVIEW  WHY
DRIFT  variable  database_engine_version  15.4        13       not declared
ok     variable  instance_count           3           1        declared: scale
DRIFT  variable  banner                   a\nb        ""       not declared
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := RenderText(&b, tt.report); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}
