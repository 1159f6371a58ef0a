package apitest

import (
	"net/http"
	"strings"
	"testing"
)

// TestCheckCatchesDrift: an answer with a property the description does
// not have, a missing required one, a wrong type, an undocumented status
// or path are each caught; a conforming answer passes.
func TestCheckCatchesDrift(t *testing.T) {
	env := `{"name":"x","repo":"acme/shop","pr":1,"branch":"x","head_sha":"a","status":"ready","url":"","created_at":"2026-12-01T00:00:00Z",
"updated_at":"2026-12-01T00:00:00Z","expires_at":"2026-12-01T00:00:00Z","last_error":"","applied_sha":"a",
"desired":{"present":true,"pr_open":true,"reason":"opened","generation":0,"author":"o","fork":false},"comment":{}}`
	json := http.Header{"Content-Type": {"application/json"}}
	for _, tt := range []struct {
		name, path string
		status     int
		body       string
		wantErr    string
	}{
		{"conforming", "/api/v1/environments/x", 200, env, ""},
		{"undocumented property", "/api/v1/environments/x", 200, strings.Replace(env, `"pr":1,`, `"pr":1,"bogus":true,`, 1), "bogus"},
		{"missing required", "/api/v1/environments/x", 200, strings.Replace(env, `"branch":"x",`, "", 1), "branch"},
		{"wrong type", "/api/v1/environments/x", 200, strings.Replace(env, `"pr":1`, `"pr":"1"`, 1), "pr"},
		{"unknown status value", "/api/v1/environments/x", 200, strings.Replace(env, `"ready"`, `"cooking"`, 1), "status"},
		{"undocumented status code", "/api/v1/environments/x", 418, `{"error":"x"}`, "418"},
		{"undocumented path", "/api/v1/nothing", 200, `{}`, "not in the admin API"},
		{"an error", "/api/v1/environments/x", 404, `{"error":"environment \"x\" not found"}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			req, _ := http.NewRequest("GET", "http://previewd.test"+tt.path, nil)
			Check(rec, req, tt.status, json, []byte(tt.body))
			got := strings.Join(rec.errs, "\n")
			if tt.wantErr == "" && got != "" || tt.wantErr != "" && !strings.Contains(got, tt.wantErr) {
				t.Errorf("got %q, want an error naming %q", got, tt.wantErr)
			}
		})
	}
}
