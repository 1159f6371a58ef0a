package provisioner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
)

// ProductionEnvironment is the value of the variable "environment" in a plan
// of production's shape.
const ProductionEnvironment = "production"

// planFile is where a parity or drift plan is saved in an environment's
// directory, and removed once shown.
const planFile = "previewd.tfplan"

// PlanResult is a saved plan as `terraform show -json` describes it, with
// the dependency lock file Terraform planned with.
type PlanResult struct {
	// Plan holds every variable's value, sensitive ones included: compare
	// it, never show or log it.
	Plan *tfjson.Plan
	// WorkDir is the directory Terraform planned in (path.cwd).
	WorkDir string
	// LockFile is the .terraform.lock.hcl init left in the working
	// directory: production's own when the module has one (init may not
	// change it), else the one init wrote; nil when there is none (a module
	// using only built-in providers).
	LockFile []byte
}

// PlanPreview plans env in its own directory and against its own state,
// with the variables Apply would pass, and returns the plan. Nothing is
// applied; the environment's state is only read (and locked while
// planning). It blocks like Apply, waiting for any other run of env, and
// returns errors as Apply does.
func (p *Provisioner) PlanPreview(ctx context.Context, env preview.Environment, mod Module, log io.Writer) (PlanResult, error) {
	start := time.Now()
	res, err := p.planPreview(ctx, env, mod, log, false)
	if err != nil {
		return PlanResult{}, fmt.Errorf("plan %s: %w", env.Name, err)
	}
	p.logger.Info("planned", "environment", env.Name, "duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// PlanApplied returns the plan of env as applied: the very plan its last
// apply applied, which it hands out once, or else (after a restart) a plan
// like PlanPreview's. An environment with no state (destroyed while the
// caller waited) is an ENOTFOUND error, and nothing is created.
func (p *Provisioner) PlanApplied(ctx context.Context, env preview.Environment, mod Module, log io.Writer) (PlanResult, error) {
	res, ok, err := p.appliedPlan(ctx, env, mod, log)
	if err != nil || ok {
		return res, err
	}
	res, err = p.planPreview(ctx, env, mod, log, true)
	if err != nil {
		return PlanResult{}, fmt.Errorf("plan %s: %w", env.Name, err)
	}
	return res, nil
}

// appliedPlan shows the plan env's last apply applied, if it kept one, and
// removes it: ok is false when there is none.
func (p *Provisioner) appliedPlan(ctx context.Context, env preview.Environment, mod Module, log io.Writer) (res PlanResult, ok bool, err error) {
	unlock, err := p.lock(ctx, env.Name)
	if err != nil {
		return PlanResult{}, false, err
	}
	defer unlock()
	path, ok := p.takeAppliedPlan(env.Name)
	if !ok {
		return PlanResult{}, false, nil
	}
	defer os.Remove(path)
	mod, err = checkModule(mod, env)
	if err != nil {
		return PlanResult{}, false, err
	}
	ws := p.workspace(env.Name)
	r, err := p.newRun(mod, ws.workDir(mod), ws, nil, log)
	if err != nil {
		return PlanResult{}, false, err
	}
	fmt.Fprintf(logOrDiscard(log), "# previewd: comparing the plan this environment's apply applied\n")
	res, err = showPlan(ctx, r, path)
	return res, err == nil, err
}

func (p *Provisioner) planPreview(ctx context.Context, env preview.Environment, mod Module, log io.Writer, mustExist bool) (PlanResult, error) {
	unlock, err := p.lock(ctx, env.Name)
	if err != nil {
		return PlanResult{}, err
	}
	defer unlock()
	mod, err = checkModule(mod, env)
	if err != nil {
		return PlanResult{}, err
	}
	gone := preview.Errorf(preview.ENOTFOUND, "environment %s has no state: it was destroyed", env.Name)
	if _, err := os.Stat(p.workspace(env.Name).statePath()); mustExist && !mod.State.Remote() && err != nil {
		return PlanResult{}, gone
	}
	r, err := p.ready(ctx, env, mod, log)
	if err != nil {
		return PlanResult{}, err
	}
	if mustExist && r.state.Remote() {
		if empty, err := r.stateEmpty(ctx); err != nil {
			return PlanResult{}, err
		} else if empty {
			// Reading it made the backend create the workspace again:
			// leave nothing of a destroyed environment behind.
			return PlanResult{}, errors.Join(gone, r.deleteWorkspace(ctx, env.Name), os.RemoveAll(r.ws.root))
		}
	}
	_, res, err := savedPlan(ctx, r, p.workspace(env.Name))
	return res, err
}

// PlanProduction plans production's shape of env's module (its
// repository's, at the version env follows): the module with production's
// var files (Module.VarFiles) and vars, "environment" set to
// "production", in a scratch directory under DataDir with an empty local
// state, so production's own state, local or remote, is never read. vars
// are production's values (its configured vars), not Module.Vars, which
// hold the previews' declared differences too. The scratch directory is
// removed before PlanProduction returns. It blocks until Terraform is done;
// plans for the same repo may run at once.
func (p *Provisioner) PlanProduction(ctx context.Context, env preview.Environment, mod Module, vars map[string]any, log io.Writer) (PlanResult, error) {
	start := time.Now()
	repo := env.Repo
	res, err := p.planProduction(ctx, env, mod, vars, log)
	if err != nil {
		return PlanResult{}, fmt.Errorf("plan production of %s: %w", repo, err)
	}
	p.logger.Info("planned production", "repo", repo, "duration", time.Since(start).Round(time.Millisecond))
	return res, nil
}

func (p *Provisioner) planProduction(ctx context.Context, env preview.Environment, mod Module, vars map[string]any, log io.Writer) (PlanResult, error) {
	mod, err := checkModule(mod, env)
	if err != nil {
		return PlanResult{}, err
	}
	scratchRoot := filepath.Join(p.dataDir, "scratch")
	if err := os.MkdirAll(scratchRoot, 0o700); err != nil {
		return PlanResult{}, err
	}
	dir, err := os.MkdirTemp(scratchRoot, "production-")
	if err != nil {
		return PlanResult{}, err
	}
	defer os.RemoveAll(dir)
	ws := workspace{root: dir}
	r, err := p.prepareProduction(ctx, mod, vars, ws, State{}, log) // never production's state
	if err != nil {
		return PlanResult{}, err
	}
	if err := p.init(ctx, r); err != nil {
		return PlanResult{}, err
	}
	_, res, err := savedPlan(ctx, r, ws)
	return res, err
}

// prepareProduction is prepare for a plan of production's shape in the
// scratch workspace ws: the same sync, backend override and checks, with
// production's variables, and state as the backend (State{}: a local state
// of the scratch workspace's own).
func (p *Provisioner) prepareProduction(ctx context.Context, mod Module, vars map[string]any, ws workspace, state State, log io.Writer) (*run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	workDir, digest, err := syncWorkspace(mod, ws, state)
	if err != nil {
		return nil, err
	}
	files, err := writeVariables(mod, workDir, ws, func(declared map[string]bool) (map[string]any, error) {
		return productionVariables(declared, mod.Dir, vars)
	})
	if err != nil {
		return nil, err
	}
	r, err := p.newRun(mod, workDir, ws, files, log)
	if r != nil {
		r.moduleDigest, r.state = digest, state // its init is the environments' (see initCache)
	}
	return r, err
}

// productionVariables returns the generated var file of a production plan:
// vars, each of which the module must declare, and "environment" =
// "production", which wins. Per-pull-request variables are not set: the
// module's defaults or production's own values apply.
func productionVariables(declared map[string]bool, dir string, vars map[string]any) (map[string]any, error) {
	if !declared["environment"] {
		return nil, preview.Errorf(preview.EINVALID, "module %s does not declare variable \"environment\"", dir)
	}
	values := make(map[string]any, len(vars)+1)
	for _, k := range sortedKeys(vars) {
		if !declared[k] {
			return nil, preview.Errorf(preview.EINVALID, "module %s does not declare variable %q set in production's vars", dir, k)
		}
		values[k] = vars[k]
	}
	values["environment"] = ProductionEnvironment
	return values, nil
}

// savedPlan runs terraform plan -out in r's working directory with r's var
// files and opts, then terraform show -json of the saved plan, which it
// removes. changed is plan's -detailed-exitcode answer.
func savedPlan(ctx context.Context, r *run, ws workspace, flags ...string) (changed bool, res PlanResult, err error) {
	path := filepath.Join(ws.root, planFile)
	defer os.Remove(path)
	if changed, err = planTo(ctx, r, path, flags...); err != nil {
		return false, PlanResult{}, err
	}
	res, err = showPlan(ctx, r, path)
	return changed, res, err
}

// planTo runs terraform plan -out=path with r's var files and flags.
func planTo(ctx context.Context, r *run, path string, flags ...string) (changed bool, err error) {
	if changed, err = r.cmds.plan(ctx, path, r.varFiles, flags...); err != nil {
		return false, r.commandError(ctx, "plan", err)
	}
	return changed, nil
}

// showPlan reads the saved plan at path with terraform show -json, and the
// lock file of r's working directory.
func showPlan(ctx context.Context, r *run, path string) (res PlanResult, err error) {
	// The JSON holds every variable's value, sensitive ones too: the run's
	// log drops a show's stdout (see commandEcho).
	if res.Plan, err = r.cmds.showPlanFile(ctx, path); err != nil {
		return PlanResult{}, r.commandError(ctx, "show", err)
	}
	res.WorkDir = r.tf.WorkingDir()
	res.LockFile, err = os.ReadFile(filepath.Join(r.tf.WorkingDir(), ".terraform.lock.hcl"))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return res, err
}

// DetectDrift runs a refresh-only plan of env (terraform plan -refresh-only
// -detailed-exitcode) and reports whether anything changed outside
// Terraform since the last apply, and what: "address: attr, attr" for each
// resource the refresh found changed or "address: deleted", and
// "output.name" for each root output whose value moved (an output reading a
// file a local-exec wrote shows an edit of that file). Values are never
// listed. The state is not changed. An environment without state has
// nothing to drift and is done without running Terraform. It blocks like
// Apply, waiting for any other run of env.
//
// A refresh-only plan sees what providers can read back: resources edited
// behind Terraform's back and what outputs read. An edit of the state file
// itself is not drift to it (built-in terraform_data reads back what the
// state holds); a normal plan would show that as a change. The module is
// synced first, as for any run, so an output whose configuration changed in
// production's module since the last apply is listed too: the preview no
// longer matches it either.
func (p *Provisioner) DetectDrift(ctx context.Context, env preview.Environment, mod Module, log io.Writer) (changed bool, changes []string, err error) {
	changed, changes, err = p.detectDrift(ctx, env, mod, log)
	if err != nil {
		return false, nil, fmt.Errorf("drift check %s: %w", env.Name, err)
	}
	p.logger.Info("drift checked", "environment", env.Name, "drifted", changed, "changes", len(changes))
	return changed, changes, nil
}

func (p *Provisioner) detectDrift(ctx context.Context, env preview.Environment, mod Module, log io.Writer) (bool, []string, error) {
	unlock, err := p.lock(ctx, env.Name)
	if err != nil {
		return false, nil, err
	}
	defer unlock()
	ws := p.workspace(env.Name)
	mod, err = checkModule(mod, env)
	if err != nil {
		return false, nil, err
	}
	if none, err := noLocalState(mod, ws); err != nil || none {
		return false, nil, err
	}
	r, err := p.ready(ctx, env, mod, log)
	if err != nil {
		return false, nil, err
	}
	if empty, err := r.stateEmpty(ctx); err != nil || empty {
		return false, nil, err
	}
	changed, res, err := savedPlan(ctx, r, ws, "-refresh-only")
	if err != nil || !changed {
		return false, nil, err
	}
	return true, driftChanges(res.Plan), nil
}

// driftChanges lists what a refresh-only plan found changed: each drifted
// resource with the names of its changed attributes, then each root output
// whose value changes. Values are never included.
func driftChanges(plan *tfjson.Plan) []string {
	var changes []string
	for _, rc := range plan.ResourceDrift {
		if rc == nil || rc.Change == nil {
			continue
		}
		switch {
		case rc.Change.Actions.Delete():
			changes = append(changes, rc.Address+": deleted")
		default:
			attrs := changedAttributes(rc.Change.Before, rc.Change.After)
			if len(attrs) == 0 {
				changes = append(changes, rc.Address)
			} else {
				changes = append(changes, rc.Address+": "+strings.Join(attrs, ", "))
			}
		}
	}
	for _, name := range sortedKeys(plan.OutputChanges) {
		if c := plan.OutputChanges[name]; c != nil && !c.Actions.NoOp() {
			changes = append(changes, "output."+name)
		}
	}
	return changes
}

// changedAttributes returns the names of the top-level attributes that
// differ between two object values.
func changedAttributes(before, after any) []string {
	b, _ := before.(map[string]any)
	a, _ := after.(map[string]any)
	names := map[string]bool{}
	for k := range b {
		names[k] = true
	}
	for k := range a {
		names[k] = true
	}
	var changed []string
	for _, k := range slices.Sorted(maps.Keys(names)) {
		if !reflect.DeepEqual(b[k], a[k]) {
			changed = append(changed, k)
		}
	}
	return changed
}

// Variables is what a module declares of its variables.
type Variables struct {
	Declared  map[string]bool // every variable
	Sensitive map[string]bool // declared sensitive = true
	Required  map[string]bool // without a default: a value must be given
}

// ModuleVariables returns the variables env's module declares, read with
// terraform-config-inspect from the production module without running
// Terraform.
func (p *Provisioner) ModuleVariables(ctx context.Context, env preview.Environment, mod Module) (Variables, error) {
	mod, err := checkModule(mod, env)
	if err != nil {
		return Variables{}, err
	}
	inspected, err := inspectModule(mod.Dir, mod.Dir)
	if err != nil {
		return Variables{}, err
	}
	v := Variables{Declared: declaredVariables(inspected), Sensitive: map[string]bool{}, Required: map[string]bool{}}
	for name, variable := range inspected.Variables {
		if variable.Sensitive {
			v.Sensitive[name] = true
		}
		if variable.Required {
			v.Required[name] = true
		}
	}
	return v, nil
}
