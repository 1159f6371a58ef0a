package provisioner

import (
	"fmt"
	"path/filepath"

	"github.com/previewd/previewd/internal/atomicfile"
)

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
