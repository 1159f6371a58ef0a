package parity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
	"golang.org/x/sync/singleflight"
)

// Plan is a saved plan as `terraform show -json` describes it.
type Plan struct {
	// Plan holds every variable's value, sensitive ones included: compare
	// it, never show or log it.
	Plan *tfjson.Plan
	// LockFile is the dependency lock file the plan was made with; nil
	// when there is none.
	LockFile []byte
	// WorkDir is the directory Terraform planned in (path.cwd).
	WorkDir string
}

// Planner runs the Terraform a check needs; the provisioner does. Every
// call blocks until Terraform is done or ctx ends.
type Planner interface {
	// ModuleVariables reads what env's module (its repository's, at the
	// version env follows) declares of its variables.
	ModuleVariables(ctx context.Context, env preview.Environment) (ModuleVariables, error)
	// PlanPreview plans env as an apply would apply it.
	PlanPreview(ctx context.Context, env preview.Environment, log io.Writer) (Plan, error)
	// PlanApplied returns the plan of env as applied; env must exist.
	PlanApplied(ctx context.Context, env preview.Environment, log io.Writer) (Plan, error)
	// PlanProduction plans production's shape of env's module with
	// production's var files and vars, in a scratch directory with empty
	// state.
	PlanProduction(ctx context.Context, env preview.Environment, vars map[string]any, log io.Writer) (Plan, error)
	// EngineBanner is the first line the engine's `version` prints.
	EngineBanner(ctx context.Context) (string, error)
}

// Checker runs parity checks: for the service after every apply, and for
// `previewd parity`. It keeps the plan of production's shape per module
// version and inputs, which no pull request changes. It is safe for
// concurrent use.
type Checker struct {
	planner Planner

	mu       sync.Mutex
	plans    map[string]Plan    // planKey → production's plan
	planning singleflight.Group // planKey → production's plan being made
}

// NewChecker returns a Checker planning with planner.
func NewChecker(planner Planner) *Checker {
	return &Checker{planner: planner, plans: map[string]Plan{}}
}

// CheckOptions says what a check looks at.
type CheckOptions struct {
	// Env is the preview: a live environment, or a scratch one the check
	// plans.
	Env preview.Environment
	// Applied says Env is live: its plan as applied is compared.
	Applied bool
	// SkipPlans leaves Terraform out: inputs, config keys and toggles only;
	// PlanChecks are not run.
	SkipPlans bool
	// Extra are inputs the preview passes on top of its own (the CLI's
	// --preview-var); the Planner's preview must pass them too.
	Extra map[string]any
	// Production is the last look at production (a zero one: none): an
	// attribute production changed outside Terraform that the preview
	// sets back to the module's value is warned of (RevertWarnings).
	Production preview.ProductionWatch
}

// PlanChecks name the checks that need Terraform, which
// CheckOptions.SkipPlans leaves out.
var PlanChecks = []string{"plan comparison", "attribute values", "provider versions", "engine version"}

// Skipped names the checks a report leaves out, and why.
type Skipped struct {
	Checks []string `json:"checks"`
	// Because says why, as a flag ("--plan=false") or a short sentence.
	Because string `json:"because"`
}

// String lists the checks, the reason beside the first: "plan comparison
// (--plan=false), attribute values, …"; "" when none is skipped.
func (s Skipped) String() string {
	if len(s.Checks) == 0 {
		return ""
	}
	checks := slices.Clone(s.Checks)
	if s.Because != "" {
		checks[0] += " (" + s.Because + ")"
	}
	return strings.Join(checks, ", ")
}

// Check compares the preview with production: variables, config keys and
// toggles, then (unless SkipPlans) the plans' structure and values, the
// lock files and the engine. Terraform's output goes to log, production's
// plan's excepted: it shows production's configuration. A module that
// requires an input production's configuration does not give is an error
// naming it. Other errors say which check could not run.
func (c *Checker) Check(ctx context.Context, r Repository, opts CheckOptions, log io.Writer) (preview.ParityReport, error) {
	vars, err := c.planner.ModuleVariables(ctx, opts.Env)
	if err != nil {
		return preview.ParityReport{}, err
	}
	in, err := ResolveInputs(r, vars.Declared, opts.Extra)
	if err != nil {
		return preview.ParityReport{}, err
	}
	if err := in.MissingInProduction(r, vars.Required); err != nil {
		return preview.ParityReport{}, err
	}
	findings, err := inputFindings(ctx, r, in, vars)
	if err != nil || opts.SkipPlans {
		return Report(findings), err
	}
	src, err := LoadModuleSource(r.ModuleDir)
	if err != nil {
		return preview.ParityReport{}, err
	}
	planFindings, stats, err := c.planFindings(ctx, r, in, src, opts, log)
	if err != nil {
		return preview.ParityReport{}, err
	}
	engine, err := c.engineFindings(ctx, r, src)
	if err != nil {
		return preview.ParityReport{}, err
	}
	report := Report(findings, planFindings, engine)
	report.IdentityDifferences, report.UnknownValues = stats.Identity, stats.Unknown
	return report, nil
}

// inputFindings compares variables, config keys and toggles.
func inputFindings(ctx context.Context, r Repository, in Inputs, vars ModuleVariables) ([]preview.Finding, error) {
	var expected []string
	if in.TogglesPassed {
		expected = append(expected, r.Settings.TogglesVar()) // compared toggle by toggle
	}
	findings := CompareVariables(in.Production, in.Preview, r.Differences, vars, expected...)
	for _, ck := range r.Settings.ConfigKeys {
		prod, err := LoadKeys(ctx, ck.Production, r.Settings.CommandOptions())
		if err != nil {
			return nil, fmt.Errorf("config keys %s, production: %w", ck.Name, err)
		}
		prev, err := LoadKeys(ctx, ck.Preview, r.Settings.CommandOptions())
		if err != nil {
			return nil, fmt.Errorf("config keys %s, preview: %w", ck.Name, err)
		}
		findings = append(findings, CompareKeys(ck.Name, prod, prev, ck.Differences)...)
	}
	if in.Toggles != nil {
		findings = append(findings, CompareToggles(in.Toggles)...)
	}
	return findings, nil
}

// planFindings plans (or takes) the preview's plan and production's, and
// compares their structure and values, and the lock files.
func (c *Checker) planFindings(ctx context.Context, r Repository, in Inputs, src *ModuleSource, opts CheckOptions, log io.Writer) ([]preview.Finding, AttributeStats, error) {
	planPreview := c.planner.PlanPreview
	if opts.Applied {
		planPreview = c.planner.PlanApplied
	}
	prev, err := planPreview(ctx, opts.Env, log)
	if err != nil {
		return nil, AttributeStats{}, err
	}
	// Production's plan shows production's configuration: it stays out of
	// the preview's log, which pull-request readers may open.
	fmt.Fprintf(log, "# previewd: planning production's shape (its output is not kept here)\n")
	prod, err := c.productionPlan(ctx, r, opts.Env, in.ProductionVars)
	if err != nil {
		return nil, AttributeStats{}, err
	}
	findings := ComparePlans(prod.Plan, prev.Plan, r.Differences)
	attributes, stats := CompareAttributes(prod.Plan, prev.Plan, AttributeInputs{
		Declared: in.declaredReasons(r), Source: src, ProductionDir: prod.WorkDir, PreviewDir: prev.WorkDir,
	})
	findings = append(findings, attributes...)
	findings = append(findings, RevertWarnings(prev.Plan, opts.Production)...)
	productionLock, err := productionLockFile(r)
	if err != nil {
		return nil, AttributeStats{}, err
	}
	locks, err := CompareLockFiles(productionLock, prev.LockFile)
	return append(findings, locks...), stats, err
}

// engineFindings compares the engine the planner runs with production's.
func (c *Checker) engineFindings(ctx context.Context, r Repository, src *ModuleSource) ([]preview.Finding, error) {
	banner, err := c.planner.EngineBanner(ctx)
	if err != nil {
		return nil, err
	}
	running, err := ParseEngineBanner(banner)
	if err != nil {
		return nil, fmt.Errorf("the engine's version: %w", err)
	}
	production, err := ParseEngine(r.Engine)
	if err != nil {
		return nil, fmt.Errorf("production's engine: %w", err)
	}
	return CompareEngine(running, production, src.RequiredVersions()), nil
}

// productionPlan returns production's plan from the cache when the module
// and production's inputs are unchanged, and plans (and remembers) when
// they are not. A module that cannot be read is planned every time.
func (c *Checker) productionPlan(ctx context.Context, r Repository, env preview.Environment, vars map[string]any) (Plan, error) {
	key, err := planKey(r.Name, r.ModuleDir, r.VarFiles, vars)
	if err != nil {
		return c.planner.PlanProduction(ctx, env, vars, io.Discard)
	}
	c.mu.Lock()
	plan, ok := c.plans[key]
	c.mu.Unlock()
	if ok {
		return plan, nil
	}
	// Checks that start together (after a fan-out) plan production once.
	v, err, _ := c.planning.Do(key, func() (any, error) {
		plan, err := c.planner.PlanProduction(ctx, env, vars, io.Discard)
		if err != nil {
			return plan, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.plans) > 64 { // a handful of module versions live at once
			clear(c.plans)
		}
		c.plans[key] = plan
		return plan, nil
	})
	return v.(Plan), err
}

// planKey digests the repository, every file of the module directory,
// production's var files (wherever they are) and the inputs.
func planKey(repo, moduleDir string, varFiles []string, vars map[string]any) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", repo)
	in, err := json.Marshal(vars) // map keys are sorted
	if err != nil {
		return "", err
	}
	h.Write(in)
	for _, f := range varFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "\x00%s\x00%d\x00", f, len(data))
		h.Write(data)
	}
	err = filepath.WalkDir(moduleDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleDir, path)
		fmt.Fprintf(h, "\x00%s\x00%d\x00", rel, len(data))
		h.Write(data)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// productionLockFile returns the lock file production runs with: the
// configured production_lock_file, else the module's own; nil when there
// is none.
func productionLockFile(r Repository) ([]byte, error) {
	path := r.Settings.ProductionLockFile
	if path == "" {
		path = filepath.Join(r.ModuleDir, ".terraform.lock.hcl")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && r.Settings.ProductionLockFile == "" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("production's lock file: %w", err)
	}
	return b, nil
}
