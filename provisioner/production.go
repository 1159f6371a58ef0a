package provisioner

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/atomicfile"
)

// ProductionState is production's real state, as a watch reads it: a
// remote backend with read-only credentials (given through Terraform's
// environment, never here) and the workspace production uses.
type ProductionState struct {
	State
	// Workspace is production's Terraform workspace; "" is "default".
	Workspace string
}

// ProductionLook is what a read-only look at production saw. Both plans
// hold every variable's value and production's sensitive values: compare
// them, never show or log them.
type ProductionLook struct {
	// Outside is the refresh-only plan: production's resources as they
	// are, against the state (its ResourceDrift): what changed outside
	// Terraform.
	Outside *tfjson.Plan
	// Next is the normal plan: what the next apply of the module at
	// production's ref would change (its ResourceChanges).
	Next *tfjson.Plan
}

// WatchProduction looks at production read-only: terraform init of mod
// against production's state, a refresh-only plan and a normal plan, both
// with -lock=false and production's variables (vars, "environment" =
// "production"), in a scratch directory removed before it returns. The
// run refuses, in code, every command that could write the state or take
// its lock (ErrReadOnly): apply, destroy, import, state writes,
// force-unlock, workspace new. With the pg backend, init is told not to
// create the backend's schema, table or index (a read-only role could
// not). It blocks until Terraform is done or ctx ends.
func (p *Provisioner) WatchProduction(ctx context.Context, repo string, mod Module, state ProductionState, vars map[string]any, log io.Writer) (ProductionLook, error) {
	start := time.Now()
	look, err := p.watchProduction(ctx, repo, mod, state, vars, log)
	if err != nil {
		return ProductionLook{}, fmt.Errorf("watch production of %s: %w", repo, err)
	}
	p.logger.Info("watched production", "repo", repo, "duration", time.Since(start).Round(time.Millisecond))
	return look, nil
}

func (p *Provisioner) watchProduction(ctx context.Context, repo string, mod Module, state ProductionState, vars map[string]any, log io.Writer) (ProductionLook, error) {
	if !state.Remote() {
		return ProductionLook{}, preview.Errorf(preview.EINVALID, "production's state must be a remote backend (production.state.backend)")
	}
	if problem := StateProblem(state.State); problem != "" {
		return ProductionLook{}, preview.Errorf(preview.EINVALID, "production's state: %s", problem)
	}
	mod.State = State{} // checkModule's own check is of the environments' state
	mod, err := checkModule(mod, preview.Environment{Repo: repo})
	if err != nil {
		return ProductionLook{}, err
	}
	scratchRoot := filepath.Join(p.dataDir, "scratch")
	if err := os.MkdirAll(scratchRoot, 0o700); err != nil {
		return ProductionLook{}, err
	}
	dir, err := os.MkdirTemp(scratchRoot, "watch-")
	if err != nil {
		return ProductionLook{}, err
	}
	defer os.RemoveAll(dir)
	ws := workspace{root: dir}
	r, err := p.prepareProduction(ctx, mod, vars, ws, readOnlyState(state.State), log)
	if err != nil {
		return ProductionLook{}, err
	}
	r.cmds.readOnly = true
	if err := p.init(ctx, r); err != nil {
		return ProductionLook{}, err
	}
	if state.Workspace != "" && state.Workspace != "default" {
		if err := atomicfile.WriteFile(filepath.Join(ws.dataDir(), workspaceFile), []byte(state.Workspace), 0o600); err != nil {
			return ProductionLook{}, err
		}
	}
	// Production's sensitive outputs are redacted from the run's log too.
	b, err := r.readState(ctx)
	if err != nil {
		return ProductionLook{}, err
	}
	if b == nil {
		return ProductionLook{}, preview.Errorf(preview.EINVALID, "production's state is empty: check production.state (backend %s, workspace %q)", state.Backend, state.Workspace)
	}
	doc, err := parseState(b)
	if err != nil {
		return ProductionLook{}, err
	}
	r.addSecrets(doc.secrets()...)
	_, outside, err := savedPlan(ctx, r, ws, "-refresh-only")
	if err != nil {
		return ProductionLook{}, err
	}
	_, next, err := savedPlan(ctx, r, ws)
	if err != nil {
		return ProductionLook{}, err
	}
	return ProductionLook{Outside: outside.Plan, Next: next.Plan}, nil
}

// readOnlyState is s for a read-only role: the pg backend creates its
// schema, table and index at init unless told not to, which a role that
// may only read the states cannot do.
func readOnlyState(s State) State {
	if s.Backend != "pg" {
		return s
	}
	cfg := maps.Clone(s.Config)
	if cfg == nil {
		cfg = map[string]string{}
	}
	for _, k := range []string{"skip_schema_creation", "skip_table_creation", "skip_index_creation"} {
		if _, set := cfg[k]; !set {
			cfg[k] = "true"
		}
	}
	s.Config = cfg
	return s
}
