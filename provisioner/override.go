package provisioner

import (
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/previewd/previewd/internal/atomicfile"
)

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
