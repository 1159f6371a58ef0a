package provisioner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// Config configures a Provisioner.
type Config struct {
	// TerraformBin is the terraform (or tofu) binary: a path, or a name
	// looked up in PATH.
	TerraformBin string
	// DataDir is the root of previewd's data; each environment gets
	// DataDir/envs/<name>/.
	DataDir string
	// PluginCacheDir, when set, is the TF_PLUGIN_CACHE_DIR every environment
	// shares; inits are then run one at a time.
	PluginCacheDir string
	// CLIConfigFile, when set, is Terraform's CLI configuration file
	// (TF_CLI_CONFIG_FILE) for every run: where providers are installed
	// from (a filesystem mirror), registry credentials.
	CLIConfigFile string
	// EnvPassthrough names the variables copied from previewd's environment
	// into Terraform's, besides PATH, HOME, TMPDIR, USER, LANG, LC_ALL, TZ,
	// the proxy variables, SSL_CERT_FILE and SSL_CERT_DIR. A trailing * makes
	// a prefix ("AWS_*"). Names starting with PREVIEWD_ or GITHUB_ are refused.
	EnvPassthrough []string
	// Env holds fixed variables added to Terraform's environment.
	Env map[string]string
	// WaitDelay is how long Terraform gets to stop after the SIGINT sent when
	// a run's context ends, before it is killed (default 60s).
	WaitDelay time.Duration
	// Logger receives one line per finished run (default: discard).
	Logger *slog.Logger
}

// Provisioner applies and destroys environments with Terraform. It is safe
// for concurrent use; runs of one environment wait for each other.
type Provisioner struct {
	cfg     Config
	bin     string // absolute
	dataDir string // absolute
	logger  *slog.Logger
	initSem chan struct{} // serialises inits when a plugin cache is shared; nil otherwise

	mu           sync.Mutex
	locks        map[string]chan struct{} // per environment, held during a run
	appliedPlans map[string]string        // per environment, the plan file its last apply applied, until a check takes it

	inits initCache

	engineMu sync.Mutex
	engine   string // the binary's version banner, once read
}

// New returns a Provisioner. It returns an error when the Terraform binary is
// missing or not executable, DataDir is unset, or the environment
// configuration would pass a forbidden variable.
func New(cfg Config) (*Provisioner, error) {
	if cfg.TerraformBin == "" {
		return nil, errors.New("provisioner: no terraform binary configured")
	}
	bin, err := exec.LookPath(cfg.TerraformBin)
	if err != nil {
		return nil, fmt.Errorf("provisioner: terraform binary: %w", err)
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, fmt.Errorf("provisioner: terraform binary: %w", err)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("provisioner: no data directory configured")
	}
	if err := validatePassthrough(cfg.EnvPassthrough); err != nil {
		return nil, fmt.Errorf("provisioner: %w", err)
	}
	if err := validateFixedEnv(cfg.Env); err != nil {
		return nil, fmt.Errorf("provisioner: %w", err)
	}
	p := &Provisioner{cfg: cfg, bin: bin, logger: cfg.Logger, locks: map[string]chan struct{}{}, appliedPlans: map[string]string{}}
	if p.dataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("provisioner: data directory: %w", err)
	}
	p.inits = initCache{dir: filepath.Join(p.dataDir, "init")}
	if err := os.MkdirAll(filepath.Join(p.dataDir, "envs"), 0o700); err != nil {
		return nil, fmt.Errorf("provisioner: %w", err)
	}
	if cfg.PluginCacheDir != "" {
		if p.cfg.PluginCacheDir, err = filepath.Abs(cfg.PluginCacheDir); err != nil {
			return nil, fmt.Errorf("provisioner: plugin cache: %w", err)
		}
		if err := os.MkdirAll(p.cfg.PluginCacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("provisioner: %w", err)
		}
		p.initSem = make(chan struct{}, 1)
	}
	if cfg.CLIConfigFile != "" {
		if p.cfg.CLIConfigFile, err = filepath.Abs(cfg.CLIConfigFile); err != nil {
			return nil, fmt.Errorf("provisioner: CLI configuration: %w", err)
		}
		if _, err := os.Stat(p.cfg.CLIConfigFile); err != nil {
			return nil, fmt.Errorf("provisioner: CLI configuration: %w", err)
		}
	}
	if p.cfg.WaitDelay <= 0 {
		p.cfg.WaitDelay = 60 * time.Second
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	p.logger = p.logger.With("component", "provisioner")
	return p, nil
}

// Apply creates or updates env: it syncs the module into the environment's
// directory, then runs terraform init, plan and apply of that plan, reads
// the outputs from the state, streaming
// Terraform's output to log. It blocks until Terraform is done, or has
// stopped after ctx ended. Configuration mistakes (a module not declaring
// "environment", an undeclared var, no URL output) are EINVALID
// *preview.Errors; a failed command's error carries the tail of Terraform's
// stderr.
func (p *Provisioner) Apply(ctx context.Context, env preview.Environment, mod Module, log io.Writer) (Result, error) {
	start := time.Now()
	res, err := p.apply(ctx, env, mod, log)
	if err != nil {
		return Result{}, fmt.Errorf("apply %s: %w", env.Name, err)
	}
	p.logger.Info("applied", "environment", env.Name, "head_sha", env.HeadSHA, "url", res.URL, "duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}

func (p *Provisioner) apply(ctx context.Context, env preview.Environment, mod Module, log io.Writer) (Result, error) {
	unlock, err := p.lock(ctx, env.Name)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	r, err := p.ready(ctx, env, mod, log)
	if err != nil {
		return Result{}, err
	}
	// Plan, apply that very plan, and keep it for the parity check: what is
	// checked is what was applied, and the check needs no plan of its own.
	// An earlier apply's plan is forgotten first, whatever this one does.
	p.takeAppliedPlan(env.Name)
	path := p.workspace(env.Name).appliedPlanPath()
	if _, err := planTo(ctx, r, path); err != nil {
		return Result{}, err
	}
	if err := r.cmds.apply(ctx, path); err != nil {
		os.Remove(path)
		return Result{}, r.commandError(ctx, "apply", err)
	}
	// The outputs are in the state the apply just wrote: no `terraform
	// output`.
	b, err := r.readState(ctx)
	if err != nil {
		os.Remove(path)
		return Result{}, err
	}
	doc, err := parseState(b)
	if err != nil {
		os.Remove(path)
		return Result{}, err
	}
	p.keepAppliedPlan(env.Name, path)
	res, err := resultFromOutputs(doc.Outputs, r.module.URLOutput)
	res.Module = r.module.Version
	return res, err
}

// keepAppliedPlan remembers the plan file an apply of name applied, for
// the parity check that follows it (see PlanApplied).
func (p *Provisioner) keepAppliedPlan(name, path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.appliedPlans[name] = path
}

// takeAppliedPlan returns and forgets the plan file the last apply of name
// applied, if it kept one.
func (p *Provisioner) takeAppliedPlan(name string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	path, ok := p.appliedPlans[name]
	delete(p.appliedPlans, name)
	return path, ok
}

// Destroy tears env down: it syncs the module, runs terraform init and
// destroy with the same variables as Apply, and removes the environment's
// directory once its state is empty. An environment without state (never
// applied, or already destroyed) is done without running Terraform, and its
// directory, if any, removed. It blocks like Apply.
func (p *Provisioner) Destroy(ctx context.Context, env preview.Environment, mod Module, log io.Writer) error {
	start := time.Now()
	if err := p.destroy(ctx, env, mod, log); err != nil {
		return fmt.Errorf("destroy %s: %w", env.Name, err)
	}
	p.logger.Info("destroyed", "environment", env.Name, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

func (p *Provisioner) destroy(ctx context.Context, env preview.Environment, mod Module, log io.Writer) error {
	unlock, err := p.lock(ctx, env.Name)
	if err != nil {
		return err
	}
	defer unlock()
	p.takeAppliedPlan(env.Name)
	ws := p.workspace(env.Name)
	mod, err = checkModule(mod, env)
	if err != nil {
		return err
	}
	if _, err := os.Stat(ws.statePath()); !mod.State.Remote() && errors.Is(err, fs.ErrNotExist) && !hasErroredState(ws.copyRoot()) {
		if log != nil {
			fmt.Fprintf(log, "# %s has no state: nothing to destroy\n", env.Name)
		}
		return os.RemoveAll(ws.root)
	}
	r, err := p.ready(ctx, env, mod, log)
	if err != nil {
		return err
	}
	if empty, err := r.stateEmpty(ctx); err != nil {
		return err
	} else if !empty {
		if err := r.cmds.destroy(ctx, r.varFiles); err != nil {
			return r.commandError(ctx, "destroy", err)
		}
		// A remote state is not pulled again: `workspace delete` (without
		// -force) refuses a workspace that still holds resources.
		if !r.state.Remote() {
			if empty, err := r.stateEmpty(ctx); err != nil {
				return err
			} else if !empty {
				return preview.Errorf(preview.EINTERNAL, "terraform destroy succeeded but %s's state still holds resources; its directory is kept", env.Name)
			}
		}
	} else if log != nil {
		fmt.Fprintf(log, "# %s has no resources in its state: nothing to destroy\n", env.Name)
	}
	if err := r.deleteWorkspace(ctx, env.Name); err != nil {
		return err
	}
	return os.RemoveAll(ws.root)
}

// SensitiveOutputs returns the sensitive outputs of env as last applied,
// strings as they are and other values as JSON, for a hook the operator
// allowed to see them. They are read from the environment's state, and
// nothing is kept; an environment without state has none. It blocks like
// Apply, waiting for any other run of env.
func (p *Provisioner) SensitiveOutputs(ctx context.Context, env preview.Environment, mod Module) (map[string]string, error) {
	unlock, err := p.lock(ctx, env.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	b, err := p.stateOf(ctx, env, mod)
	if err != nil {
		return nil, fmt.Errorf("outputs of %s: %w", env.Name, err)
	}
	doc, err := parseState(b)
	if err != nil || len(doc.Resources) == 0 {
		return nil, err
	}
	sensitive := map[string]string{}
	for name, o := range doc.Outputs {
		if !o.Sensitive {
			continue
		}
		if sensitive[name], err = outputString(o.Value); err != nil {
			return nil, fmt.Errorf("outputs of %s: output %q: %w", env.Name, name, err)
		}
	}
	return sensitive, nil
}

// lock waits until no other run of the environment name is going, or ctx
// ends. It returns the function that releases the environment.
func (p *Provisioner) lock(ctx context.Context, name string) (func(), error) {
	if !preview.ValidName(name) {
		return nil, preview.Errorf(preview.EINVALID, "invalid environment name %q", name)
	}
	p.mu.Lock()
	l, ok := p.locks[name]
	if !ok {
		l = make(chan struct{}, 1)
		p.locks[name] = l
	}
	p.mu.Unlock()
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
