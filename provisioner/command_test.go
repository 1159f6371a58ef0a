package provisioner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorTail(t *testing.T) {
	long := strings.Repeat("│ line\n", 30)
	tests := []struct {
		in, want string
	}{
		{"exit status 1", "exit status 1"},
		{"exit status 1\n\n╷\n│ Error: local-exec provisioner error\n│ \n│ exit status 3. Output: boom\n╵\n",
			"exit status 1:\n│ Error: local-exec provisioner error\n│ exit status 3. Output: boom"},
		{"exit status 1\n" + long + "│ Error: last\n", "exit status 1:\n…\n" + strings.Repeat("│ line\n", maxErrorLines-1) + "│ Error: last"},
	}
	for _, tt := range tests {
		if got := errorTail(tt.in); got != tt.want {
			t.Errorf("errorTail(%q):\ngot  %q\nwant %q", tt.in, got, tt.want)
		}
	}
	huge := "exit status 1\n" + strings.Repeat("x", 5000) + "\nError: the end"
	if got := errorTail(huge); len(got) > maxErrorBytes+100 || !strings.HasSuffix(got, "Error: the end") {
		t.Errorf("errorTail of a huge line: got %d bytes ending %q", len(got), got[max(0, len(got)-20):])
	}
}

func TestCommandErrorUnwraps(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := fmt.Errorf("apply x: %w", (&run{}).commandError(ctx, "apply", fmt.Errorf("exit status 1: %w", context.Canceled)))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) = false", err)
	}
	if got, want := err.Error(), "apply x: terraform apply stopped: context canceled (exit status 1: context canceled)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCommandEcho(t *testing.T) {
	var b bytes.Buffer
	log := &runLog{w: &b}
	echo := commandEcho{log: log, bin: "/opt/bin/terraform", dataDir: "/srv/previewd"}
	stdout := log.stdout()
	echo.Printf("[INFO] running Terraform command: %s", "/opt/bin/terraform apply -no-color -auto-approve -var-file=/srv/previewd/envs/a/previewd.tfvars.json")
	fmt.Fprint(stdout, "Apply complete!\n")
	echo.Printf("[DEBUG] something else")
	echo.Printf("[INFO] running Terraform command: %s", "/opt/bin/terraform output -no-color -json")
	fmt.Fprint(stdout, `{"password": {"sensitive": true, "value": "hunter2"}}`)
	fmt.Fprint(log, "stderr stays\n")
	echo.Printf("[INFO] running Terraform command: %s", "/opt/bin/terraform version -json")
	fmt.Fprint(stdout, `{"terraform_version": "1.5.7"}`)
	echo.Printf("[INFO] running Terraform command: %s", "/opt/bin/terraform destroy -no-color")
	fmt.Fprint(stdout, "Destroy complete!\n")
	want := "$ terraform apply -no-color -auto-approve -var-file=envs/a/previewd.tfvars.json\n" +
		"Apply complete!\n" +
		"$ terraform output -no-color -json   # output read by previewd, not logged\n" +
		"stderr stays\n" +
		"$ terraform version -json   # output read by previewd, not logged\n" +
		"$ terraform destroy -no-color\n" +
		"Destroy complete!\n"
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSubcommand(t *testing.T) {
	for in, want := range map[string]string{
		"terraform output -json":              "output",
		"terraform -chdir=x show -json f":     "show",
		"terraform":                           "",
		"terraform state pull":                "state",
		"terraform apply -auto-approve -json": "apply",
	} {
		if got := subcommand(in); got != want {
			t.Errorf("subcommand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackendOverride(t *testing.T) {
	got, err := backendOverride("/data/${x}/%{y}/envs/a/terraform.tfstate")
	if err != nil {
		t.Fatal(err)
	}
	if want := `"path": "/data/$${x}/%%{y}/envs/a/terraform.tfstate"`; !strings.Contains(string(got), want) {
		t.Errorf("got %s, want it to contain %s", got, want)
	}
}
