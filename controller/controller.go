// Package controller converges every environment's observed state to its
// desired state. Webhooks, the admin API, the TTL reaper and start-up only
// change desired state and nudge the controller; a bounded pool of workers
// runs Terraform, one run per environment at a time, always for the newest
// head. It talks to the store, the provisioner and GitHub through the small
// interfaces below.
package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
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
}

// Config tunes a Controller.
type Config struct {
	MaxConcurrentRuns   int                                     // Terraform runs at once (default 4)
	LogDir              string                                  // run logs go to LogDir/<run id>.log
	DataDir             string                                  // errors shown on pull requests give paths relative to it
	MaxAttempts         int                                     // failed runs of one target before retrying stops (default 5)
	RetryBase           time.Duration                           // first retry delay after a failure, doubled each time (default 1m)
	SweepInterval       time.Duration                           // how often expiry and retries are checked (default 30s)
	DeliveryRetention   time.Duration                           // how long delivery IDs are kept for de-duplication (default 72h)
	TTL                 time.Duration                           // idle time before expiry; ExpiresAt is last activity + TTL
	MaxKeep             time.Duration                           // a pinned environment expires this long after its last activity (default 30 days)
	Resync              PullRequests                            // GitHub's pull requests; nil disables resync (offline mode)
	Commands            Commander                               // carries out comment commands; nil drops them
	Checker             Checker                                 // parity checks, drift checks and hooks; nil disables them
	RequiredChecks      RequiredChecks                          // checks a head must pass before it is applied; nil: none
	ChecksPollInterval  time.Duration                           // how often a waiting head's checks are read again without an event (default 30s)
	ModuleVersions      ModuleVersions                          // production's module versions, when modules come from git; nil: not followed
	ModulePollInterval  time.Duration                           // how often production's modules are resolved again without a push (default 5m)
	Redeliveries        Redeliveries                            // GitHub's delivery log (App mode); nil: no redelivery
	RedeliveryInterval  time.Duration                           // how often failed deliveries are looked for (default 5m)
	MaxConcurrentChecks int                                     // parity checks at once, beside the runs (default 1)
	ResyncRepos         func(context.Context) ([]string, error) // repositories to resync besides those with live environments
	Allowed             func(repo string) bool                  // the repositories previewd serves (a module, allowed_repos); nil allows all
	ResyncInterval      time.Duration                           // default 10m
	MaxResyncDestroys   int                                     // destroys one resync pass may start (default 5)
	Leases              Leases                                  // replicas sharing the store; nil: this process holds everything
	LeaseTTL            time.Duration                           // how long a lease outlives its holder's last renewal (default 30s)
	Logs                RunLogs                                 // where run logs go; nil: files under LogDir
	Metrics             Metrics                                 // what operators alert on; nil: nothing measured
	Budgets             Budgets                                 // caps on live environments; nil: none
	Logger              *slog.Logger
	Now                 func() time.Time
}

// Controller is the reconcile loop. Create it with New and start it with Run.
type Controller struct {
	store Store
	prov  Provisioner
	gh    GitHub
	cfg   Config
	log   *slog.Logger

	runs     *workQueue // environments to reconcile
	notices  *workQueue // environments whose comment must be synced
	commands *workQueue // holds the one name "commands" while commands wait
	checks   *workQueue // applied environments whose parity is to be checked

	driftMu  sync.Mutex
	driftDue map[string]bool // ready environments due for a drift check

	modulesDue chan struct{} // NudgeModules' signal to the module loop

	budgetMu  sync.Mutex // one admission at a time (see admit)
	leasesMu  sync.Mutex
	held      map[string]*heldLease    // leases this process holds, by name
	acquiring map[string]chan struct{} // names being asked of the database, closed when answered
	leader    *leadership
	ready     atomic.Bool
	pid       int
}

// New returns a Controller; it does nothing until Run.
func New(store Store, prov Provisioner, gh GitHub, cfg Config) *Controller {
	if cfg.MaxConcurrentRuns <= 0 {
		cfg.MaxConcurrentRuns = 4
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Minute
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 30 * time.Second
	}
	if cfg.DeliveryRetention <= 0 {
		cfg.DeliveryRetention = 72 * time.Hour
	}
	if cfg.MaxConcurrentChecks <= 0 {
		cfg.MaxConcurrentChecks = 1
	}
	if cfg.RedeliveryInterval <= 0 {
		cfg.RedeliveryInterval = 5 * time.Minute
	}
	if cfg.ModulePollInterval <= 0 {
		cfg.ModulePollInterval = 5 * time.Minute
	}
	if cfg.ChecksPollInterval <= 0 {
		cfg.ChecksPollInterval = 30 * time.Second
	}
	if cfg.MaxKeep <= 0 {
		cfg.MaxKeep = 30 * 24 * time.Hour
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 10 * time.Minute
	}
	if cfg.MaxResyncDestroys <= 0 {
		cfg.MaxResyncDestroys = 5
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.Leases != nil && cfg.SweepInterval > cfg.LeaseTTL/2 {
		cfg.SweepInterval = cfg.LeaseTTL / 2 // the fallback that finds a dead replica's environments
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Controller{
		store: store, prov: prov, gh: gh, cfg: cfg,
		log:        cfg.Logger.With("component", "controller"),
		runs:       newWorkQueue(),
		notices:    newWorkQueue(),
		commands:   newWorkQueue(),
		checks:     newWorkQueue(),
		driftDue:   map[string]bool{},
		modulesDue: make(chan struct{}, 1),
		pid:        os.Getpid(),
		held:       map[string]*heldLease{},
		acquiring:  map[string]chan struct{}{},
		leader:     newLeadership(cfg.Leases == nil),
	}
}

// Nudge asks for the named environment to be reconciled. It never blocks. A
// nudge for an environment whose run is in progress is kept and served when
// that run ends, so a burst of pushes costs at most one more run.
func (c *Controller) Nudge(name string) { c.runs.add(name) }

// Ready reports whether the controller has recovered and is reconciling.
func (c *Controller) Ready() bool { return c.ready.Load() }

// Run recovers from any previous crash, then reconciles until ctx is
// cancelled. On cancellation it interrupts running Terraform (through the
// context), waits for every worker to record where it stopped, and returns.
func (c *Controller) Run(ctx context.Context) error {
	if err := c.recover(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	if c.cfg.Leases != nil {
		wg.Go(func() { c.leaderLoop(ctx) })
	}
	for range c.cfg.MaxConcurrentRuns {
		wg.Go(func() { c.runs.serve(ctx, c.reconcile) })
	}
	wg.Go(func() { c.notices.serve(ctx, c.syncGitHub) })
	wg.Go(func() { c.sweepLoop(ctx) })
	if c.cfg.Checker != nil {
		wg.Go(func() { c.driftLoop(ctx) })
		for range c.cfg.MaxConcurrentChecks {
			wg.Go(func() { c.checks.serve(ctx, c.checkParity) })
		}
	}
	if c.cfg.Commands != nil {
		wg.Go(func() { c.commands.serve(ctx, c.runCommands) })
		c.NudgeCommands() // commands queued before a stop
	}
	if c.cfg.Resync != nil {
		wg.Go(func() { c.resyncLoop(ctx) })
	}
	if c.cfg.ModuleVersions != nil {
		wg.Go(func() { c.moduleLoop(ctx) })
	}
	if c.cfg.Redeliveries != nil {
		wg.Go(func() { c.redeliveryLoop(ctx) })
	}
	c.ready.Store(true)
	c.log.Info("reconciling", "workers", c.cfg.MaxConcurrentRuns)
	<-ctx.Done()
	c.ready.Store(false)
	wg.Wait()
	c.log.Info("stopped")
	return nil
}

// recover marks runs cut off by a previous process as interrupted and queues
// every environment that is not converged.
func (c *Controller) recover(ctx context.Context) error {
	runs, err := c.store.InterruptRuns(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, r := range runs {
		c.log.Warn("run was interrupted by a previous stop", "run", r.ID, "environment", r.Environment, "phase", r.Phase)
	}
	envs, err := c.store.FindEnvironments(ctx, preview.EnvironmentFilter{})
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	now := c.cfg.Now()
	for _, env := range envs {
		if env.NextAction(now, c.cfg.MaxAttempts) != preview.ActionNone {
			c.runs.add(env.Name)
		}
		if env.Status == preview.StatusReady && c.cfg.Checker != nil && (env.Parity.SHA != env.AppliedSHA || env.Parity.Generation != env.AppliedGeneration) {
			c.checks.add(env.Name) // applied, but stopped before its check
		}
		c.notices.add(env.Name)
	}
	return nil
}

// reconcile converges one environment, looping while its desired state keeps
// moving. The queue guarantees no other worker of this process holds the
// same name; the environment's lease, that no other replica does.
//
// A drift check asked of this replica is its own to run (no other replica
// knows of it): while another replica holds the environment, it is tried
// again a third of a lease later.
func (c *Controller) reconcile(ctx context.Context, name string) {
	if !c.leased(ctx, name, func() { c.Nudge(name) }, func(ctx context.Context) { c.converge(ctx, name) }) && c.driftPending(name) {
		c.runs.addAfter(ctx, name, c.cfg.LeaseTTL/3)
	}
}

func (c *Controller) converge(ctx context.Context, name string) {
	for ctx.Err() == nil {
		env, err := c.store.FindEnvironmentByName(ctx, name)
		if err != nil {
			c.log.Error("reconcile: load environment", "environment", name, "err", err)
			return
		}
		switch env.NextAction(c.cfg.Now(), c.cfg.MaxAttempts) {
		case preview.ActionApply:
			if !c.checksPassed(ctx, env) {
				return // waiting, or failed: a check event or the sweep reads them again
			}
			admitted, ok := c.admit(ctx, env)
			if !ok {
				return // waiting for room: a destroy or the sweep looks again
			}
			err = c.apply(ctx, env, admitted)
		case preview.ActionDestroy:
			err = c.destroy(ctx, env)
		default:
			c.scheduleRetry(ctx, env)
			c.notices.add(name) // e.g. a fork's first event: nothing to run, something to say
			if env.Status == preview.StatusReady && c.cfg.Checker != nil && (env.Parity.SHA != env.AppliedSHA || env.Parity.Generation != env.AppliedGeneration) {
				c.checks.add(name) // applied, its check not done (another replica's, or refused meanwhile)
			}
			if c.takeDriftDue(name) {
				c.checkDrift(ctx, name)
			}
			return
		}
		if err != nil {
			c.log.Error("reconcile", "environment", name, "err", err)
			return
		}
	}
}

// scheduleRetry queues a failed environment again when its retry is due,
// so retries do not wait for the next sweep.
func (c *Controller) scheduleRetry(ctx context.Context, env preview.Environment) {
	if env.Status != preview.StatusFailed || env.Attempts == 0 || env.Attempts >= c.cfg.MaxAttempts {
		return
	}
	if delay := env.RetryAt.Sub(c.cfg.Now()); delay > 0 {
		c.runs.addAfter(ctx, env.Name, delay)
	}
}

// syncGitHub brings the pull request's comment, deployment and commit status
// up to date with the stored environment. What was written is stored even
// when a later write fails; a failure is retried later, and only the newest
// state is ever sent. It holds the environment's lease, so two replicas
// never write one pull request's comment at once.
func (c *Controller) syncGitHub(ctx context.Context, name string) {
	c.leased(ctx, name, func() { c.Nudge(name) }, func(ctx context.Context) { c.writeGitHub(ctx, name) })
}

func (c *Controller) writeGitHub(ctx context.Context, name string) {
	env, err := c.store.FindEnvironmentByName(ctx, name)
	if err != nil {
		c.log.Error("sync github: load environment", "environment", name, "err", err)
		return
	}
	comment, errComment := c.gh.SyncComment(ctx, env)
	deployment, errDeployment := c.gh.SyncDeployment(ctx, env)
	status, errStatus := c.gh.SyncCommitStatus(ctx, env)
	parityStatus, errParity := c.gh.SyncParityStatus(ctx, env)
	if errComment != nil {
		comment = env.Comment
	}
	if err := errors.Join(errComment, errDeployment, errStatus, errParity); err != nil && ctx.Err() == nil {
		c.log.Warn("sync github failed; will retry", "environment", name, "err", err)
		if c.cfg.Metrics != nil {
			c.cfg.Metrics.GitHubSyncFailed()
		}
		c.notices.addAfter(ctx, name, c.cfg.RetryBase/4)
	}
	if comment == env.Comment && deployment == env.Deployment && status == env.CommitStatus && parityStatus == env.ParityStatus {
		return
	}
	_, err = c.store.UpdateEnvironment(context.WithoutCancel(ctx), name, func(e *preview.Environment) error {
		e.Comment, e.Deployment, e.CommitStatus, e.ParityStatus = comment, deployment, status, parityStatus
		return nil
	})
	if err != nil {
		c.log.Error("sync github: store what was written", "environment", name, "err", err)
	}
}

// sweepLoop expires idle environments, retries failed destroys when due and
// forgets old delivery IDs.
func (c *Controller) sweepLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.SweepInterval)
	defer t.Stop()
	for {
		c.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep expires idle environments and queues those not converged (a retry
// due, a run a stop cut short). With replicas, every replica queues what is not converged (the fallback
// that finds a dead replica's environments once its leases expire), and
// the leader alone expires environments and prunes.
func (c *Controller) sweep(ctx context.Context) {
	now := c.cfg.Now()
	envs, err := c.store.FindEnvironments(ctx, preview.EnvironmentFilter{LiveOnly: true})
	if err != nil {
		c.log.Error("sweep", "err", err)
		return
	}
	leading := c.Leading()
	for _, env := range envs {
		if leading && env.Desired.Present && c.expired(env, now) {
			c.expire(ctx, env.Name)
			continue
		}
		if env.NextAction(now, c.cfg.MaxAttempts) != preview.ActionNone {
			c.runs.add(env.Name)
		}
	}
	if c.cfg.Commands != nil {
		// Commands another replica was asked to carry out while it held
		// them, and then died, are found here.
		c.NudgeCommands()
	}
	if !leading {
		return
	}
	if _, err := c.store.PruneDeliveries(ctx, now.Add(-c.cfg.DeliveryRetention)); err != nil {
		c.log.Error("prune deliveries", "err", err)
	}
	if c.cfg.Leases != nil {
		if _, err := c.cfg.Leases.PruneLeases(ctx); err != nil {
			c.log.Error("prune leases", "err", err)
		}
	}
}

// expired reports whether env has been idle too long at now. A pinned
// environment (label preview:keep) lasts MaxKeep from its last activity
// instead of TTL.
func (c *Controller) expired(env preview.Environment, now time.Time) bool {
	if env.ExpiresAt.IsZero() || !now.After(env.ExpiresAt) {
		return false
	}
	if !env.Kept() {
		return true
	}
	lastActivity := env.ExpiresAt.Add(-c.cfg.TTL)
	return now.After(lastActivity.Add(c.cfg.MaxKeep))
}

func (c *Controller) expire(ctx context.Context, name string) {
	_, err := c.store.UpdateEnvironment(ctx, name, func(e *preview.Environment) error {
		if !e.Desired.Present || !c.expired(*e, c.cfg.Now()) {
			return errUnchanged
		}
		e.Desired.Present = false
		e.Desired.Reason = preview.ReasonExpired
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return
	} else if err != nil {
		c.log.Error("expire", "environment", name, "err", err)
		return
	}
	c.log.Info("environment expired", "environment", name)
	c.Nudge(name)
}

var errUnchanged = errors.New("unchanged")

// RunLogs keeps runs' Terraform logs where every replica can read them.
type RunLogs interface {
	// OpenRunLog returns a writer appending to run's log, creating it.
	OpenRunLog(ctx context.Context, run preview.Run) (io.WriteCloser, error)
}

// openLog opens run's log for appending: in Logs, or the file at
// run.LogPath.
func (c *Controller) openLog(ctx context.Context, run preview.Run) (io.WriteCloser, error) {
	if c.cfg.Logs != nil {
		return c.cfg.Logs.OpenRunLog(ctx, run)
	}
	if err := os.MkdirAll(filepath.Dir(run.LogPath), 0o750); err != nil {
		return nil, err
	}
	return os.OpenFile(run.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
}

// logPath returns where the log of run id is written.
func (c *Controller) logPath(id string) string {
	return filepath.Join(c.cfg.LogDir, filepath.FromSlash(id)+".log")
}
