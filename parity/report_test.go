package parity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	preview "github.com/previewd/previewd"
)

func TestReport(t *testing.T) {
	declared := preview.Finding{Kind: preview.FindingVariable, Subject: "instance_count", Production: "3", Preview: "1", Declared: true, Reason: "scale"}
	version := preview.Finding{Kind: preview.FindingVariable, Subject: "database_engine_version", Production: "15.4", Preview: "13", Reason: "not declared"}
	key := preview.Finding{Kind: preview.FindingConfigKey, Subject: "env: A", Production: "present", Preview: "missing", Reason: "missing in the preview, not declared"}
	toggle := preview.Finding{Kind: preview.FindingToggle, Subject: "new_checkout", Production: "false", Preview: "true", Declared: true, Reason: "toggle: staging tier"}
	drift := LiveDriftFindings([]string{"output.url"})
	reverts := preview.Finding{Kind: preview.FindingRevertsProduction, Subject: "postgresql_role.app.connection_limit", Production: "400", Preview: "200",
		Warning: true, Location: "main.tf:12", Reason: "production runs `postgresql_role.app.connection_limit = 400` since a change outside Terraform"}
	tests := []struct {
		name       string
		findings   [][]preview.Finding
		wantStatus preview.ParityStatus
		want       []preview.Finding
	}{
		{"nothing", nil, preview.ParityOK, []preview.Finding{}},
		{"declared only", [][]preview.Finding{{toggle}, {declared}}, preview.ParityOK, []preview.Finding{declared, toggle}},
		{"undeclared first, by kind, then subject", [][]preview.Finding{{declared, version}, {toggle}, drift, {key}}, preview.ParityDrift, []preview.Finding{version, key, drift[0], declared, toggle}},
		{"a warning alone is parity", [][]preview.Finding{{declared, reverts}}, preview.ParityOK, []preview.Finding{reverts, declared}},
		{"warnings after drift, before declared", [][]preview.Finding{{declared, reverts}, drift}, preview.ParityDrift, []preview.Finding{drift[0], reverts, declared}},
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
			"parity: ok, differs from production only where declared (0 declared; checked 2026-11-01T12:00:00Z)\n"},
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
		{"a warning is no drift", preview.ParityReport{Status: preview.ParityDrift, CheckedAt: at, Findings: []preview.Finding{
			{Kind: preview.FindingVariable, Subject: "banner", Production: "a", Preview: "b", Reason: "not declared"},
			{Kind: preview.FindingRevertsProduction, Subject: "pg_role.app.connection_limit", Production: "400", Preview: "200", Warning: true, Location: "main.tf:12",
				Reason: "production changed it"},
			{Kind: preview.FindingVariable, Subject: "instance_count", Production: "3", Preview: "1", Declared: true, Reason: "scale"},
		}}, `parity: DRIFT, 1 undeclared difference (1 declared, 1 warning; checked 2026-11-01T12:00:00Z)

DRIFT variable banner
    production: a
    preview:    b
    why:        not declared

WARN  reverts_production pg_role.app.connection_limit
    production: 400
    preview:    200
    why:        production changed it
    where:      main.tf:12

ok    variable instance_count
    production: 3
    preview:    1
    why:        declared: scale
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := RenderText(&b, tt.report, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestRenderTextFitsWidth renders findings too wide for a table at 100
// columns: each is stacked, wrapped, and no line is wider than 100.
func TestRenderTextFitsWidth(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	long := `{"gift_cards":{"enabled":true,"limits":[` + strings.Repeat(`{"max":100,"currency":"EUR"},`, 25) + `{}]}}`
	subject := "module.shop.module.payments.terraform_data.gateway[\"eu-west-1\"].input.settings.feature_flags.new_checkout_for_returning_customers"
	report := preview.ParityReport{Status: preview.ParityDrift, CheckedAt: at, IdentityDifferences: 12, UnknownValues: 40, Findings: []preview.Finding{
		{Kind: preview.FindingAttribute, Subject: subject, Production: "false", Preview: "true",
			Reason: "follows var.environment other than by the environment's name", Location: "modules/payments/main.tf:12"},
		{Kind: preview.FindingAttribute, Subject: "terraform_data.app.input.settings", Production: long, Preview: strings.ReplaceAll(long, "EUR", "USD"),
			Reason: "follows var.currency, var.region, var.environment, which parity cannot trace to a declared difference", Location: "main.tf:3"},
		{Kind: preview.FindingVariable, Subject: "banner", Production: "a\tb\x1b[31m", Preview: "", Declared: true, Reason: "data"},
	}}
	var b bytes.Buffer
	if err := RenderText(&b, report, TextOptions{Width: 100, Skipped: Skipped{Checks: PlanChecks, Because: "the state backend \"s3\" refused terraform: are its credentials missing?"}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, line := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("a line of %d columns, wider than 100: %q", n, line)
		}
	}
	for _, w := range []string{
		"parity: DRIFT, 2 undeclared differences (1 declared; checked 2026-11-01T12:00:00Z)\n",
		"skipped: plan comparison (the state backend \"s3\" refused terraform: are its credentials missing?),\n  attribute values, provider versions, engine version\n",
		"12 values differ only by the environment's name (--all lists them); 40 values unknown until apply,\n  not compared\n",
		"\nDRIFT attribute module.shop.module.payments.terraform_data.gateway[\"eu-west-1\"].input.settings.\n    feature_flags.new_checkout_for_returning_customers\n" +
			"    production: false\n    preview:    true\n" +
			"    why:        follows var.environment other than by the environment's name\n    where:      modules/payments/main.tf:12\n",
		"    production: {\"gift_cards\":{\"enabled\":true,\"limits\":[{\"max\":100,\"currency\":\"EUR\"},{\"max\":100,\n                ",
		fmt.Sprintf("… (%d characters in all)\n", len(long)),
		"    why:        follows var.currency, var.region, var.environment, which parity cannot trace to a\n                declared difference\n",
		"\nok    variable banner\n    production: a b\uFFFD[31m\n    preview:    \"\"\n    why:        declared: data\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, long) {
		t.Errorf("a value of %d characters is shown whole:\n%s", len(long), out)
	}
}

func TestRenderTextError(t *testing.T) {
	report := preview.ParityReport{Status: preview.ParityError, CheckedAt: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), Findings: []preview.Finding{},
		Error: "the plans could not run: terraform init: exit status 1:\nError: no valid credential sources for S3 Backend found."}
	var b bytes.Buffer
	if err := RenderText(&b, report, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "parity: ERROR, the check could not run in full (0 declared; checked 2026-11-01T12:00:00Z)\n" +
		"  the plans could not run: terraform init: exit status 1:\n  Error: no valid credential sources for S3 Backend found.\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
