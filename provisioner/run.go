package provisioner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/terraform-exec/tfexec"
	preview "github.com/previewd/previewd"
)

// ready prepares env's working directory, runs init, and recovers an
// errored.tfstate an earlier run left: every run of an environment starts
// here, holding the environment's lock.
func (p *Provisioner) ready(ctx context.Context, env preview.Environment, mod Module, log io.Writer) (*run, error) {
	r, err := p.prepare(ctx, env, mod, log)
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
		r.pulled = &doc
	}
	if err := p.recoverErroredState(ctx, r, env.Name, log); err != nil {
		return nil, err
	}
	return r, nil
}

// stateOf returns env's state, nil when it has none: the local file, or,
// from a remote backend, through a ready run. The caller holds env's lock.
func (p *Provisioner) stateOf(ctx context.Context, env preview.Environment, mod Module) ([]byte, error) {
	mod, err := checkModule(mod, env)
	if err != nil {
		return nil, err
	}
	if !mod.State.Remote() {
		return readLocalState(p.workspace(env.Name))
	}
	r, err := p.ready(ctx, env, mod, nil)
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
	// pulled is the remote state ready read, until the first stateEmpty
	// takes it: a destroy or a check that asks right after ready pulls
	// the state once, not twice. nil once taken or stale.
	pulled *stateDoc
}

// prepare syncs the module into the environment's directory, checks its
// variables, writes the var file and the backend override, and returns a
// fresh *tfexec.Terraform for the copy.
func (p *Provisioner) prepare(ctx context.Context, env preview.Environment, mod Module, log io.Writer) (*run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mod, err := checkModule(mod, env)
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
