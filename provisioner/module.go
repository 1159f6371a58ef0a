package provisioner

import (
	"os"
	"path/filepath"

	preview "github.com/previewd/previewd"
)

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

// checkModule returns mod, the module the caller resolved for env (see
// config.Config.Module), with its paths made absolute and its defaults
// filled in, or why it cannot run.
func checkModule(mod Module, env preview.Environment) (Module, error) {
	repo := env.Repo
	var err error
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
