package controller

import (
	"context"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
)

// Databases watches a preview's database while the environment comes up
// (a repository's migrations setting), so its migrations are measured
// before production runs them.
type Databases interface {
	// Watch starts watching env's database. watched is false when its
	// repository watches none; w is nil and err nil when it does but the
	// database is not known yet (the output that names it exists after the
	// first apply); err says why the database could not be watched, and
	// never holds the connection string.
	Watch(ctx context.Context, env preview.Environment) (w DatabaseWatch, watched bool, err error)
	// Settle is how long repo's databases are still watched once ready.
	Settle(repo string) time.Duration
	// Judge completes a report of repo: production's row estimates of the
	// relations held, and the verdict.
	Judge(ctx context.Context, repo string, r preview.DatabaseReport) preview.DatabaseReport
}

// DatabaseWatch is a database being watched.
type DatabaseWatch interface {
	Stop() preview.DatabaseReport
}

// databases is the service behind the run loop's watches: each apply's
// watch runs through the apply, its seed and the settle time after, then
// its report is judged and stored. A newer apply of the environment, or
// the controller stopping, ends the older watch at once (what it saw is
// kept).
type databases struct {
	*core
	dbs     Databases
	metrics Metrics // nil: nothing measured

	mu      sync.Mutex
	ends    map[string]func() // environment → ends its watch now
	running sync.WaitGroup
}

// watch is one apply's watch of an environment's database.
type watch struct {
	d       *databases
	env     preview.Environment
	w       DatabaseWatch
	watched bool
	why     string
	from    time.Time
	ok      bool // the apply succeeded
}

// begin starts watching env's database as its apply starts. It never
// fails: a database that cannot be watched is reported so.
func (d *databases) begin(ctx context.Context, env preview.Environment) *watch {
	if d == nil {
		return nil
	}
	d.endNow(env.Name) // an older apply's watch
	w := &watch{d: d, env: env, from: d.now().UTC()}
	w.w, w.watched, w.why = d.start(ctx, env)
	if !w.watched {
		return nil
	}
	return w
}

func (d *databases) start(ctx context.Context, env preview.Environment) (DatabaseWatch, bool, string) {
	w, watched, err := d.dbs.Watch(ctx, env)
	if err != nil {
		d.log.Warn("migrations: the database cannot be watched", "environment", env.Name, "err", err)
		return nil, watched, err.Error()
	}
	return w, watched, ""
}

// made is told Terraform's apply succeeded (made: the environment with
// its new outputs): a watch that could not start before it, since the
// database did not exist yet, starts now, before the seed hook.
func (w *watch) made(ctx context.Context, made preview.Environment) {
	if w == nil || w.w != nil || w.why != "" {
		return
	}
	w.w, _, w.why = w.d.start(ctx, made)
}

// applied is told the apply ended: applied is the environment as it now
// stands (its outputs, when it succeeded). A watch that could not start
// before the apply (the first one: the database did not exist) starts
// now; then it goes on for the settle time and is judged.
func (w *watch) applied(ctx context.Context, applied preview.Environment, ok bool) {
	if w == nil {
		return
	}
	d := w.d
	w.env, w.ok = applied, ok
	if w.w == nil && w.why == "" && ok {
		w.w, _, w.why = d.start(ctx, applied)
	}
	settle := d.dbs.Settle(applied.Repo)
	if !ok || w.w == nil {
		settle = 0
	}
	end := make(chan struct{})
	var once sync.Once
	d.mu.Lock()
	d.ends[applied.Name] = func() { once.Do(func() { close(end) }) }
	d.mu.Unlock()
	d.running.Add(1)
	go func() {
		defer d.running.Done()
		t := time.NewTimer(settle)
		defer t.Stop()
		select {
		case <-t.C:
		case <-end:
		case <-ctx.Done():
		}
		w.finish(context.WithoutCancel(ctx))
	}()
}

// finish stops the watch, judges what it saw and stores it on the
// environment, when it is still of the environment's applied commit.
func (w *watch) finish(ctx context.Context) {
	d := w.d
	d.mu.Lock()
	delete(d.ends, w.env.Name)
	d.mu.Unlock()
	report := preview.DatabaseReport{Why: w.why, From: w.from, To: d.now().UTC()}
	if w.w != nil {
		report = w.w.Stop()
	} else if report.Why == "" {
		report.Why = "the database was not known: the apply failed before making it"
	}
	report.SHA, report.Generation = w.env.AppliedSHA, w.env.AppliedGeneration
	if !w.ok {
		report.SHA, report.Generation = w.env.AttemptedSHA, w.env.AttemptedGeneration
	}
	report = d.dbs.Judge(ctx, w.env.Repo, report)
	_, err := d.store.UpdateEnvironment(ctx, w.env.Name, func(e *preview.Environment) error {
		e.Database = report
		return nil
	})
	if err != nil {
		d.log.Error("migrations: store the report", "environment", w.env.Name, "err", err)
		return
	}
	if d.metrics != nil {
		d.metrics.MigrationsJudged(report.Verdict.Status)
	}
	d.log.Info("migrations: watched", "environment", w.env.Name, "verdict", report.Verdict.Status, "holds", len(report.Holds), "samples", report.Samples)
	d.notices.add(w.env.Name)
}

// endNow ends the environment's current watch, if any, at once.
func (d *databases) endNow(name string) {
	d.mu.Lock()
	end := d.ends[name]
	d.mu.Unlock()
	if end != nil {
		end()
	}
}

// wait waits until every watch has been stored (the controller stopping
// ends them all).
func (d *databases) wait() {
	if d != nil {
		d.running.Wait()
	}
}
