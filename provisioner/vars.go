package provisioner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/previewd/previewd/internal/atomicfile"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	preview "github.com/previewd/previewd"
)

// inspectModule reads the module in dir without running Terraform. It
// returns an EINVALID *preview.Error when the module cannot be parsed; name
// is how errors refer to the module.
func inspectModule(dir, name string) (*tfconfig.Module, error) {
	mod, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		return nil, preview.Errorf(preview.EINVALID, "module %s: %v", name, diags.Err())
	}
	return mod, nil
}

// declaredVariables returns the names of the variables mod declares.
func declaredVariables(mod *tfconfig.Module) map[string]bool {
	declared := make(map[string]bool, len(mod.Variables))
	for v := range mod.Variables {
		declared[v] = true
	}
	return declared
}

// moduleVariables returns the values of the generated var file: the
// configured vars, then the per-pull-request values the module declares,
// which win. The module must declare "environment", and every configured var;
// otherwise it returns an EINVALID *preview.Error.
func moduleVariables(declared map[string]bool, dir string, configured map[string]any, env preview.Environment) (map[string]any, error) {
	if !declared["environment"] {
		return nil, preview.Errorf(preview.EINVALID, "module %s does not declare variable \"environment\"", dir)
	}
	vars := make(map[string]any, len(configured)+5)
	for _, k := range sortedKeys(configured) {
		if !declared[k] {
			return nil, preview.Errorf(preview.EINVALID, "module %s does not declare variable %q set in its configured vars", dir, k)
		}
		vars[k] = configured[k]
	}
	for k, v := range env.PullRequestVariables() {
		if declared[k] {
			vars[k] = v
		}
	}
	return vars, nil
}

// writeVarFile writes vars as a JSON var file readable only by previewd.
func writeVarFile(path string, vars map[string]any) error {
	b, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		return fmt.Errorf("encode variables: %w", err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}

// varFilePaths resolves the module's var files for Terraform running in the
// copy: relative paths are relative to dir (the production module), and a
// file inside root (the synced tree) is read from its copy in copyRoot, so a
// run sees one consistent snapshot. It returns an EINVALID *preview.Error for
// a missing file.
func varFilePaths(files []string, dir, root, copyRoot string) ([]string, error) {
	paths := make([]string, 0, len(files))
	for _, f := range files {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if _, err := os.Stat(p); err != nil {
			return nil, preview.Errorf(preview.EINVALID, "var file %s: %v", f, err)
		}
		if rel, ok := within(root, p); ok {
			p = filepath.Join(copyRoot, rel)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// checkLocalModuleCalls returns an EINVALID *preview.Error when mod, the
// module in dir, calls a local module (source "./…" or "../…") outside root:
// it would be missing next to the copy.
func checkLocalModuleCalls(mod *tfconfig.Module, dir, root string) error {
	for _, name := range sortedKeys(mod.ModuleCalls) {
		src := mod.ModuleCalls[name].Source
		if !strings.HasPrefix(src, "./") && !strings.HasPrefix(src, "../") {
			continue
		}
		if _, ok := within(root, filepath.Join(dir, src)); !ok {
			return preview.Errorf(preview.EINVALID, "module %s calls module %q from %s, outside %s: set the module's Root to a directory holding both", dir, name, src, root)
		}
	}
	return nil
}

// within returns path relative to root, and whether path is root or inside it.
func within(root, path string) (string, bool) {
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Input is a variable an environment receives.
type Input struct {
	Name  string
	Value any
	// Sensitive is whether the module declares the variable sensitive.
	Sensitive bool
}

// Inputs returns the variables an environment of mod receives besides its
// var files, by name: mod's configured vars and the per-pull-request values
// the module declares, as an apply passes them. Which to hide is the
// caller's to decide, with preview.Hidden and mod.Secrets.
func Inputs(mod Module, env preview.Environment) ([]Input, error) {
	m, err := inspectModule(mod.Dir, mod.Dir)
	if err != nil {
		return nil, err
	}
	vars, err := moduleVariables(declaredVariables(m), mod.Dir, mod.Vars, env)
	if err != nil {
		return nil, err
	}
	inputs := make([]Input, 0, len(vars))
	for _, name := range sortedKeys(vars) {
		inputs = append(inputs, Input{Name: name, Value: vars[name], Sensitive: m.Variables[name].Sensitive})
	}
	return inputs, nil
}
