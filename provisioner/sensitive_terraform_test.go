package provisioner

// This test runs the real Terraform binary on testdata/sensitive.

import (
	"context"
	"strings"
	"testing"

	"github.com/previewd/previewd/internal/waittest"
)

// TestSensitiveValuesStayOutOfRunLogs runs every kind of run on a module
// with a sensitive variable and a sensitive output, all into one log, and
// looks for the secret in the log and in what the runs return.
func TestSensitiveValuesStayOutOfRunLogs(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-canary-4711"
	mod := fixture("sensitive")
	mod.Vars = map[string]any{"db_password": secret}
	mod.Secrets = []string{secret} // as previewd's configuration derives them
	p, _ := newTestProvisioner(t, mod)
	ctx := context.Background()
	env := testEnv("canary", "sha1")
	var log waittest.Buffer

	res, err := p.Apply(ctx, env, &log)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, log.String())
	}
	if _, ok := res.Outputs["db_password"]; ok {
		t.Errorf("apply returned the sensitive output: %v", res.Outputs)
	}
	if got, want := res.Outputs["db_name"], "db-canary"; got != want {
		t.Errorf("db_name output: got %q, want %q", got, want)
	}
	sensitive, err := p.SensitiveOutputs(ctx, env)
	if err != nil {
		t.Fatalf("sensitive outputs: %v", err)
	}
	if got, want := sensitive["db_password"], "canary-"+secret; got != want || len(sensitive) != 1 {
		t.Errorf("sensitive outputs: got %v, want only db_password = %q", sensitive, want)
	}
	if _, err := p.PlanPreview(ctx, env, &log); err != nil {
		t.Fatalf("plan: %v\n%s", err, log.String())
	}
	if _, err := p.PlanProduction(ctx, env, map[string]any{"db_password": secret}, &log); err != nil {
		t.Fatalf("plan production: %v\n%s", err, log.String())
	}
	if _, _, err := p.DetectDrift(ctx, env, &log); err != nil {
		t.Fatalf("drift: %v\n%s", err, log.String())
	}
	if err := p.Destroy(ctx, env, &log); err != nil {
		t.Fatalf("destroy: %v\n%s", err, log.String())
	}

	got := log.String()
	for _, want := range []string{"$ terraform apply", "$ terraform show -json -no-color envs/canary/previewd.tfplan   # output read by previewd, not logged",
		"$ terraform destroy", "Apply complete!", "Destroy complete!"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, secret) {
		t.Errorf("the secret is in the run log:\n%s", got)
	}
	// Terraform 1.5 prints terraform_data's output unmasked in a destroy
	// plan: the log shows it redacted.
	if !strings.Contains(got, `password = "(sensitive)"`) {
		t.Errorf("the log does not show the redacted value:\n%s", got)
	}
	if after, err := p.SensitiveOutputs(ctx, env); err != nil || len(after) != 0 {
		t.Errorf("sensitive outputs after destroy: got %v, %v; want none", after, err)
	}
}
