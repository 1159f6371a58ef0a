package github

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// convertManifest answers POST /app-manifests/{code}/conversions as GitHub
// does: 201 with the App and its secrets for a code handed out, once; 404
// for any other.
func (f *fakeGitHub) convertManifest(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	f.mu.Lock()
	app, ok := f.manifestCodes[code]
	delete(f.manifestCodes, code)
	f.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	writeJSON(w, http.StatusCreated, app)
}

// addManifestCode makes code exchangeable, once, for an App registered
// from m with key pem, and returns GitHub's answer for it.
func (f *fakeGitHub) addManifestCode(code string, m Manifest, pem string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	slug := strings.ToLower(strings.ReplaceAll(m.Name, " ", "-"))
	app := map[string]any{
		"id": f.nextID, "slug": slug, "node_id": "A_kwHOAP", "name": m.Name, "description": "",
		"owner":        map[string]any{"login": "acme", "id": 1, "type": "Organization"},
		"external_url": m.URL, "html_url": "https://github.com/apps/" + slug,
		"created_at": "2025-03-01T12:00:00Z", "updated_at": "2025-03-01T12:00:00Z",
		"permissions": m.DefaultPermissions, "events": m.DefaultEvents,
		"client_id": "Iv1.8a61f9b3a7aba766", "client_secret": "1726be1638095a19edd134c77bde3aa2ece1e5d8",
		"webhook_secret": "e340154128314309424b7c8e90325147d99fdafa0123456789abcdef", "pem": pem,
	}
	if f.manifestCodes == nil {
		f.manifestCodes = map[string]map[string]any{}
	}
	f.manifestCodes[code] = app
	return app
}

// TestConvertManifest exchanges codes against the fake GitHub (on
// github.com's paths and a GitHub Enterprise Server's): the credentials
// come back once, with no Authorization sent; a used code, GitHub's
// refusal and a malformed code are errors that name what failed and
// carry neither the code nor a secret.
func TestConvertManifest(t *testing.T) {
	_, pem := testAppKey(t)
	for _, prefix := range []string{"", "/api/v3"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			f := newFakeGitHub(t, prefix)
			m := NewManifest("previewd acme", "https://previewd.example.com", Features{})
			want := f.addManifestCode("c0de1", m, string(pem))
			f.script["POST /app-manifests/refused/conversions"] = []fakeResponse{{Status: http.StatusUnprocessableEntity, Message: "Validation Failed"}}
			c, err := NewManifestClient(f.URL(), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			got, err := c.ConvertManifest(ctx, "c0de1")
			if err != nil {
				t.Fatalf("ConvertManifest: %v", err)
			}
			if got.ID != want["id"].(int64) || got.Slug != "previewd-acme" || got.PEM != string(pem) ||
				got.WebhookSecret != want["webhook_secret"] || got.HTMLURL != "https://github.com/apps/previewd-acme" {
				t.Errorf("got %+v, want the App of %v", got, want)
			}
			for _, c2 := range []struct{ code, want string }{
				{"c0de1", "404"},          // used already
				{"refused", "422"},        // GitHub's refusal
				{"../app/x", "malformed"}, // never reaches a URL
			} {
				_, err := c.ConvertManifest(ctx, c2.code)
				if err == nil || !strings.Contains(err.Error(), c2.want) {
					t.Errorf("ConvertManifest(%q): error %v, want one saying %q", c2.code, err, c2.want)
					continue
				}
				for _, leak := range []string{string(pem[:40]), want["webhook_secret"].(string), "c0de1"} {
					if strings.Contains(err.Error(), leak) {
						t.Errorf("ConvertManifest(%q): error %q holds %q", c2.code, err, leak)
					}
				}
			}
			for _, r := range f.recorded() {
				if a := r.Header.Get("Authorization"); a != "" {
					t.Errorf("%s %s sent Authorization %q, want none", r.Method, r.Path, a)
				}
			}
			if got, want := len(f.recorded()), 3; got != want {
				t.Errorf("%d requests, want %d (the malformed code is never sent): %v", got, want, f.methods())
			}
		})
	}
}

// TestNewAppURL derives GitHub's registration page from the API URL.
func TestNewAppURL(t *testing.T) {
	for _, c := range []struct{ api, org, want string }{
		{"", "", "https://github.com/settings/apps/new"},
		{"https://api.github.com/", "acme", "https://github.com/organizations/acme/settings/apps/new"},
		{"https://ghe.example.com/api/v3/", "", "https://ghe.example.com/settings/apps/new"},
		{"https://ghe.example.com/api/v3", "acme", "https://ghe.example.com/organizations/acme/settings/apps/new"},
		{"http://ghe.local:8080/api/v3/", "acme", "http://ghe.local:8080/organizations/acme/settings/apps/new"},
	} {
		got, err := NewAppURL(c.api, c.org)
		if err != nil || got != c.want {
			t.Errorf("NewAppURL(%q, %q) = %q, %v; want %q", c.api, c.org, got, err, c.want)
		}
	}
	if _, err := NewAppURL("ghe.example.com", ""); err == nil {
		t.Error("NewAppURL of a URL without scheme: no error")
	}
}
