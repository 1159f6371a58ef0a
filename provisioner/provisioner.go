package provisioner

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/previewd/previewd/internal/atomicfile"

	"github.com/hashicorp/terraform-exec/tfexec"
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
	// Modules returns the module for an environment: its repository's
	// ("owner/name"), as that environment gets it (a module from git at
	// the version it follows). ctx is the run's: a checkout not on disk
	// yet is fetched with it.
	Modules func(ctx context.Context, env preview.Environment) (Module, error)
	// WaitDelay is how long Terraform gets to stop after the SIGINT sent when
	// a run's context ends, before it is killed (default 60s).
	WaitDelay time.Duration
	// Logger receives one line per finished run (default: discard).
	Logger *slog.Logger
}

// Module is a repository's production module and the variables a preview
// gets.
type Module struct {
	// Dir is the production module directory. It is never written to.
	Dir string
	// Root is the directory copied for each environment, when Dir calls
	// local modules outside itself (source = "../modules/web"): a directory
	// holding Dir and every module it calls. Default Dir.
	Root string
	// VarFiles are var files, absolute or relative to Dir, passed in order.
	VarFiles []string
	// Vars are passed after the var files and win over them; each must be a
	// variable the module declares.
	Vars map[string]any
	// URLOutput is the output holding the environment's URL (default "url").
	URLOutput string
	// Secrets are values that must never show in a run's log or error:
	// those of the module's sensitive variables, production's included.
	// Each is shown as preview.Redacted instead.
	Secrets []string
	// State is where each environment's state lives (default: a local
	// file under DataDir).
	State State
	// Version is the module's version when it comes from git: Dir and
	// Root are then in its read-only checkout. An apply reports it.
	Version preview.ModuleVersion
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
// missing or not executable, DataDir or Modules is unset, or the environment
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
	if cfg.Modules == nil {
		return nil, errors.New("provisioner: no module lookup configured")
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
func (p *Provisioner) Apply(ctx context.Context, env preview.Environment, log io.Writer) (Result, error) {
	start := time.Now()
	res, err := p.apply(ctx, env, log)
	if err != nil {
		return Result{}, fmt.Errorf("apply %s: %w", env.Name, err)
	}
	p.logger.Info("applied", "environment", env.Name, "head_sha", env.HeadSHA, "url", res.URL, "duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}

func (p *Provisioner) apply(ctx context.Context, env preview.Environment, log io.Writer) (Result, error) {
	unlock, err := p.lock(ctx, env.Name)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	r, err := p.ready(ctx, env, log)
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
func (p *Provisioner) Destroy(ctx context.Context, env preview.Environment, log io.Writer) error {
	start := time.Now()
	if err := p.destroy(ctx, env, log); err != nil {
		return fmt.Errorf("destroy %s: %w", env.Name, err)
	}
	p.logger.Info("destroyed", "environment", env.Name, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

func (p *Provisioner) destroy(ctx context.Context, env preview.Environment, log io.Writer) error {
	unlock, err := p.lock(ctx, env.Name)
	if err != nil {
		return err
	}
	defer unlock()
	p.takeAppliedPlan(env.Name)
	ws := p.workspace(env.Name)
	mod, err := p.module(ctx, env)
	if err != nil {
		return err
	}
	if _, err := os.Stat(ws.statePath()); !mod.State.Remote() && errors.Is(err, fs.ErrNotExist) && !hasErroredState(ws.copyRoot()) {
		if log != nil {
			fmt.Fprintf(log, "# %s has no state: nothing to destroy\n", env.Name)
		}
		return os.RemoveAll(ws.root)
	}
	r, err := p.ready(ctx, env, log)
	if err != nil {
		return err
	}
	if empty, err := r.stateEmpty(ctx); err != nil {
		return err
	} else if !empty {
		if err := r.cmds.destroy(ctx, r.varFiles); err != nil {
			return r.commandError(ctx, "destroy", err)
		}
		if empty, err := r.stateEmpty(ctx); err != nil || !empty {
			return err // keep a directory whose state still holds resources
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
func (p *Provisioner) SensitiveOutputs(ctx context.Context, env preview.Environment) (map[string]string, error) {
	unlock, err := p.lock(ctx, env.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	b, err := p.stateOf(ctx, env)
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

// ready prepares env's working directory, runs init, and recovers an
// errored.tfstate an earlier run left: every run of an environment starts
// here, holding the environment's lock.
func (p *Provisioner) ready(ctx context.Context, env preview.Environment, log io.Writer) (*run, error) {
	r, err := p.prepare(ctx, env, log)
	if err != nil {
		return nil, err
	}
	if err := p.init(ctx, r); err != nil {
		return nil, err
	}
	if err := r.selectWorkspace(env.Name); err != nil {
		return nil, err
	}
	if r.state.Remote() {
		// What a plan or a destroy may print of the sensitive outputs is
		// redacted too (newRun reads them from a local state file).
		b, err := r.readState(ctx)
		if err != nil {
			return nil, err
		}
		doc, err := parseState(b)
		if err != nil {
			return nil, err
		}
		r.addSecrets(doc.secrets()...)
	}
	if err := p.recoverErroredState(ctx, r, env.Name, log); err != nil {
		return nil, err
	}
	return r, nil
}

// stateOf returns env's state, nil when it has none: the local file, or,
// from a remote backend, through a ready run. The caller holds env's lock.
func (p *Provisioner) stateOf(ctx context.Context, env preview.Environment) ([]byte, error) {
	mod, err := p.module(ctx, env)
	if err != nil {
		return nil, err
	}
	if !mod.State.Remote() {
		return readLocalState(p.workspace(env.Name))
	}
	r, err := p.ready(ctx, env, nil)
	if err != nil {
		return nil, err
	}
	return r.readState(ctx)
}

// run is everything one Terraform run of one environment needs.
type run struct {
	tf       *tfexec.Terraform
	cmds     commandRunner
	module   Module // normalised: absolute Dir and Root, URLOutput set
	ws       workspace
	log      io.Writer // the run's log, for previewd's own lines
	varFiles []string
	locked   bool            // the module has a .terraform.lock.hcl
	secrets  preview.Secrets // redacted from the run's log and errors
	// secretValues are the values secrets redacts.
	secretValues []string
	// state is where the run's state lives: the module's, or a local
	// scratch state for a plan of production.
	state State
	// moduleDigest is the digest of the module copy the run synced; ""
	// when it synced none.
	moduleDigest string
	// restoredInit is the initCache entry the run's init was copied from,
	// if it was: dropped when a command of the run fails.
	restoredInit string
}

// prepare syncs the module into the environment's directory, checks its
// variables, writes the var file and the backend override, and returns a
// fresh *tfexec.Terraform for the copy.
func (p *Provisioner) prepare(ctx context.Context, env preview.Environment, log io.Writer) (*run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mod, err := p.module(ctx, env)
	if err != nil {
		return nil, err
	}
	ws := p.workspace(env.Name)
	if err := os.MkdirAll(ws.root, 0o700); err != nil {
		return nil, err
	}
	workDir, digest, err := syncWorkspace(mod, ws, mod.State)
	if err != nil {
		return nil, err
	}
	varFiles, err := writeVariables(mod, workDir, ws, func(declared map[string]bool) (map[string]any, error) {
		return moduleVariables(declared, mod.Dir, mod.Vars, env)
	})
	if err != nil {
		return nil, err
	}
	r, err := p.newRun(mod, workDir, ws, varFiles, log)
	if r != nil {
		r.moduleDigest, r.state = digest, mod.State
	}
	return r, err
}

// newRun returns a run of mod in workDir: a fresh *tfexec.Terraform whose
// log and errors redact the module's secrets and the sensitive outputs ws's
// state holds.
func (p *Provisioner) newRun(mod Module, workDir string, ws workspace, varFiles []string, log io.Writer) (*run, error) {
	values := append(slices.Clone(mod.Secrets), stateSecrets(ws)...)
	secrets := preview.NewSecrets(values...)
	tf, cmds, err := p.terraform(workDir, ws, log, secrets)
	if err != nil {
		return nil, err
	}
	_, lockErr := os.Stat(filepath.Join(mod.Dir, ".terraform.lock.hcl"))
	return &run{tf: tf, cmds: cmds, module: mod, ws: ws, log: logOrDiscard(log), varFiles: varFiles, locked: lockErr == nil,
		secrets: secrets, secretValues: values}, nil
}

// addSecrets adds values to what the run's log and errors redact.
func (r *run) addSecrets(values ...string) {
	if len(values) == 0 {
		return
	}
	r.secretValues = append(r.secretValues, values...)
	r.secrets = preview.NewSecrets(r.secretValues...)
	r.cmds.log.setSecrets(r.secrets)
}

// syncWorkspace copies the module tree into ws and pins the backend to
// state (ws's own local state file, or state's backend with the backend
// configuration file); it returns the directory Terraform runs in.
func syncWorkspace(mod Module, ws workspace, state State) (workDir, digest string, err error) {
	if digest, err = syncTree(mod.Root, ws.copyRoot(), ws.manifestPath()); err != nil {
		return "", "", fmt.Errorf("sync module %s: %w", mod.Root, err)
	}
	workDir = ws.workDir(mod)
	if state.Remote() {
		if err := atomicfile.WriteFile(ws.backendConfigPath(), backendFile(state), 0o600); err != nil {
			return "", "", err
		}
	}
	return workDir, digest, writeBackendOverride(workDir, ws.statePath(), state)
}

// writeVariables checks the module's variables, writes the generated var
// file with the values values picks for the declared ones, and returns
// every var file to pass, in order.
func writeVariables(mod Module, workDir string, ws workspace, values func(declared map[string]bool) (map[string]any, error)) ([]string, error) {
	inspected, err := inspectModule(workDir, mod.Dir)
	if err != nil {
		return nil, err
	}
	if err := checkLocalModuleCalls(inspected, mod.Dir, mod.Root); err != nil {
		return nil, err
	}
	vars, err := values(declaredVariables(inspected))
	if err != nil {
		return nil, err
	}
	if err := writeVarFile(ws.varFilePath(), vars); err != nil {
		return nil, err
	}
	files, err := varFilePaths(mod.VarFiles, mod.Dir, mod.Root, ws.copyRoot())
	if err != nil {
		return nil, err
	}
	return append(files, ws.varFilePath()), nil
}

// module returns the module for env with its paths made absolute and its
// defaults filled in.
func (p *Provisioner) module(ctx context.Context, env preview.Environment) (Module, error) {
	repo := env.Repo
	mod, err := p.cfg.Modules(ctx, env)
	if err != nil {
		return Module{}, fmt.Errorf("module for %s: %w", repo, err)
	}
	if mod.Dir == "" {
		return Module{}, preview.Errorf(preview.EINVALID, "no module directory configured for %s", repo)
	}
	if mod.Dir, err = filepath.Abs(mod.Dir); err != nil {
		return Module{}, err
	}
	if mod.Root == "" {
		mod.Root = mod.Dir
	}
	if mod.Root, err = filepath.Abs(mod.Root); err != nil {
		return Module{}, err
	}
	if _, ok := within(mod.Root, mod.Dir); !ok {
		return Module{}, preview.Errorf(preview.EINVALID, "module directory %s is not inside its root %s", mod.Dir, mod.Root)
	}
	if info, err := os.Stat(mod.Dir); err != nil || !info.IsDir() {
		return Module{}, preview.Errorf(preview.EINVALID, "module directory %s does not exist", mod.Dir)
	}
	if problem := StateProblem(mod.State); problem != "" {
		return Module{}, preview.Errorf(preview.EINVALID, "state of %s: %s", repo, problem)
	}
	own, _ := configName(overrideFile)
	for _, ext := range configExtensions {
		if _, err := os.Lstat(filepath.Join(mod.Dir, own+ext)); err == nil {
			return Module{}, preview.Errorf(preview.EINVALID, "module %s has a file named %s: the name is previewd's, for the override it writes (%s)", mod.Dir, own+ext, overrideFile)
		}
	}
	if name, err := overrideBackend(mod.Dir); err != nil {
		return Module{}, preview.Errorf(preview.EINVALID, "module %s: %v", mod.Dir, err)
	} else if name != "" {
		return Module{}, preview.Errorf(preview.EINVALID, "module %s: %s sets a backend in an override file, which would win over the state previewd gives each environment: keep backends in the module's own files", mod.Dir, name)
	}
	if mod.URLOutput == "" {
		mod.URLOutput = "url"
	}
	return mod, nil
}

// terraform returns a *tfexec.Terraform for one run in workDir, with the
// allowlisted environment, its output streamed to log, and the command
// runner for what terraform-exec runs at a higher price (see commandRunner).
func (p *Provisioner) terraform(workDir string, ws workspace, log io.Writer, secrets preview.Secrets) (*tfexec.Terraform, commandRunner, error) {
	tf, err := tfexec.NewTerraform(workDir, p.bin)
	if err != nil {
		return nil, commandRunner{}, err
	}
	own := map[string]string{"TF_DATA_DIR": ws.dataDir()}
	if p.cfg.PluginCacheDir != "" {
		own["TF_PLUGIN_CACHE_DIR"] = p.cfg.PluginCacheDir
	}
	if p.cfg.CLIConfigFile != "" {
		own["TF_CLI_CONFIG_FILE"] = p.cfg.CLIConfigFile
	}
	env := terraformEnv(os.Environ(), p.cfg.EnvPassthrough, p.cfg.Env, own)
	if err := tf.SetEnv(env); err != nil {
		return nil, commandRunner{}, err
	}
	if err := tf.SetWaitDelay(p.cfg.WaitDelay); err != nil {
		return nil, commandRunner{}, err
	}
	if log == nil {
		log = io.Discard
	}
	l := &runLog{w: log, secrets: secrets}
	echo := commandEcho{log: l, bin: p.bin, dataDir: p.dataDir}
	tf.SetStdout(l.stdout())
	tf.SetStderr(l)
	tf.SetLogger(echo)
	return tf, commandRunner{bin: p.bin, dir: workDir, env: env, waitDelay: p.cfg.WaitDelay, log: l, echo: echo}, nil
}

// init runs terraform init, one environment at a time when a plugin cache is
// shared. With a dependency lock file in the module, init may not change it
// (-lockfile=readonly): a preview runs the providers production runs. The
// backend is always the one previewd writes (-reconfigure: no state is ever
// migrated).
//
// An environment whose module copy, binary and settings are those of its
// last successful init is not initialised again: init would do nothing
// but cost a Terraform process. One whose module another environment initialised takes a copy of
// that init's result (see initCache).
func (p *Provisioner) init(ctx context.Context, r *run) error {
	key := p.initKey(r)
	if key != "" {
		if done, err := os.ReadFile(r.ws.initDigestPath()); err == nil && string(done) == key {
			if _, err := os.Stat(r.ws.dataDir()); err == nil {
				fmt.Fprintf(r.log, "# previewd: the module and its providers are as the last init left them; not running terraform init\n")
				return nil
			}
		}
	}
	os.Remove(r.ws.initDigestPath()) // an init cut short leaves nothing to trust
	if err := r.unselectWorkspace(); err != nil {
		return err
	}
	if key != "" {
		restored, err := p.inits.restore(key, r)
		if err != nil {
			p.logger.Warn("could not copy a kept init; running terraform init", "dir", r.ws.root, "err", err)
		} else if restored {
			r.restoredInit = p.inits.entry(key)
			fmt.Fprintf(r.log, "# previewd: this module was initialised for another environment; copied that init instead of running terraform init\n")
			return atomicfile.WriteFile(r.ws.initDigestPath(), []byte(key), 0o600)
		}
	}
	if p.initSem != nil {
		select {
		case p.initSem <- struct{}{}:
			defer func() { <-p.initSem }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := retryContended(ctx, func() error { return r.cmds.init(ctx, r.locked, r.backendConfigArg()) }); err != nil {
		return r.commandError(ctx, "init", err)
	}
	if key == "" {
		return nil
	}
	if err := p.inits.keep(key, r); err != nil {
		p.logger.Warn("could not keep an init for other environments", "dir", r.ws.root, "err", err)
	}
	return atomicfile.WriteFile(r.ws.initDigestPath(), []byte(key), 0o600)
}

// initKey is what an init's result depends on: the module copy, where in it
// Terraform runs, the binary, the plugin cache, the CLI configuration (where
// providers come from), the backend's settings and whether the lock file is
// read-only; "" when the run synced no module. The environment is not part
// of it: the backend's path is relative (see backendOverride).
func (p *Provisioner) initKey(r *run) string {
	if r.moduleDigest == "" {
		return ""
	}
	rel, _ := filepath.Rel(r.ws.root, r.tf.WorkingDir())
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", r.state.Backend)
	h.Write(backendFile(r.state))
	if p.cfg.CLIConfigFile != "" {
		cli, err := os.ReadFile(p.cfg.CLIConfigFile)
		if err != nil {
			return "" // init, and keep nothing
		}
		fmt.Fprintf(h, "\n%s\n", p.cfg.CLIConfigFile)
		h.Write(cli)
	}
	return fmt.Sprintf("v3 %s %s %s %s %t %x", r.moduleDigest, rel, p.bin, p.cfg.PluginCacheDir, r.locked, h.Sum(nil)[:12])
}

// backendConfigArg is the backend configuration file as init's
// -backend-config takes it (relative to the working directory, like the
// local state's path, so every environment inits alike), or "".
func (r *run) backendConfigArg() string {
	if !r.state.Remote() {
		return ""
	}
	rel, err := filepath.Rel(r.tf.WorkingDir(), r.ws.backendConfigPath())
	if err != nil {
		return r.ws.backendConfigPath()
	}
	return rel
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

// overrideFile is written into the copy of the module to give each
// environment its own local state. Terraform applies override files in
// lexical order, so the name sorts late.
const overrideFile = "zz_previewd_override.tf.json"

// configExtensions end the names of configuration files: Terraform's, and
// OpenTofu's own, which OpenTofu reads instead of a .tf or .tf.json file
// of the same name (zz_previewd_override.tofu.json instead of
// overrideFile).
var configExtensions = []string{".tf", ".tf.json", ".tofu", ".tofu.json"}

// configName returns name without its configuration file extension; ok is
// false when name is no configuration file of either engine.
func configName(name string) (base string, ok bool) {
	for _, ext := range configExtensions {
		if base, ok := strings.CutSuffix(name, ext); ok {
			return base, true
		}
	}
	return name, false
}

// backendOverride returns the override file forcing a local backend with
// its state at statePath, whatever backend or cloud block the module has.
// writeBackendOverride gives statePath relative to the working directory,
// so every environment of a module has the same backend settings.
func backendOverride(statePath string) ([]byte, error) {
	// Strings in .tf.json are templates: escape ${ and %{.
	path := strings.NewReplacer("${", "$${", "%{", "%%{").Replace(statePath)
	return json.MarshalIndent(map[string]any{
		"//": "Written by previewd: this environment's own state. Do not edit.",
		"terraform": map[string]any{
			"backend": map[string]any{"local": map[string]any{"path": path}},
		},
	}, "", "  ")
}

func writeBackendOverride(workDir, statePath string, state State) error {
	rel, err := filepath.Rel(workDir, statePath)
	if err != nil {
		return err
	}
	b, err := backendOverrideFor(state, rel)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(workDir, overrideFile), append(b, '\n'), 0o644)
}

// workspace is one environment's directory, DataDir/envs/<name>.
type workspace struct{ root string }

func (p *Provisioner) workspace(name string) workspace {
	return workspace{root: filepath.Join(p.dataDir, "envs", name)}
}

func (w workspace) copyRoot() string { return filepath.Join(w.root, "module") }

// workDir is where Terraform runs for mod: mod.Dir's place in the copy.
func (w workspace) workDir(mod Module) string {
	rel, _ := within(mod.Root, mod.Dir)
	return filepath.Join(w.copyRoot(), rel)
}
func (w workspace) manifestPath() string { return filepath.Join(w.root, "module.manifest.json") }
func (w workspace) dataDir() string      { return filepath.Join(w.root, ".terraform") }
func (w workspace) statePath() string    { return filepath.Join(w.root, "terraform.tfstate") }
func (w workspace) varFilePath() string  { return filepath.Join(w.root, "previewd.tfvars.json") }

// backendConfigPath is the backend configuration file init reads when the
// state is remote.
func (w workspace) backendConfigPath() string {
	return filepath.Join(w.root, "previewd.tfbackend")
}

// initDigestPath records what the environment's last successful init was
// run on (see initKey).
func (w workspace) initDigestPath() string { return filepath.Join(w.root, "init.digest") }

// appliedPlanPath is the plan file an apply applied, kept for the parity
// check; it holds sensitive values, like the state beside it.
func (w workspace) appliedPlanPath() string { return filepath.Join(w.root, "applied.tfplan") }
