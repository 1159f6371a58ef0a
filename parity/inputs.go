package parity

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	preview "github.com/previewd/previewd"
)

// Repository is what parity needs of one repository's configuration: its
// production module, what production passes it, how previews differ, and
// the parity settings.
type Repository struct {
	Name      string // owner/name
	ModuleDir string // the production module, absolute
	// VarFiles are production's var files, absolute, passed in order.
	VarFiles []string
	// Vars are production's vars, passed after the var files.
	Vars map[string]any
	// Engine is the engine production runs ("1.5.7", "opentofu 1.8.2");
	// "" leaves it unchecked.
	Engine      string
	Differences []preview.Difference
	Settings    Config
	// Where says where production's inputs are configured, for an error
	// naming what is missing ("production.var_files or production.vars of
	// its repos entry").
	Where string
}

// Inputs is what production and a preview of one repository receive. It is
// composed in one place, here, for the apply, the parity check and the CLI
// alike.
type Inputs struct {
	// ProductionVars are production's vars and, when the module takes
	// them, production's tier of the toggles: what production's plan
	// passes besides the var files.
	ProductionVars map[string]any
	// PreviewVars are what a preview passes besides production's var
	// files: production's vars, then the declared differences, the extra
	// inputs, the preview's tier of the toggles, limited to the variables
	// the module declares.
	PreviewVars map[string]any
	// Production and Preview are each side's resolved values: the var
	// files' values, then the vars. Preview keeps values for variables the
	// module does not declare, so a declaration of one can be reported.
	Production, Preview map[string]any
	// Toggles are the feature toggles (nil without a toggles file), and
	// TogglesPassed says whether the module takes them.
	Toggles       Toggles
	TogglesPassed bool
}

// ResolveInputs composes both sides' inputs for r's module, which declares
// the variables in declared; extra are inputs the preview passes on top
// (the CLI's --preview-var). It reads production's var files and the
// toggles file, and returns an error naming a file that cannot be read.
func ResolveInputs(r Repository, declared map[string]bool, extra map[string]any) (Inputs, error) {
	fromFiles, err := LoadVarFiles(r.VarFiles...)
	if err != nil {
		return Inputs{}, fmt.Errorf("production's inputs: %w", err)
	}
	in := Inputs{ProductionVars: maps.Clone(r.Vars), PreviewVars: maps.Clone(r.Vars)}
	if in.ProductionVars == nil {
		in.ProductionVars, in.PreviewVars = map[string]any{}, map[string]any{}
	}
	for _, d := range r.Differences {
		in.PreviewVars[d.Variable] = d.Value
	}
	maps.Copy(in.PreviewVars, extra)
	if r.Settings.TogglesFile != "" {
		if in.Toggles, err = LoadToggles(r.Settings.TogglesFile); err != nil {
			return Inputs{}, fmt.Errorf("parity.toggles_file: %w", err)
		}
		if in.TogglesPassed = declared[r.Settings.TogglesVar()]; in.TogglesPassed {
			in.ProductionVars[r.Settings.TogglesVar()] = in.Toggles.ForTier(TierProduction)
			in.PreviewVars[r.Settings.TogglesVar()] = in.Toggles.ForTier(TierPreview)
		}
	}
	in.Production = maps.Clone(fromFiles)
	maps.Copy(in.Production, in.ProductionVars)
	in.Preview = maps.Clone(fromFiles)
	maps.Copy(in.Preview, in.PreviewVars)
	maps.DeleteFunc(in.PreviewVars, func(name string, _ any) bool { return !declared[name] })
	return in, nil
}

// MissingInProduction returns an error naming the variables the module
// requires (no default) that production's inputs do not set, besides the
// per-pull-request ones previewd passes: a check against a production
// previewd made up would be worthless.
func (in Inputs) MissingInProduction(r Repository, required map[string]bool) error {
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(required)) {
		if _, ok := in.Production[name]; !ok && !slices.Contains(PerPullRequest, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("production's inputs do not set %s, which the module requires: give production's values in %s", strings.Join(missing, ", "), r.Where)
}

// SensitiveValues returns every value either side gives the variables that
// sensitive marks true, as text: what runs and hooks must redact. A
// variable marked false (declared, not sensitive) is left in clear.
func (in Inputs) SensitiveValues(sensitive map[string]bool) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(sensitive)) {
		if !sensitive[name] {
			continue
		}
		out = append(out, preview.Leaves(in.Production[name])...)
		out = append(out, preview.Leaves(in.Preview[name])...)
	}
	return out
}

// declaredReasons maps each variable a preview may differ in to why: the
// declared differences' reasons, and the toggles variable when the module
// takes the toggles (their tiers are declared by design).
func (in Inputs) declaredReasons(r Repository) map[string]string {
	declared := map[string]string{}
	for _, d := range r.Differences {
		declared[d.Variable] = d.Reason
	}
	if in.TogglesPassed {
		declared[r.Settings.TogglesVar()] = "toggles"
	}
	return declared
}
