package provisioner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

// commandRunner runs a Terraform command of a run without terraform-exec,
// with the run's environment, working directory, log and echo. It is for
// one command only: `show -json` of a saved plan. terraform-exec's
// ShowPlanFile first runs `terraform version -json` on every new handle, and
// every run has a new one: a parity check after each apply would cost two
// processes instead of one, and a process is what a preview's run costs
// most (previewd reads the engine's version once, in EngineBanner).
type commandRunner struct {
	bin       string
	dir       string
	env       map[string]string // as given to terraform-exec's SetEnv
	waitDelay time.Duration
	stderr    io.Writer // the run's log
	echo      commandEcho
}

// showPlanFile runs `terraform show -json -no-color path` and decodes the
// plan, which it checks as terraform-exec does. Stdout, which holds every
// variable's value, is read and never logged; stderr goes to the run's log.
// Like terraform-exec, it interrupts Terraform when ctx ends and kills it
// waitDelay later. A failure's error is terraform-exec's shape: the exit
// status, then stderr.
func (c commandRunner) showPlanFile(ctx context.Context, path string) (*tfjson.Plan, error) {
	cmd := exec.CommandContext(ctx, c.bin, "show", "-json", "-no-color", path)
	cmd.Dir = c.dir
	cmd.Env = make([]string, 0, len(c.env)+1)
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "TF_IN_AUTOMATION=1") // as terraform-exec always sets it
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = c.waitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(c.stderr, &stderr)
	c.echo.Printf("%s%s", runningPrefix, cmd.String())
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return nil, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	var plan tfjson.Plan
	if err := json.Unmarshal(stdout.Bytes(), &plan); err != nil {
		return nil, fmt.Errorf("read the output of terraform show -json: %w", err)
	}
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	return &plan, nil
}
