package main

import (
	"context"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/provisioner"
	"github.com/previewd/previewd/server"
)

// pageModules tells environments' pages (server.Pages) what their modules
// receive.
type pageModules struct{ cfg *config.Config }

// Inputs resolves env's module and the variables it receives, as an apply
// passes them. When the variables cannot be read, the var files and
// secrets come alone.
func (m pageModules) Inputs(ctx context.Context, env preview.Environment) (server.ModuleInputs, error) {
	mod, err := m.cfg.Module(ctx, env)
	if err != nil {
		return server.ModuleInputs{}, err
	}
	out := server.ModuleInputs{VarFiles: mod.VarFiles, Secrets: mod.Secrets}
	inputs, err := provisioner.Inputs(mod, env)
	if err != nil {
		return out, nil // the page shows what it can
	}
	for _, in := range inputs {
		out.Vars = append(out.Vars, server.Input{Name: in.Name, Value: in.Value, Sensitive: in.Sensitive})
	}
	return out, nil
}
