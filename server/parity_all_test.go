package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

func TestParityEndpointListsIdentityDifferencesOnRequest(t *testing.T) {
	f := newFixture(t, nil)
	body := prPayload("opened", 6, "identity/x", "abc", time.Now())
	f.deliver(t, "pull_request", "i1", body, sign(body))
	f.db.UpdateEnvironment(context.Background(), "identity-x", func(e *preview.Environment) error {
		e.Parity = preview.ParityReport{Status: preview.ParityOK, CheckedAt: time.Now(), IdentityDifferences: 1, Findings: []preview.Finding{
			{Kind: preview.FindingAttribute, Subject: "terraform_data.db.input.name", Production: "db-production", Preview: "db-identity-x", Declared: true, Identity: true, Location: "main.tf:3"},
			{Kind: preview.FindingAttribute, Subject: "terraform_data.db.input.size", Production: "large", Preview: "small", Declared: true, Reason: "scale", Location: "main.tf:4"},
		}}
		return nil
	})
	for _, tt := range []struct {
		query    string
		want     int
		subjects int
	}{{"", 200, 1}, {"?all=false", 200, 1}, {"?all=true", 200, 2}, {"?all=yes", 400, 0}} {
		resp, raw := f.api(t, "GET", "/api/v1/environments/identity-x/parity"+tt.query, token)
		if resp.StatusCode != tt.want {
			t.Errorf("%q: got %d %s, want %d", tt.query, resp.StatusCode, raw, tt.want)
			continue
		}
		if tt.want != 200 {
			continue
		}
		var report preview.ParityReport
		if err := json.Unmarshal(raw, &report); err != nil || len(report.Findings) != tt.subjects || report.IdentityDifferences != 1 {
			t.Errorf("%q: got %s, want %d findings and the identity count", tt.query, raw, tt.subjects)
		}
	}
}
