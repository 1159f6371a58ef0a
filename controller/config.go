package controller

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// Config tunes a Controller: one group of settings per service, then what
// the services share. A zero value takes the default noted beside it; a nil
// interface leaves its service out.
type Config struct {
	Runs       RunsConfig       // the run loop: Terraform runs, their retries and logs
	Expiry     ExpiryConfig     // idle environments torn down, old deliveries forgotten
	Budgets    Budgets          // caps on live environments; nil: none
	Checks     ChecksConfig     // what a head must pass before it is applied
	Commands   Commander        // carries out comment commands; nil drops them
	Parity     ParityConfig     // parity checks, drift checks and hooks
	Resync     ResyncConfig     // healing missed webhooks from GitHub's pull requests
	Redelivery RedeliveryConfig // asking GitHub to deliver failed deliveries again
	Modules    ModulesConfig    // following production's modules in git
	Databases  Databases        // watching previews' databases as they come up (migrations); nil: none
	Production ProductionConfig // watching production read-only; no Watcher: none

	// SweepInterval is how often the services look again without a
	// signal: retries and environments left behind, expiry, the drift
	// schedule, commands left behind (default 30s; with Leases, at most
	// LeaseTTL/2).
	SweepInterval time.Duration
	Leases        Leases        // replicas sharing the store; nil: this process holds everything
	LeaseTTL      time.Duration // how long a lease outlives its holder's last renewal (default 30s)
	Metrics       Metrics       // what operators alert on; nil: nothing measured
	Logger        *slog.Logger
	Now           func() time.Time

	// Passed, when set, is called each time a service finishes a pass
	// over the store on its schedule, with the service's name: "runs" (a
	// sweep), "expiry" or "resync". Tests wait on it for proof that the
	// controller looked and let something be; it runs on the service's
	// goroutine and holds up the service's next pass until it returns.
	Passed func(service string)
}

// RunsConfig tunes the run loop.
type RunsConfig struct {
	MaxConcurrent int           // Terraform runs at once (default 4)
	MaxAttempts   int           // failed runs of one target before retrying stops (default 5)
	RetryBase     time.Duration // first retry delay after a failure, doubled each time (default 1m)
	LogDir        string        // run logs go to LogDir/<run id>.log
	DataDir       string        // errors shown on pull requests give paths relative to it
	Logs          RunLogs       // where run logs go; nil: files under LogDir
}

// ExpiryConfig tunes expiry. Each environment records when it expires
// (preview.Environment.Touch): TTL and MaxKeep are what a command's
// activity (a redeploy, an approval, an extension) gives it.
type ExpiryConfig struct {
	TTL               time.Duration // idle time before expiry
	MaxKeep           time.Duration // idle time before a kept environment expires (default 30 days)
	DeliveryRetention time.Duration // how long delivery IDs are kept for de-duplication (default 72h)
}

// ChecksConfig tunes waiting for CI.
type ChecksConfig struct {
	Required     RequiredChecks // checks a head must pass before it is applied; nil: none
	PollInterval time.Duration  // how often a waiting head's checks are read again without an event (default 30s)
}

// ParityConfig tunes the parity and drift checks.
type ParityConfig struct {
	Checker       Checker // parity checks, drift checks and hooks; nil disables them
	MaxConcurrent int     // parity checks at once, beside the runs (default 1)
}

// ResyncConfig tunes resync.
type ResyncConfig struct {
	PullRequests PullRequests                            // GitHub's pull requests; nil disables resync (offline mode)
	Repos        func(context.Context) ([]string, error) // repositories to resync besides those with live environments
	Allowed      func(repo string) bool                  // the repositories previewd serves (a module, allowed_repos); nil allows all
	Interval     time.Duration                           // default 10m
	MaxDestroys  int                                     // destroys one resync pass may start (default 5)
}

// RedeliveryConfig tunes redelivery.
type RedeliveryConfig struct {
	Deliveries Redeliveries  // GitHub's delivery log (App mode); nil: no redelivery
	Interval   time.Duration // how often failed deliveries are looked for (default 5m)
}

// ModulesConfig tunes module following.
type ModulesConfig struct {
	Versions     ModuleVersions // production's module versions, when modules come from git; nil: not followed
	PollInterval time.Duration  // how often production's modules are resolved again without a push (default 5m)
}

// withDefaults returns cfg with every zero value that has a default set
// to it.
func (cfg Config) withDefaults() Config {
	setDefault(&cfg.Runs.MaxConcurrent, 4)
	setDefault(&cfg.Runs.MaxAttempts, 5)
	setDefault(&cfg.Runs.RetryBase, time.Minute)
	setDefault(&cfg.Expiry.MaxKeep, 30*24*time.Hour)
	setDefault(&cfg.Expiry.DeliveryRetention, 72*time.Hour)
	setDefault(&cfg.Checks.PollInterval, 30*time.Second)
	setDefault(&cfg.Parity.MaxConcurrent, 1)
	setDefault(&cfg.Resync.Interval, 10*time.Minute)
	setDefault(&cfg.Resync.MaxDestroys, 5)
	setDefault(&cfg.Redelivery.Interval, 5*time.Minute)
	setDefault(&cfg.Modules.PollInterval, 5*time.Minute)
	setDefault(&cfg.SweepInterval, 30*time.Second)
	setDefault(&cfg.LeaseTTL, 30*time.Second)
	if cfg.Leases != nil && cfg.SweepInterval > cfg.LeaseTTL/2 {
		cfg.SweepInterval = cfg.LeaseTTL / 2 // the fallback that finds a dead replica's environments
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// setDefault sets *v to def when it is zero or less.
func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
