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
	err := fmt.Errorf("apply x: %w", newCommandError(ctx, "apply", fmt.Errorf("exit status 1: %w", context.Canceled)))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) = false", err)
	}
	if got, want := err.Error(), "apply x: terraform apply stopped: context canceled (exit status 1: context canceled)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCommandEcho(t *testing.T) {
	var b bytes.Buffer
	echo := commandEcho{w: &b, bin: "/opt/bin/terraform"}
	echo.Printf("[INFO] running Terraform command: %s", "/opt/bin/terraform apply -no-color -auto-approve")
	echo.Printf("[DEBUG] something else")
	if got, want := b.String(), "$ terraform apply -no-color -auto-approve\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
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
