package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/server"
)

// TestEnvironmentPageHidesSensitiveInputs renders an environment's page
// for a module with sensitive map and list variables, and plain variables
// whose values carry their secrets: each of these shows as (sensitive),
// no secret appears anywhere on the page, and plain inputs show in clear.
func TestEnvironmentPageHidesSensitiveInputs(t *testing.T) {
	module, _ := filepath.Abs("testdata/sensitive-inputs")
	path := writeConfig(t, fmt.Sprintf(`repos:
  - name: acme/shop
    module_dir: %s
    production:
      vars:
        credentials: {user: app, password: prod-pass-1234}
        api_tokens: [prod-token-aaaa, prod-token-bbbb]
        database_url: postgres://app:prod-pass-1234@db/shop
        fallback_tokens: [prod-token-bbbb]
        tags: {team: shop}
        region: eu-west-1
        replicas: 3
    differences:
      - {variable: credentials, value: {user: app, password: prev-pass-5678}, reason: security}
      - {variable: api_tokens, value: [prev-token-cccc], reason: security}
      - {variable: database_url, value: "postgres://app:prev-pass-5678@db/preview", reason: data}
      - {variable: fallback_tokens, value: [prev-token-cccc], reason: security}
      - {variable: replicas, value: 1, reason: scale}
`, module))
	cfg, err := loadConfig(path, envFrom(nil), false)
	if err != nil {
		t.Fatal(err)
	}
	env := preview.Environment{Name: "hidden", Repo: "acme/shop", PR: 7, Branch: "hidden", Status: preview.StatusReady}
	var page bytes.Buffer
	if err := cfg.environmentPage(&page, env, nil, server.PageState{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"credentials", "api_tokens", "database_url", "fallback_tokens"} {
		if want := "<code>" + name + "</code></td><td><em>(sensitive)</em>"; !strings.Contains(page.String(), want) {
			t.Errorf("the page does not show %s as sensitive", name)
		}
	}
	for _, secret := range []string{"pass-1234", "pass-5678", "token-aaaa", "token-bbbb", "token-cccc"} {
		if strings.Contains(page.String(), secret) {
			t.Errorf("the page shows the secret %q", secret)
		}
	}
	for name, value := range map[string]string{"environment": "hidden", "tags": "map[team:shop]", "region": "eu-west-1", "replicas": "1"} {
		if want := "<code>" + name + "</code></td><td><code>" + value + "</code>"; !strings.Contains(page.String(), want) {
			t.Errorf("the page does not show %s = %s in clear", name, value)
		}
	}
	if t.Failed() {
		t.Logf("the page:\n%s", page.String())
	}
}
