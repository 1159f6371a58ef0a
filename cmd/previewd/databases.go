package main

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

// databaseWatches fits the migrations watcher to the controller: each
// repository's migrations setting names the module output that holds its
// previews' database, read from the environment's state when needed and
// kept nowhere.
type databaseWatches struct {
	cfg  *config.Config
	prov *provisioner.Provisioner
}

func (d databaseWatches) settings(repo string) (config.MigrationsConfig, bool) {
	r, ok := d.cfg.Repo(repo)
	if !ok || r.Migrations == nil || r.Migrations.DatabaseOutput == "" {
		return config.MigrationsConfig{}, false
	}
	return *r.Migrations, true
}

// Watch reads env's database connection from its state and starts
// watching it. Before the first apply there is no state: nothing to watch
// yet.
func (d databaseWatches) Watch(ctx context.Context, env preview.Environment) (controller.DatabaseWatch, bool, error) {
	m, ok := d.settings(env.Repo)
	if !ok {
		return nil, false, nil
	}
	if env.AppliedSHA == "" {
		return nil, true, nil
	}
	mod, err := moduleOf(d.cfg)(ctx, env)
	if err != nil {
		return nil, true, err
	}
	outputs, err := d.prov.SensitiveOutputs(ctx, env, mod)
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
func (d databaseWatches) Settle(repo string) time.Duration {
	m, _ := d.settings(repo)
	return m.Settle
}

// Judge reads production's row estimates of the relations held (with
// migrations.production_stats_url), notes the repository's declared data
// differences, and judges the report by the
// repository's limits.
func (d databaseWatches) Judge(ctx context.Context, repo string, r preview.DatabaseReport) preview.DatabaseReport {
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
	if rc, ok := d.cfg.Repo(repo); ok {
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
