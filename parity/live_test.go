package parity

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

// fakeTerraform is a Terraform of function fields over fakePlanner: Live
// is tested here without Terraform; cmd/previewd runs it with the real one.
type fakeTerraform struct {
	fakePlanner
	secrets func(outputs bool) ([]string, map[string]string, error)
}

func (f fakeTerraform) DetectDrift(context.Context, preview.Environment, io.Writer) ([]string, error) {
	return []string{"terraform_data.web"}, nil
}

func (f fakeTerraform) Secrets(_ context.Context, _ preview.Environment, outputs bool) ([]string, map[string]string, error) {
	return f.secrets(outputs)
}

// fakeRepositories configures each repository's parity settings.
type fakeRepositories map[string]Config

func (f fakeRepositories) ParityRepositoryFor(_ context.Context, env preview.Environment) (Repository, bool, error) {
	c, ok := f[env.Repo]
	return Repository{Name: env.Repo, Settings: c}, ok, nil
}

func (f fakeRepositories) ParitySettings(repo string) (Config, bool) {
	c, ok := f[repo]
	return c, ok
}

// TestLiveHooks runs a repository's hooks with the environment's outputs:
// the sensitive ones only when hook_sensitive_outputs allows it, and then
// redacted from the hook's log like the module's own secrets. A repository
// without a hook resolves nothing.
func TestLiveHooks(t *testing.T) {
	const password = "hunter2-preview-password"
	// The hook prints the password's length, which proves it was given,
	// and the password itself, which the log must not show.
	hook := []string{"sh", "-c", `echo "length ${#PREVIEW_OUTPUT_DB_PASSWORD}: $PREVIEW_OUTPUT_DB_PASSWORD; url $PREVIEW_OUTPUT_URL"`}
	tests := []struct {
		name      string
		settings  Config
		wantAsked []bool // the outputs argument of each Secrets call
		wantLog   string
	}{
		{"no hook", Config{}, nil, ""},
		{"outputs kept back", Config{SeedCommand: hook}, []bool{false}, "length 0: ; url https://shop.example\n"},
		{"sensitive outputs given, redacted", Config{SeedCommand: hook, HookSensitiveOutputs: true}, []bool{true},
			"length 24: " + preview.Redacted + "; url https://shop.example\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []bool
			tf := fakeTerraform{secrets: func(outputs bool) ([]string, map[string]string, error) {
				asked = append(asked, outputs)
				if !outputs {
					return nil, nil, nil
				}
				return nil, map[string]string{"db_password": password}, nil
			}}
			live := NewLive(tf, fakeRepositories{"acme/shop": tt.settings})
			env := preview.Environment{Name: "shop-1", Repo: "acme/shop", Outputs: map[string]string{"url": "https://shop.example"}}
			var log strings.Builder
			if err := live.Seed(context.Background(), env, &log); err != nil {
				t.Fatal(err)
			}
			if len(asked) != len(tt.wantAsked) || (len(asked) > 0 && asked[0] != tt.wantAsked[0]) {
				t.Errorf("Secrets asked with outputs %v, want %v", asked, tt.wantAsked)
			}
			if log.String() != tt.wantLog {
				t.Errorf("got log %q, want %q", log.String(), tt.wantLog)
			}
			if _, ok := env.Outputs["db_password"]; ok {
				t.Error("the environment's outputs now hold the sensitive one")
			}
		})
	}
}

// TestLiveDriftPolicyAndUnknownRepositories reads each repository's drift
// settings; a repository without a module has none, and its check is an
// error naming it.
func TestLiveDriftPolicyAndUnknownRepositories(t *testing.T) {
	live := NewLive(fakeTerraform{}, fakeRepositories{"acme/shop": {DriftCheckInterval: time.Hour, DriftReapply: true}})
	if every, reapply := live.DriftPolicy("acme/shop"); every != time.Hour || !reapply {
		t.Errorf("acme/shop: got %s, %v; want 1h, reapply", every, reapply)
	}
	if every, reapply := live.DriftPolicy("acme/other"); every != 0 || reapply {
		t.Errorf("acme/other: got %s, %v; want no drift checks", every, reapply)
	}
	if _, err := live.Check(context.Background(), preview.Environment{Repo: "acme/other"}, io.Discard); err == nil || !strings.Contains(err.Error(), "no module is configured for acme/other") {
		t.Errorf("check of acme/other: got %v", err)
	}
	if changes, err := live.DetectDrift(context.Background(), preview.Environment{Repo: "acme/shop"}, io.Discard); err != nil || len(changes) != 1 {
		t.Errorf("drift: got %v, %v", changes, err)
	}
}
