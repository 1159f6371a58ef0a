package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/config"
)

// TestPageInputsHideSecretsOfTheConfiguration resolves what an
// environment's page shows of its module's inputs from the configuration,
// for a module with sensitive map and list variables, and plain variables
// whose values carry their secrets: each of these is hidden, no secret
// shows in clear, and plain inputs show in clear. How the page shows them
// is server's (TestEnvironmentPageHidesSensitiveInputs).
func TestPageInputsHideSecretsOfTheConfiguration(t *testing.T) {
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
	cfg, err := config.Read(path, config.MapEnv(nil), false)
	if err != nil {
		t.Fatal(err)
	}
	env := preview.Environment{Name: "hidden", Repo: "acme/shop", PR: 7, Branch: "hidden", Status: preview.StatusReady}
	mod, err := terraform{cfg: &cfg}.Inputs(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{} // what the page shows in clear (see server.Pages)
	for _, in := range mod.Vars {
		if !preview.Hidden(in.Value, in.Sensitive, mod.Secrets) {
			shown[in.Name] = fmt.Sprint(in.Value)
		}
	}
	for _, name := range []string{"credentials", "api_tokens", "database_url", "fallback_tokens"} {
		if v, ok := shown[name]; ok {
			t.Errorf("%s shows in clear: %s", name, v)
		}
	}
	for _, secret := range []string{"pass-1234", "pass-5678", "token-aaaa", "token-bbbb", "token-cccc"} {
		for name, v := range shown {
			if strings.Contains(v, secret) {
				t.Errorf("%s shows the secret %q", name, secret)
			}
		}
	}
	for name, value := range map[string]string{"environment": "hidden", "tags": "map[team:shop]", "region": "eu-west-1", "replicas": "1"} {
		if shown[name] != value {
			t.Errorf("%s shows as %q, want %s in clear", name, shown[name], value)
		}
	}
	if t.Failed() {
		t.Logf("the inputs: %+v", mod)
	}
}
