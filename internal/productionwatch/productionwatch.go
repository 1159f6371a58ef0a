// Package productionwatch is where the configuration, the provisioner and
// parity meet the controller's watch of production
// (controller.ProductionWatcher): each repository's production module at
// production's ref, production's real inputs and state, a read-only look
// with Terraform, and parity's classification of what it saw.
package productionwatch

import (
	"context"
	"fmt"
	"io"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
)

// Watcher watches the production of each repository the configuration
// gives a production.state.
type Watcher struct {
	Config *config.Config
	Prov   *provisioner.Provisioner
	// Log receives each look's Terraform output (nil: none); errors carry
	// the end of it.
	Log func(repo string) io.Writer
}

// Watched is each watched repository's interval.
func (w Watcher) Watched() map[string]time.Duration { return w.Config.WatchedProduction() }

// Watch looks at repo's production read-only and classifies what it saw.
// A look that failed says why in Error, with nothing sensitive in it.
func (w Watcher) Watch(ctx context.Context, repo string) preview.ProductionWatch {
	start := time.Now()
	out := preview.ProductionWatch{Repo: repo, At: start.UTC(), Findings: []preview.ProductionFinding{}}
	version, err := w.watch(ctx, repo, &out)
	out.Took, out.Module = time.Since(start), version
	if err != nil {
		out.Error, out.Findings, out.Ignored = err.Error(), []preview.ProductionFinding{}, 0
	}
	return out
}

func (w Watcher) watch(ctx context.Context, repo string, out *preview.ProductionWatch) (preview.ModuleVersion, error) {
	watch, ok := w.Config.ProductionWatch(repo)
	if !ok {
		return preview.ModuleVersion{}, fmt.Errorf("production of %s is not watched: give it a production.state", repo)
	}
	// Production's module at production's ref, as previews get it.
	env := preview.Environment{Repo: repo, Name: provisioner.ProductionEnvironment}
	mod, err := w.Config.Module(ctx, env)
	if err != nil {
		return preview.ModuleVersion{}, err
	}
	r, _, err := w.Config.ParityRepositoryFor(ctx, env)
	if err != nil {
		return mod.Version, err
	}
	vars, err := w.Prov.ModuleVariables(ctx, env, mod)
	if err != nil {
		return mod.Version, err
	}
	in, err := parity.ResolveInputs(r, vars.Declared, nil)
	if err != nil {
		return mod.Version, err
	}
	log := io.Discard
	if w.Log != nil {
		log = w.Log(repo)
	}
	look, err := w.Prov.WatchProduction(ctx, repo, mod, watch.State.Provisioner(), in.ProductionVars, log)
	if err != nil {
		return mod.Version, err
	}
	src, _ := parity.LoadModuleSource(mod.Dir) // without it, findings name no line
	out.Findings, out.Ignored = parity.ProductionFindings(look.Outside, look.Next, src, watch.Ignore)
	if out.Findings == nil {
		out.Findings = []preview.ProductionFinding{}
	}
	return mod.Version, nil
}
