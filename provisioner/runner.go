package provisioner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

// commandRunner runs Terraform commands of a run without terraform-exec,
// with the run's environment, working directory, log and echo. It is for
// the two commands terraform-exec runs at a higher price: before `init`
// (always) and `show` (on every new handle, and every run has a new one) it
// runs `terraform version -json` first, a process more for each, where a
// process is what a preview's run costs most. previewd reads the engine's
// version once, in EngineBanner.
type commandRunner struct {
	bin       string
	dir       string
	env       map[string]string // as given to terraform-exec's SetEnv
	waitDelay time.Duration
	log       *runLog
	echo      commandEcho
	// readOnly runs only what cannot write state or infrastructure (see
	// readOnlyProblem): a watch of production.
	readOnly bool
}

// run runs Terraform with args, stdout to stdout and stderr to the run's
// log. When ctx ends it interrupts Terraform, and kills Terraform's whole
// process group (its providers and local-exec commands too) waitDelay
// later if it has not stopped, and whatever is left of the group once it
// has: when run returns after ctx ended, nothing it started still runs.
// A failure's error is terraform-exec's shape: the exit status, then
// stderr.
func (c commandRunner) run(ctx context.Context, stdout io.Writer, args ...string) error {
	return c.runEnv(ctx, stdout, nil, args...)
}

// runEnv is run with extra variables in Terraform's environment.
func (c commandRunner) runEnv(ctx context.Context, stdout io.Writer, extra map[string]string, args ...string) error {
	if c.readOnly {
		if why := readOnlyProblem(args); why != "" {
			return fmt.Errorf("%w: terraform %s %s", ErrReadOnly, strings.Join(args[:min(len(args), 2)], " "), why)
		}
	}
	cmd := exec.CommandContext(ctx, c.bin, args...)
	ownGroup(cmd)
	cmd.Dir = c.dir
	cmd.Env = make([]string, 0, len(c.env)+len(extra)+1)
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "TF_IN_AUTOMATION=1") // as terraform-exec always sets it
	var kill *time.Timer
	cmd.Cancel = func() error {
		kill = time.AfterFunc(c.waitDelay, func() { killGroup(cmd) })
		return cmd.Process.Signal(os.Interrupt)
	}
	// Go's own kill of Terraform alone comes after the group's, and ends
	// the wait for output a surviving child might still hold open.
	cmd.WaitDelay = c.waitDelay + time.Second
	var stderr bytes.Buffer
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(c.log, &stderr)
	c.echo.Printf("%s%s", runningPrefix, cmd.String())
	err := cmd.Run()
	if kill != nil {
		kill.Stop()
		killGroup(cmd) // what an interrupted Terraform left behind
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return fmt.Errorf("%w\n%s", err, stderr.String())
	}
	return nil
}

// plan runs `terraform plan -out=path` with varFiles and extra flags
// (-refresh-only), waiting lockTimeout for the state lock; changed is its
// -detailed-exitcode answer.
func (c commandRunner) plan(ctx context.Context, path string, varFiles []string, extra ...string) (changed bool, err error) {
	args := []string{"plan", "-no-color", "-input=false", "-detailed-exitcode", "-lock-timeout=" + stateLockTimeout.String(), "-out=" + path}
	if c.readOnly {
		args = append(args, "-lock=false")
	}
	args = append(append(args, varFileArgs(varFiles)...), extra...)
	err = c.run(ctx, c.log.stdout(), args...)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 && ctx.Err() == nil {
		return true, nil
	}
	return false, err
}

// apply runs `terraform apply` of the saved plan at path.
func (c commandRunner) apply(ctx context.Context, path string) error {
	return c.run(ctx, c.log.stdout(), "apply", "-no-color", "-auto-approve", "-input=false", "-lock-timeout="+stateLockTimeout.String(), path)
}

// destroy runs `terraform destroy` with varFiles.
func (c commandRunner) destroy(ctx context.Context, varFiles []string) error {
	args := []string{"destroy", "-no-color", "-auto-approve", "-input=false", "-lock-timeout=" + stateLockTimeout.String()}
	return c.run(ctx, c.log.stdout(), append(args, varFileArgs(varFiles)...)...)
}

func varFileArgs(files []string) []string {
	args := make([]string, len(files))
	for i, f := range files {
		args[i] = "-var-file=" + f
	}
	return args
}

// init runs `terraform init` for previewd's backend (-reconfigure: the
// backend is previewd's; no state is ever migrated), with the dependency
// lock file read-only when readOnlyLock, and the backend's settings from
// the file backendConfig when it is not "".
func (c commandRunner) init(ctx context.Context, readOnlyLock bool, backendConfig string) error {
	args := []string{"init", "-no-color", "-input=false", "-reconfigure"}
	if c.readOnly {
		args = append(args, "-lock=false")
	}
	if backendConfig != "" {
		args = append(args, "-backend-config="+backendConfig)
	}
	if readOnlyLock {
		args = append(args, "-lockfile=readonly")
	}
	return c.run(ctx, c.log.stdout(), args...)
}

// showPlanFile runs `terraform show -json -no-color path` and decodes the
// plan, which it checks as terraform-exec does. Stdout, which holds every
// variable's value, is read and never logged.
func (c commandRunner) showPlanFile(ctx context.Context, path string) (*tfjson.Plan, error) {
	var stdout bytes.Buffer
	if err := c.run(ctx, &stdout, "show", "-json", "-no-color", path); err != nil {
		return nil, err
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

// stateLockTimeout is how long plan, apply and destroy wait for a state lock
// another Terraform holds (-lock-timeout) before failing; a failure is
// retried later like any transient one.
const stateLockTimeout = 30 * time.Second

// contentionMarks are a remote backend saying another Terraform holds a
// lock for a moment, or raced it in creating the backend's own tables:
// Terraform's pg backend takes one lock to create any workspace, and each
// state lock also tries it, without waiting.
var contentionMarks = []string{
	"locked for workspace creation",
	`duplicate key value violates unique constraint "pg_`,
}

// retryContended runs fn, again after a short, growing, jittered pause
// while it fails on contention (contentionMarks), for up to about 20
// seconds: commands that take no -lock-timeout (state pull, and init and
// the state commands creating a workspace) would otherwise fail whenever
// other environments' runs create theirs at the same moment.
func retryContended(ctx context.Context, fn func() error) error {
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == 10 || !contended(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay/2 + rand.N(delay)):
		}
		delay = min(2*delay, 4*time.Second)
	}
}

func contended(err error) bool {
	msg := err.Error()
	for _, m := range contentionMarks {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// ErrReadOnly is a command refused to a read-only run: one that could
// write state (apply, destroy, import, state push/rm/mv, force-unlock,
// workspace new/delete, taint) or take its lock.
var ErrReadOnly = errors.New("refused: this run is read-only")

// readOnlyProblem says why args may not run in a read-only run, or "":
// only init, plan, show, version and state pull may, and init and plan
// only with -lock=false (a lock is a write to the state's backend).
func readOnlyProblem(args []string) string {
	if len(args) == 0 {
		return "(no command)"
	}
	switch args[0] {
	case "show", "version":
		return ""
	case "state":
		if len(args) > 1 && args[1] == "pull" {
			return ""
		}
	case "init", "plan":
		if slices.Contains(args, "-lock=false") {
			return ""
		}
		return "without -lock=false"
	}
	return "writes"
}
