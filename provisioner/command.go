package provisioner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	preview "github.com/previewd/previewd"
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
	secrets preview.Secrets
}

// commandError returns the error of command, which failed with err while
// ctx was its context; the run's secrets never show in its text. A failed
// command may come from a stale .terraform (a provider gone from a shared
// cache, say): the environment's next run initialises again, and does not
// copy a kept init this run copied.
func (r *run) commandError(ctx context.Context, command string, err error) *commandError {
	if r.ws.root != "" {
		os.Remove(r.ws.initDigestPath())
	}
	if r.restoredInit != "" {
		os.RemoveAll(r.restoredInit) // the next run inits for real
	}
	return &commandError{command: command, err: err, cause: context.Cause(ctx), secrets: r.secrets}
}

func (e *commandError) Error() string {
	if e.cause != nil {
		return e.secrets.Redact("terraform " + e.command + " stopped: " + e.cause.Error() + " (" + e.err.Error() + ")")
	}
	return e.secrets.Redact("terraform " + e.command + ": " + errorTail(e.err.Error()))
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

// runLog is one run's Terraform log. terraform-exec copies a command's
// stdout and stderr from two goroutines, so writes are serialised. Stdout
// is dropped while a bookkeeping command runs (see commandEcho): what
// `output -json`, `show -json` and `version -json` print is previewd's to
// read, holds sensitive values, and never belongs in a log.
type runLog struct {
	mu      sync.Mutex
	w       io.Writer
	secrets preview.Secrets
	quiet   bool // the running command's stdout is not logged
}

// Write writes p with the run's secrets redacted. terraform-exec writes
// whole lines, so a secret is never split between two writes.
func (l *runLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.write(p)
}

func (l *runLog) write(p []byte) (int, error) {
	if _, err := io.WriteString(l.w, l.secrets.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// setSecrets replaces what the log redacts.
func (l *runLog) setSecrets(secrets preview.Secrets) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = secrets
}

func (l *runLog) setQuiet(quiet bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.quiet = quiet
}

// stdout is the writer for Terraform's stdout: the log, except while a
// bookkeeping command runs.
func (l *runLog) stdout() io.Writer { return runStdout{l} }

type runStdout struct{ l *runLog }

func (s runStdout) Write(p []byte) (int, error) {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	if s.l.quiet {
		return len(p), nil
	}
	return s.l.write(p)
}

// bookkeeping names the Terraform subcommands previewd runs to read
// something, never to change anything: their stdout is not logged.
var bookkeeping = map[string]bool{"output": true, "show": true, "version": true, "state": true, "providers": true}

// commandEcho is terraform-exec's logger. terraform-exec logs every command
// line just before it starts the command, after the previous one finished:
// commandEcho writes it to the run's log as "$ terraform apply …", so the
// log shows exactly what ran, and keeps a bookkeeping command's stdout out
// of the log. Paths under the data directory are shown relative to it.
type commandEcho struct {
	log     *runLog
	bin     string
	dataDir string
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
	if c.dataDir != "" {
		cmd = strings.ReplaceAll(cmd, c.dataDir+string(filepath.Separator), "")
	}
	quiet := bookkeeping[subcommand(cmd)]
	c.log.setQuiet(quiet)
	if quiet {
		cmd += "   # output read by previewd, not logged"
	}
	fmt.Fprintf(c.log, "$ %s\n", cmd)
}

// subcommand returns the Terraform subcommand of a command line
// ("terraform -chdir=x output -json" gives "output").
func subcommand(cmdline string) string {
	for _, f := range strings.Fields(cmdline)[1:] {
		if !strings.HasPrefix(f, "-") {
			return f
		}
	}
	return ""
}
