package parity

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	preview "github.com/previewd/previewd"
)

func TestExtraInputs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "staging.tfvars")
	if err := os.WriteFile(file, []byte("team = \"web\"\nregion = \"eu-west-1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		files, vars []string
		want        map[string]any
		wantErr     string
	}{
		{"a var file, then vars over it", []string{file}, []string{"region=us-east-1", "tags={\"team\":\"shop\"}", "zones=[\"a\"]"},
			map[string]any{"team": "web", "region": "us-east-1", "tags": map[string]any{"team": "shop"}, "zones": []any{"a"}}, ""},
		{"a value with =", nil, []string{"dsn=a=b"}, map[string]any{"dsn": "a=b"}, ""},
		{"no value", nil, []string{"novalue"}, nil, `--preview-var "novalue": not name=value`},
		{"no name", nil, []string{"=1"}, nil, `--preview-var "=1": not name=value`},
		{"bad JSON", nil, []string{"tags={team}"}, nil, "--preview-var tags: not JSON"},
		{"missing file", []string{filepath.Join(dir, "missing.tfvars")}, nil, nil, "--preview-var-file: var file: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExtraInputs(tt.files, tt.vars)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestTerminalWidth(t *testing.T) {
	for columns, want := range map[string]int{"": DefaultWidth, "250": 250, " 80\n": 80, "0": DefaultWidth, "wide": DefaultWidth} {
		getenv := func(string) (string, bool) { return columns, columns != "" }
		if got := TerminalWidth(getenv); got != want {
			t.Errorf("COLUMNS=%q: got %d, want %d", columns, got, want)
		}
	}
}

// TestCheckScratchWhenTheBackendRefuses: plans the state backend refuses
// leave the other checks' report, naming what was skipped and why; it is
// an error unless those checks found drift, which stands, with why the
// plans could not run beside it. A plan failing otherwise is an error.
func TestCheckScratchWhenTheBackendRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte("variable \"environment\" {}\nvariable \"replicas\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("plan parity-check: terraform init: no credentials")
	c := NewChecker(fakePlanner{
		vars: ModuleVariables{Declared: map[string]bool{"environment": true, "replicas": true}},
		plan: func(string) (Plan, error) { return Plan{}, refused },
	})
	r := Repository{Name: "acme/shop", ModuleDir: dir, Vars: map[string]any{"replicas": 3}}
	byBackend := func(err error, tfLog string) bool {
		return errors.Is(err, refused) && tfLog == "Initializing the backend..."
	}
	tests := []struct {
		name       string
		extra      map[string]any
		refusedBy  func(error, string) bool
		wantErr    bool
		wantStatus preview.ParityStatus
		wantPlans  bool
		wantExit   int
	}{
		{"refused, no drift elsewhere", nil, byBackend, false, preview.ParityError, false, ExitError},
		{"refused, drift elsewhere", map[string]any{"replicas": 1}, byBackend, false, preview.ParityDrift, true, ExitDrift},
		{"the module failed", nil, func(error, string) bool { return false }, true, "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tfLog := bytes.NewBufferString("Initializing the backend...")
			out, err := c.CheckScratch(context.Background(), r, ScratchOptions{
				CheckOptions: CheckOptions{Env: preview.Environment{Name: ScratchEnvironment, Repo: "acme/shop"}, Extra: tt.extra},
				Backend:      "s3", Refused: tt.refusedBy,
			}, tfLog)
			if tt.wantErr {
				if !errors.Is(err, refused) {
					t.Errorf("got %v, want the plan's error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != tt.wantStatus || (out.Plans != nil) != tt.wantPlans || out.ExitStatus() != tt.wantExit {
				t.Errorf("got status %q, plans error %v, exit %d; want %q, %v, %d", out.Status, out.Plans, out.ExitStatus(), tt.wantStatus, tt.wantPlans, tt.wantExit)
			}
			if out.Skipped == nil || !reflect.DeepEqual(out.Skipped.Checks, PlanChecks) || !strings.Contains(out.Skipped.Because, `the state backend "s3" refused terraform`) {
				t.Errorf("got skipped %+v, want the plan checks, because the backend refused", out.Skipped)
			}
		})
	}
}

// TestWarningsDoNotChangeTheExitStatus: a warning (deploying would revert
// a change made to production) is no drift: a report of warnings alone
// exits as parity and prints them as warnings; drift beside one still
// exits as drift, counting the drift alone.
func TestWarningsDoNotChangeTheExitStatus(t *testing.T) {
	warning := preview.Finding{Kind: preview.FindingRevertsProduction, Subject: "pg_role.app.connection_limit", Production: "400", Preview: "200", Warning: true,
		Location: "main.tf:12", Reason: "production runs `pg_role.app.connection_limit = 400` since a change outside Terraform"}
	drift := preview.Finding{Kind: preview.FindingVariable, Subject: "replicas", Production: "3", Preview: "1", Reason: "not declared"}
	tests := []struct {
		name     string
		findings []preview.Finding
		want     int
		verdict  string
	}{
		{"a warning alone", []preview.Finding{warning}, ExitParity, "parity: ok, differs from production only where declared (0 declared, 1 warning;"},
		{"drift and a warning", []preview.Finding{warning, drift}, ExitDrift, "parity: DRIFT, 1 undeclared difference (0 declared, 1 warning;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Output{ParityReport: Report(tt.findings)}
			if got := out.ExitStatus(); got != tt.want {
				t.Errorf("exit status %d, want %d", got, tt.want)
			}
			var b bytes.Buffer
			if err := out.Print(&b, false, DefaultWidth); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(b.String(), tt.verdict) || !strings.Contains(b.String(), "\nWARN  reverts_production pg_role.app.connection_limit\n") {
				t.Errorf("printed\n%s\nwant it to start %q and mark the warning WARN", b.String(), tt.verdict)
			}
		})
	}
}
