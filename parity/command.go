package parity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// CommandOptions says how a configured command runs: config-key commands
// and the seed and pre-destroy hooks.
type CommandOptions struct {
	// Dir is the working directory (default: previewd's own); a relative
	// program path is relative to it.
	Dir string
	// EnvPassthrough names the variables copied from previewd's environment,
	// besides the harmless defaults (see Config.EnvPassthrough).
	EnvPassthrough []string
	// Timeout bounds the run; 0 leaves only ctx to end it.
	Timeout time.Duration
	// Secrets are redacted from what the command writes to a log and from
	// its error.
	Secrets preview.Secrets
}

// defaultPassthrough names the variables every command gets, as Terraform
// does in the provisioner.
var defaultPassthrough = []string{
	"PATH", "HOME", "TMPDIR", "USER", "LANG", "LC_ALL", "TZ",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
}

// forbiddenPrefixes start the names that never reach a command: previewd's
// own settings (webhook secret, admin token, App key) and GitHub tokens.
var forbiddenPrefixes = []string{"PREVIEWD_", "GITHUB_"}

func forbidden(name string) bool {
	for _, p := range forbiddenPrefixes {
		if strings.HasPrefix(strings.ToUpper(name), p) {
			return true
		}
	}
	return false
}

// validatePassthrough checks env_passthrough: names or prefixes ending in
// "*", never "*" alone, never a forbidden name.
func validatePassthrough(names []string) error {
	for i, n := range names {
		literal := strings.TrimSuffix(n, "*")
		switch {
		case literal == "":
			return fmt.Errorf("env_passthrough[%d]: %q would pass every variable", i, n)
		case strings.ContainsAny(literal, "=*"):
			return fmt.Errorf("env_passthrough[%d]: %q is not a name or a prefix ending in *", i, n)
		case forbidden(literal):
			return fmt.Errorf("env_passthrough[%d]: %q: names starting with %s are never passed to commands", i, n, strings.Join(forbiddenPrefixes, " or "))
		}
	}
	return nil
}

func matchesAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, prefix) || name == p {
			return true
		}
	}
	return false
}

// commandEnv builds a command's whole environment from previewd's (environ,
// "KEY=value" entries): the default and configured passthrough names, then
// extra, which wins. Forbidden names are dropped whatever matched them.
func commandEnv(environ, passthrough []string, extra map[string]string) []string {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && !forbidden(k) && (matchesAny(k, defaultPassthrough) || matchesAny(k, passthrough)) {
			env[k] = v
		}
	}
	for k, v := range extra {
		if !forbidden(k) {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// maxStderr bounds how much of a failed command's stderr its error carries.
const maxStderr = 1000

// tailBuffer keeps the last maxStderr bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2*maxStderr {
		t.b = append([]byte(nil), t.b[len(t.b)-maxStderr:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	s := strings.TrimSpace(string(t.b))
	if len(s) > maxStderr {
		s = "…" + s[len(s)-maxStderr:]
	}
	return s
}

// run runs argv with opts, extra added to its environment, stdout to stdout
// and stderr to log (if any). It blocks until the command exits or, once ctx
// or the timeout ends, until it has been killed. The error names argv[0]
// and carries the tail of stderr.
func run(ctx context.Context, argv []string, opts CommandOptions, extra map[string]string, stdout, log io.Writer) error {
	if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
		return errors.New("no command")
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = opts.Dir
	cmd.Env = commandEnv(os.Environ(), opts.EnvPassthrough, extra)
	cmd.WaitDelay = 5 * time.Second // a child still holding the pipes cannot hang us
	var tail tailBuffer
	cmd.Stdout = stdout
	cmd.Stderr = &tail
	if log != nil {
		cmd.Stderr = io.MultiWriter(&tail, log)
	}
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("timed out after %s", opts.Timeout)
	case ctx.Err() != nil:
		err = ctx.Err()
	}
	if s := tail.String(); s != "" {
		return opts.Secrets.RedactError(fmt.Errorf("command %s: %w: %s", argv[0], err, s))
	}
	return fmt.Errorf("command %s: %w", argv[0], err)
}

// RunHook runs a seed or pre-destroy command for env: no shell, the
// allowlisted environment plus HookEnv(env, outputs), its stdout and stderr
// written to log. It blocks until the command exits, or until it was killed
// when ctx ended or opts.Timeout passed; the error then carries the tail of
// its stderr.
//
// What the hook prints, and its error, are redacted of opts.Secrets: a
// hook given sensitive outputs must not show them in the run's log.
func RunHook(ctx context.Context, argv []string, env preview.Environment, outputs map[string]string, opts CommandOptions, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	redacted := opts.Secrets.Writer(log)
	w := &lockedWriter{w: redacted} // stdout and stderr are copied from two goroutines
	err := run(ctx, argv, opts, HookEnv(env, outputs), w, w)
	if cerr := redacted.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var notIdent = regexp.MustCompile(`[^A-Z0-9_]`)

// HookEnv returns the variables a hook gets about env: PREVIEW_ENVIRONMENT,
// PREVIEW_REPO, PREVIEW_PR, PREVIEW_BRANCH, PREVIEW_BRANCH_SLUG,
// PREVIEW_HEAD_SHA, PREVIEW_URL, and each output as PREVIEW_OUTPUT_<NAME>
// (upper case, other characters made "_"). PREVIEW_BRANCH is the pull
// request's branch as its author wrote it (quote it); PREVIEW_BRANCH_SLUG is
// its DNS-label form, [a-z0-9-] only, safe unquoted. outputs holds
// sensitive outputs only when the operator allowed the hook to see them.
func HookEnv(env preview.Environment, outputs map[string]string) map[string]string {
	vars := map[string]string{
		"PREVIEW_ENVIRONMENT": env.Name,
		"PREVIEW_REPO":        env.Repo,
		"PREVIEW_PR":          strconv.Itoa(env.PR),
		"PREVIEW_BRANCH":      env.Branch,
		"PREVIEW_BRANCH_SLUG": preview.Slug(env.Branch, preview.MaxNameLength),
		"PREVIEW_HEAD_SHA":    env.HeadSHA,
		"PREVIEW_URL":         env.URL,
	}
	for name, v := range outputs {
		vars["PREVIEW_OUTPUT_"+notIdent.ReplaceAllString(strings.ToUpper(name), "_")] = v
	}
	return vars
}

// commandOutput runs argv and returns its stdout, which is never shown.
func commandOutput(ctx context.Context, argv []string, opts CommandOptions) ([]byte, error) {
	var out bytes.Buffer
	if err := run(ctx, argv, opts, nil, &out, nil); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
