// Package databasewatch is where the configuration and the provisioner
// meet the controller's watch of previews' databases
// (controller.Databases): each repository's migrations setting names the
// module output that holds its previews' database, read from the
// environment's state when needed and kept nowhere.
package databasewatch

import (
	"context"
	"fmt"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/internal/config"
	"github.com/previewd/previewd/migrations"
	"github.com/previewd/previewd/provisioner"
)

// Watches fits the migrations watcher to the controller.
type Watches struct {
	Config *config.Config
	Prov   *provisioner.Provisioner
}

func (d Watches) settings(repo string) (config.MigrationsConfig, bool) {
	r, ok := d.Config.Repo(repo)
	if !ok || r.Migrations == nil || r.Migrations.DatabaseOutput == "" {
		return config.MigrationsConfig{}, false
	}
	return *r.Migrations, true
}

// Watch reads env's database connection from its state and starts
// watching it. Before the first apply there is no state: nothing to watch
// yet.
func (d Watches) Watch(ctx context.Context, env preview.Environment) (controller.DatabaseWatch, bool, error) {
	m, ok := d.settings(env.Repo)
	if !ok {
		return nil, false, nil
	}
	if env.AppliedSHA == "" {
		return nil, true, nil
	}
	mod, err := d.Config.Module(ctx, env)
	if err != nil {
		return nil, true, fmt.Errorf("module for %s: %w", env.Repo, err)
	}
	outputs, err := d.Prov.SensitiveOutputs(ctx, env, mod)
	if err != nil {
		return nil, true, fmt.Errorf("read the output %s from the state: %w", m.DatabaseOutput, err)
	}
	conn := outputs[m.DatabaseOutput]
	if conn == "" {
		return nil, true, fmt.Errorf("the module's output %s is empty: it should hold the database's connection string", m.DatabaseOutput)
	}
	w, err := migrations.Watch(ctx, conn, migrations.Options{})
	if err != nil {
		return nil, true, err
	}
	return w, true, nil
}

// Settle is the repository's migrations.settle.
func (d Watches) Settle(repo string) time.Duration {
	m, _ := d.settings(repo)
	return m.Settle
}

// Judge reads production's row estimates of the relations held (with
// migrations.production_stats_url), notes the repository's declared data
// differences, and judges the report by the
// repository's limits.
func (d Watches) Judge(ctx context.Context, repo string, r preview.DatabaseReport) preview.DatabaseReport {
	m, _ := d.settings(repo)
	var unread string
	if m.ProductionStatsURL != "" && len(r.Holds) > 0 {
		names := make([]string, len(r.Holds))
		for i, h := range r.Holds {
			names[i] = h.Relation
		}
		rows, err := migrations.Rows(ctx, m.ProductionStatsURL, names)
		if err != nil {
			unread = "production's row estimates could not be read: " + err.Error()
		}
		for i, h := range r.Holds {
			if n, ok := rows[h.Relation]; ok {
				r.Holds[i].ProductionRows = &n
			}
		}
	}
	if rc, ok := d.Config.Repo(repo); ok {
		for _, diff := range rc.Differences {
			if diff.Reason == "data" {
				r.DeclaredData = append(r.DeclaredData, diff.Variable)
			}
		}
	}
	r.Verdict = r.Judge(m.Limits())
	if unread != "" {
		r.Verdict.Reasons = append(r.Verdict.Reasons, unread)
	}
	return r
}
