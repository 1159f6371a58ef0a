package modules

import (
	"context"
	"testing"
)

// TestModuleTokenGoesToGitHubOverHTTPSOnly gives the token for a module's
// repository only to GitHub's host, and never over plain http unless the
// API itself is served so.
func TestModuleTokenGoesToGitHubOverHTTPSOnly(t *testing.T) {
	token := func(_ context.Context, repo string) (string, error) { return "ghs_for_" + repo, nil }
	tests := []struct{ api, url, want string }{
		{"https://api.github.com/", "https://github.com/acme/infra.git", "ghs_for_acme/infra"},
		{"https://api.github.com/", "http://github.com/acme/infra.git", ""},
		{"https://api.github.com/", "https://gitlab.example.com/acme/infra.git", ""},
		{"https://api.github.com/", "https://github.com/acme/infra/extra.git", ""},
		{"https://ghe.example.com/api/v3/", "https://ghe.example.com/acme/infra.git", "ghs_for_acme/infra"},
		{"http://ghe.internal/api/v3/", "http://ghe.internal/acme/infra.git", "ghs_for_acme/infra"},
		{"http://ghe.internal/api/v3/", "https://github.com/acme/infra.git", ""},
	}
	for _, tt := range tests {
		m := NewResolver(t.TempDir(), tt.api, token)
		if got, err := m.fetcher.Token(context.Background(), tt.url); err != nil || got != tt.want {
			t.Errorf("API %s, repository %s: token %q, %v; want %q", tt.api, tt.url, got, err, tt.want)
		}
	}
}
