package provisioner

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
)

// maxErrorLines and maxErrorBytes bound how much of Terraform's stderr an
// error carries; the whole of it is in the run's log.
const (
	maxErrorLines = 20
	maxErrorBytes = 2000
)

// commandError is a failed Terraform command, carrying the tail of its
// stderr. It unwraps to terraform-exec's error, which matches
// context.Canceled or context.DeadlineExceeded when ctx ended the run.
type commandError struct {
	command string // "apply"
	err     error  // terraform-exec's: "exit status 1\n<stderr>"
	cause   error  // why the run's context ended, if it did
}

// newCommandError returns the error of command, which failed with err while
// ctx was its context.
func newCommandError(ctx context.Context, command string, err error) *commandError {
	return &commandError{command: command, err: err, cause: context.Cause(ctx)}
}

func (e *commandError) Error() string {
	if e.cause != nil {
		return "terraform " + e.command + " stopped: " + e.cause.Error() + " (" + e.err.Error() + ")"
	}
	return "terraform " + e.command + ": " + errorTail(e.err.Error())
}

func (e *commandError) Unwrap() error { return e.err }

// errorTail shortens terraform-exec's error text ("exit status 1", then all
// of stderr) to its first line and the last non-blank lines of the rest,
// where Terraform puts the errors that stopped it.
func errorTail(s string) string {
	first, rest, _ := strings.Cut(strings.TrimSpace(s), "\n")
	var lines []string
	for _, l := range strings.Split(rest, "\n") {
		if l = strings.TrimRight(l, " \t"); strings.Trim(l, "│╷╵ ") != "" {
			lines = append(lines, l)
		}
	}
	cut := len(lines) > maxErrorLines
	if cut {
		lines = lines[len(lines)-maxErrorLines:]
	}
	tail := strings.Join(lines, "\n")
	if len(tail) > maxErrorBytes {
		tail = tail[len(tail)-maxErrorBytes:]
		if i := strings.IndexByte(tail, '\n'); i >= 0 {
			tail = tail[i+1:]
		}
		cut = true
	}
	if cut {
		tail = "…\n" + tail
	}
	if tail == "" {
		return first
	}
	return first + ":\n" + tail
}

// syncWriter serialises writes to a log: terraform-exec copies stdout and
// stderr from two goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// commandEcho is terraform-exec's logger: it turns the line terraform-exec
// logs before each command into "$ terraform apply …" in the run's log, so
// the log shows exactly what ran.
type commandEcho struct {
	w   io.Writer
	bin string
}

const runningPrefix = "[INFO] running Terraform command: "

// Printf implements terraform-exec's logger.
func (c commandEcho) Printf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	cmd, ok := strings.CutPrefix(msg, runningPrefix)
	if !ok {
		return
	}
	if rest, ok := strings.CutPrefix(cmd, c.bin); ok {
		cmd = filepath.Base(c.bin) + rest
	}
	fmt.Fprintf(c.w, "$ %s\n", cmd)
}
