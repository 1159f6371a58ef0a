package parity

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	preview "github.com/previewd/previewd"
)

// secret is in every fixture holding values; it must never come out.
const secret = "sk_live_do_not_leak"

func keysFile(name string) string { return filepath.Join("testdata", "keys", name) }

func TestLoadKeys(t *testing.T) {
	tests := []struct {
		name    string
		src     Source
		want    []string
		wantErr string
	}{
		{
			name: "env file, quoted values spanning lines",
			src:  Source{EnvFile: keysFile("production.env")},
			want: []string{"DATABASE_URL", "NEW_SEARCH_ENDPOINT", "PAYMENTS_API_KEY", "RATE_LIMIT_PER_MINUTE", "TLS_PRIVATE_KEY"},
		},
		{
			name: "json file, nested keys dotted",
			src:  Source{JSONFile: keysFile("production.json")},
			want: []string{"database.pool.max", "database.url", "empty", "features", "token"},
		},
		{
			name: "yaml file, nested keys dotted",
			src:  Source{YAMLFile: keysFile("preview.yaml")},
			want: []string{"database.pool.max", "database.url", "empty", "features"},
		},
		{
			name: "tfvars file",
			src:  Source{TFVarsFile: keysFile("app.tfvars")},
			want: []string{"app_config.LOG_LEVEL", "app_config.SECRET", "region"},
		},
		{
			name: "command printing tab-separated names, prefix stripped",
			src:  Source{Command: []string{"printf", `/app/prod/DB_URL\t/app/prod/API_KEY\n/app/prod/DB_URL\n`}, StripPrefix: "/app/prod/"},
			want: []string{"API_KEY", "DB_URL"},
		},
		{
			name: "command printing values by mistake leaks none",
			src:  Source{Command: []string{"printf", "TOKEN=" + secret + "\nOTHER=x\n"}},
			want: []string{"OTHER", "TOKEN"},
		},
		{name: "env file line without =", src: Source{EnvFile: keysFile("bad.env")}, wantErr: "line 2: not a KEY=value line"},
		{name: "bad json", src: Source{JSONFile: keysFile("bad.json")}, wantErr: "invalid JSON"},
		{name: "bad yaml", src: Source{YAMLFile: keysFile("bad.yaml")}, wantErr: "invalid YAML at line"},
		{name: "bad tfvars", src: Source{TFVarsFile: keysFile("bad.tfvars")}, wantErr: "bad.tfvars:1"},
		{name: "json not an object", src: Source{JSONFile: filepath.Join("testdata", "toggles", "array.json")}, wantErr: "not a JSON object"},
		{name: "two sources", src: Source{JSONFile: keysFile("production.json"), Command: []string{"x"}}, wantErr: "sets command and json_file: set exactly one"},
		{name: "missing file", src: Source{EnvFile: keysFile("missing.env")}, wantErr: "no such file"},
		{name: "no source", src: Source{}, wantErr: "names no source"},
		{name: "command fails, stderr kept", src: Source{Command: []string{"sh", "-c", "echo " + secret + "; echo access denied >&2; exit 3"}}, wantErr: "exit status 3: access denied"},
		{name: "command not found", src: Source{Command: []string{"no-such-command-previewd"}}, wantErr: "no-such-command-previewd"},
		{name: "command times out", src: Source{Command: []string{"sleep", "10"}}, wantErr: "timed out after 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadKeys(context.Background(), tt.src, CommandOptions{Timeout: 200 * time.Millisecond})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if strings.Contains(strings.Join(got, " "), secret) {
				t.Errorf("keys leak a value: %q", got)
			}
		})
	}
}

func TestLoadKeysCommandEnvironment(t *testing.T) {
	t.Setenv("PREVIEWD_WEBHOOK_SECRET", "webhook-secret")
	t.Setenv("GITHUB_TOKEN", "gh-token")
	t.Setenv("AWS_PROFILE", "shop")
	t.Setenv("UNLISTED", "x")
	src := Source{Command: []string{"sh", "-c", `env | cut -d= -f1`}}
	got, err := LoadKeys(context.Background(), src, CommandOptions{EnvPassthrough: []string{"AWS_*", "PREVIEWD_*"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"PREVIEWD_WEBHOOK_SECRET", "GITHUB_TOKEN", "UNLISTED"} {
		if slices.Contains(got, name) {
			t.Errorf("command saw %s; got environment %q", name, got)
		}
	}
	for _, name := range []string{"AWS_PROFILE", "PATH"} {
		if !slices.Contains(got, name) {
			t.Errorf("command did not see %s; got environment %q", name, got)
		}
	}
}

func TestCompareKeys(t *testing.T) {
	prod := []string{"DATABASE_URL", "NEW_SEARCH_ENDPOINT", "PAYMENTS_API_KEY", "RATE_LIMIT_PER_MINUTE"}
	tests := []struct {
		name     string
		preview  []string
		declared []KeyDifference
		want     []preview.Finding
	}{
		{name: "same keys", preview: prod},
		{name: "extra preview keys are fine", preview: append(slices.Clone(prod), "DEBUG")},
		{
			name:    "missing keys",
			preview: []string{"DATABASE_URL", "PAYMENTS_API_KEY"},
			want: []preview.Finding{
				{Kind: preview.FindingConfigKey, Subject: "app-env: NEW_SEARCH_ENDPOINT", Production: "present", Preview: "missing", Reason: "missing in the preview, not declared"},
				{Kind: preview.FindingConfigKey, Subject: "app-env: RATE_LIMIT_PER_MINUTE", Production: "present", Preview: "missing", Reason: "missing in the preview, not declared"},
			},
		},
		{
			name:     "declared missing",
			preview:  []string{"DATABASE_URL", "PAYMENTS_API_KEY", "RATE_LIMIT_PER_MINUTE"},
			declared: []KeyDifference{{Key: "NEW_SEARCH_ENDPOINT", Reason: "cost"}},
			want: []preview.Finding{
				{Kind: preview.FindingConfigKey, Subject: "app-env: NEW_SEARCH_ENDPOINT", Production: "present", Preview: "missing", Declared: true, Reason: "cost"},
			},
		},
		{
			name:     "stale declarations",
			preview:  prod,
			declared: []KeyDifference{{Key: "PAYMENTS_API_KEY", Reason: "external-integration"}, {Key: "GONE", Reason: "cost"}},
			want: []preview.Finding{
				{Kind: preview.FindingConfigKey, Subject: "app-env: GONE", Production: "missing", Preview: "missing", Reason: "declared missing, but production has no such key"},
				{Kind: preview.FindingConfigKey, Subject: "app-env: PAYMENTS_API_KEY", Production: "present", Preview: "present", Reason: "stale declaration: the preview has the key"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CompareKeys("app-env", prod, tt.preview, tt.declared); !slices.Equal(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestKeyParityFromFiles is the hand-written bash check, from fixtures:
// production's env file has a key the preview's lacks, and no value of
// either file reaches the findings.
func TestKeyParityFromFiles(t *testing.T) {
	ctx := context.Background()
	prod, err := LoadKeys(ctx, Source{EnvFile: keysFile("production.env")}, CommandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prev, err := LoadKeys(ctx, Source{EnvFile: keysFile("preview.env")}, CommandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := CompareKeys("app-env", prod, prev, nil)
	var subjects []string
	for _, f := range got {
		subjects = append(subjects, f.Subject)
	}
	if want := []string{"app-env: NEW_SEARCH_ENDPOINT", "app-env: RATE_LIMIT_PER_MINUTE"}; !slices.Equal(subjects, want) {
		t.Errorf("got %q, want %q", subjects, want)
	}
	b, _ := json.Marshal(got)
	for _, leak := range []string{secret, "prod-db", "leaked_looking", "sk_test"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("findings leak %q: %s", leak, b)
		}
	}
}
