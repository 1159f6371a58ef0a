// Package controller converges every environment's observed state to its
// desired state. Webhooks, the admin API, expiry and start-up only change
// desired state and nudge the controller; the run loop's bounded pool of
// workers runs Terraform, one run per environment at a time, always for
// the newest head. The controller is a few services under one supervisor
// (see Controller); it talks to the store, the provisioner and GitHub
// through the small interfaces below.
package controller

import (
	"context"
	"io"
	"os"
	"sync/atomic"
	"time"

	preview "github.com/previewd/previewd"
)

// Store is the state the controller reads and writes.
type Store interface {
	FindEnvironmentByName(ctx context.Context, name string) (preview.Environment, error)
	FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error)
	UpdateEnvironment(ctx context.Context, name string, fn func(*preview.Environment) error) (preview.Environment, error)
	CreateRun(ctx context.Context, run preview.Run) (preview.Run, error)
	UpdateRun(ctx context.Context, run preview.Run) error
	FindRunByID(ctx context.Context, id string) (preview.Run, error)
	InterruptRuns(ctx context.Context) ([]preview.Run, error)
	PruneDeliveries(ctx context.Context, cutoff time.Time) (int, error)
	DeliveryRecorded(ctx context.Context, delivery string) (bool, error)
	RecordPullRequest(ctx context.Context, delivery string, pr preview.PullRequest) (preview.RecordResult, error)
	FindEnvironmentByPullRequest(ctx context.Context, repo string, number int) (preview.Environment, error)
	FindCommands(ctx context.Context) ([]preview.Command, error)
	DeleteCommand(ctx context.Context, id string) error
}

// Provisioner builds and tears down environments. Both calls block until
// Terraform is done or ctx is cancelled, and stream Terraform's output to log.
type Provisioner interface {
	Apply(ctx context.Context, env preview.Environment, log io.Writer) (preview.Applied, error)
	Destroy(ctx context.Context, env preview.Environment, log io.Writer) error
}

// GitHub shows an environment on its pull request. Each call compares env
// with what was last written (kept on env) and writes only what changed; on
// error it returns what was written before the error, to be stored.
type GitHub interface {
	// SyncComment makes the pull request's comment show env.
	SyncComment(ctx context.Context, env preview.Environment) (preview.Comment, error)
	// SyncDeployment keeps a deployment per applied head with statuses
	// following the environment.
	SyncDeployment(ctx context.Context, env preview.Environment) (preview.Deployment, error)
	// SyncCommitStatus keeps the "previewd" commit status on the head.
	SyncCommitStatus(ctx context.Context, env preview.Environment) (preview.CommitStatus, error)
	// SyncParityStatus keeps the "previewd/parity" status on the applied
	// head, from the environment's parity report.
	SyncParityStatus(ctx context.Context, env preview.Environment) (preview.CommitStatus, error)
	// SyncDatabaseStatus keeps the "previewd/migrations" verdict on the
	// commit whose database was watched.
	SyncDatabaseStatus(ctx context.Context, env preview.Environment) (preview.CommitStatus, error)
}

// Controller is the supervisor of the controller's services, each with
// its own type and file:
//
//   - the elector (elector.go) keeps the leader lease, with replicas;
//   - githubSync (githubsync.go) writes each environment to its pull request;
//   - the run loop (runloop.go, runs.go) runs Terraform for the queue of
//     environments to reconcile;
//   - parity (parity.go) checks applied environments against production;
//   - admission (budget.go) keeps environments within their budgets;
//   - the check waiter (checks.go) holds heads until their checks pass;
//   - commands (commands.go) carries out comment commands;
//   - expiry (expiry.go) tears down idle environments;
//   - drift (drift.go) schedules drift checks;
//   - resync (resync.go), redelivery (redeliver.go) and the module
//     follower (modules.go) heal missed webhooks and follow production;
//   - production (production.go) watches production read-only.
//
// They share a core (core.go): the store, the clock, the leases, and the
// queues that join them. Create a Controller with New and start it with
// Run.
type Controller struct {
	core     *core
	runLoop  *runLoop
	checks   *checkWaiter
	commands *commands
	modules  *moduleFollower
	drift    *drift
	prod     *production
	services []namedService // in the order they start
	ready    atomic.Bool
	// startup is every environment as the caller read them at start-up
	// (RecoverFrom), until Run's recovery takes them; nil: it reads them.
	startup []preview.Environment
}

// New returns a Controller; it does nothing until Run.
func New(store Store, prov Provisioner, gh GitHub, cfg Config) *Controller {
	cfg = cfg.withDefaults()
	core := newCore(store, cfg)
	journal := &journal{core: core, logs: cfg.Runs.Logs, logDir: cfg.Runs.LogDir, dataDir: cfg.Runs.DataDir, metrics: cfg.Metrics, pid: os.Getpid()}
	checker := cfg.Parity.Checker
	c := &Controller{
		core:   core,
		checks: &checkWaiter{core: core, required: cfg.Checks.Required, poll: cfg.Checks.PollInterval, changed: map[string]map[string]bool{}, wake: make(chan struct{}, 1)},
		commands: &commands{core: core, commander: cfg.Commands, retry: cfg.Runs.RetryBase / 4, every: cfg.SweepInterval, queue: newWorkQueue(),
			rules: preview.OperateRules{TTL: cfg.Expiry.TTL, MaxKeep: cfg.Expiry.MaxKeep, MaxAttempts: cfg.Runs.MaxAttempts}},
		modules: &moduleFollower{core: core, versions: cfg.Modules.Versions, poll: cfg.Modules.PollInterval, due: make(chan struct{}, 1)},
		drift:   &drift{core: core, journal: journal, checker: checker, every: cfg.SweepInterval, due: map[string]bool{}},
	}
	par := &parity{core: core, journal: journal, checker: checker, workers: cfg.Parity.MaxConcurrent, metrics: cfg.Metrics, queue: newWorkQueue()}
	adm := &admission{core: core, caps: cfg.Budgets, maxAttempts: cfg.Runs.MaxAttempts, freed: make(chan struct{}, 1)}
	slots := newSlots(cfg.Runs.MaxConcurrent)
	c.prod = &production{core: core, cfg: cfg.Production, slots: slots, metrics: cfg.Metrics, every: cfg.SweepInterval,
		wanted: make(chan struct{}, 1), due: map[string]bool{}}
	c.runLoop = &runLoop{
		core: core, journal: journal, prov: prov, checker: checker, slots: slots,
		workers: cfg.Runs.MaxConcurrent, maxAttempts: cfg.Runs.MaxAttempts, retryBase: cfg.Runs.RetryBase, sweepEvery: cfg.SweepInterval,
		ci: c.checks, admission: adm, parity: par, drift: c.drift,
	}
	if cfg.Databases != nil {
		c.runLoop.databases = &databases{core: core, dbs: cfg.Databases, metrics: cfg.Metrics, ends: map[string]func(){}}
	}
	c.services = []namedService{
		{"elector", cfg.Leases != nil, &elector{core: core}},
		{"github", true, &githubSync{core: core, gh: gh, retry: cfg.Runs.RetryBase / 4, metrics: cfg.Metrics}},
		{"runs", true, c.runLoop},
		{"parity", checker != nil, par},
		{"budgets", cfg.Budgets != nil, adm},
		{"checks", cfg.Checks.Required != nil, c.checks},
		{"commands", cfg.Commands != nil, c.commands},
		{"expiry", true, &expiry{core: core, retention: cfg.Expiry.DeliveryRetention, every: cfg.SweepInterval, ttl: cfg.Expiry.TTL, maxKeep: cfg.Expiry.MaxKeep}},
		{"drift", checker != nil, c.drift},
		{"resync", cfg.Resync.PullRequests != nil, &resync{core: core, cfg: cfg.Resync}},
		{"redelivery", cfg.Redelivery.Deliveries != nil, &redelivery{core: core, deliveries: cfg.Redelivery.Deliveries, every: cfg.Redelivery.Interval}},
		{"modules", cfg.Modules.Versions != nil, c.modules},
		{"production", cfg.Production.Watcher != nil && cfg.Production.Store != nil, c.prod},
	}
	return c
}

// Run recovers from any previous crash, starts the services and runs
// until ctx is cancelled. Then it stops them, the last started first, each
// waited for: what feeds the run loop first, then the run loop, which
// interrupts running Terraform (through its context) and waits for every
// worker to record where it stopped, then the writes to pull requests and
// the leader lease. It returns once all have stopped.
func (c *Controller) Run(ctx context.Context) error {
	envs := c.startup
	c.startup = nil
	if err := c.runLoop.recover(ctx, envs); err != nil {
		return err
	}
	sup := &supervisor{log: c.core.log}
	for _, s := range c.services {
		if s.on {
			sup.start(ctx, s)
		}
	}
	c.ready.Store(true)
	c.core.log.Info("reconciling", "workers", c.runLoop.workers)
	<-ctx.Done()
	c.ready.Store(false)
	sup.stop()
	c.core.log.Info("stopped")
	return nil
}

// RecoverFrom gives Run's recovery every environment, as the caller read
// them at start-up, so that it does not read them again. Call it before
// Run.
func (c *Controller) RecoverFrom(envs []preview.Environment) { c.startup = envs }

// Ready reports whether the controller has recovered and is reconciling.
func (c *Controller) Ready() bool { return c.ready.Load() }

// Nudge asks for the named environment to be reconciled. It never blocks. A
// nudge for an environment whose run is in progress is kept and served when
// that run ends, so a burst of pushes costs at most one more run.
func (c *Controller) Nudge(name string) { c.core.runs.add(name) }

// NudgeChecks tells the controller that the checks of commit changed: the
// live environments whose head is commit read their required checks
// again. It never blocks and reads nothing: the check waiter looks for
// those environments on its own goroutine. A nudge that is lost costs only
// time: an environment whose checks have not passed reads them again every
// ChecksConfig.PollInterval, and every sweep. Without RequiredChecks it
// does nothing.
func (c *Controller) NudgeChecks(commit preview.Commit) { c.checks.checksChanged(commit) }

// NudgeCommands asks for queued commands to be carried out. It never blocks.
func (c *Controller) NudgeCommands() { c.commands.nudge() }

// NudgeModules has production's modules looked at now (a push to a
// repository came), instead of at the next poll. It never blocks; nudges
// that come while they are looked at are folded into one more look.
func (c *Controller) NudgeModules() { c.modules.pushed() }

// CheckDrift queues a drift check of the named environment now, whatever
// its repository's interval: a refresh-only plan run by a run worker once
// no other run of it is going. An environment that is not ready by then is
// not checked. It never blocks. Without a Checker it does nothing.
func (c *Controller) CheckDrift(name string) { c.drift.ask(name) }

// WatchProduction has repo's production looked at now, whatever its
// interval, on the leader (on this replica only when it leads). It never
// blocks. Without a production watcher it does nothing.
func (c *Controller) WatchProduction(repo string) { c.prod.ask(repo) }

// Leading reports whether this replica runs the loops that must run once
// (always, without Leases).
func (c *Controller) Leading() bool {
	leading, _ := c.core.leader.state()
	return leading
}
