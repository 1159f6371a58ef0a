package server

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/prometheus/client_golang/prometheus"
)

// EnvironmentGauges reports the environments: by status, the ready ones'
// parity verdicts, the failed ones by the phase that failed, and this
// month's environment-hours and estimated cost by repository. It counts
// every environment once (load, or count what the caller read), then
// keeps its sums up to date as environments are written (observe,
// through observedStore), so a scrape costs the same with ten
// environments as with ten thousand; the dashboard's totals come from it
// too (Totals).
//
// Hours grow while an environment is live without anything being written,
// so a repository's sums say how many live environments it has and since
// when this month (hours from the month's start): a scrape adds their
// hours since then. When the month turns, every environment's hours start
// again from zero, in memory.
type EnvironmentGauges struct {
	pricing preview.Pricing
	now     func() time.Time

	mu      sync.Mutex
	seq     uint64              // observations so far
	envs    map[string]envGauge // what each environment adds, by name
	month   time.Time           // the start (UTC) of the month the sums are of
	status  map[preview.Status]int
	parity  map[string]int
	failing map[preview.Phase]int
	repos   map[string]int // environments by repository
	spend   map[string]*repoSpend

	statusDesc, parityDesc, failingDesc, hoursDesc, spentDesc *prometheus.Desc
}

// envGauge is what one environment adds to the gauges.
type envGauge struct {
	repo     string
	status   preview.Status
	verdict  string        // a ready one's parity verdict
	phase    preview.Phase // the phase a failed one failed in
	updated  time.Time     // its UpdatedAt: an older write never replaces a newer one
	seq      uint64        // the observation that made it; 0 when loaded
	priced   bool          // its repository has a price; the rest is about cost
	currency string
	rate     float64          // its hourly price
	hours    float64          // its environment-hours this month at since
	since    float64          // when hours was taken, in hours from the month's start
	live     bool             // its hours grow from since on
	metered  *preview.Metered // what pricing reads of it, for the dashboard's totals
}

// repoSpend sums the priced environments of a repository.
type repoSpend struct {
	envs          int
	currency      string
	hours, cost   float64 // at each environment's since
	live          int     // live environments, with the sums of their
	liveRate      float64 // hourly prices,
	liveSince     float64 // sinces,
	liveRateSince float64 // and sinces times prices
}

func NewEnvironmentGauges(pricing preview.Pricing, now func() time.Time) *EnvironmentGauges {
	return &EnvironmentGauges{
		pricing: pricing, now: now, envs: map[string]envGauge{},
		status: map[preview.Status]int{}, parity: map[string]int{}, failing: map[preview.Phase]int{}, repos: map[string]int{}, spend: map[string]*repoSpend{},
		hoursDesc: prometheus.NewDesc("previewd_environment_hours", "Environment-hours this month (UTC) by repository, of the repositories with a price.",
			[]string{"repo"}, nil),
		spentDesc: prometheus.NewDesc("previewd_estimated_cost", "Estimated cost of this month's environment-hours (UTC) by repository.",
			[]string{"repo", "currency"}, nil),
		statusDesc: prometheus.NewDesc("previewd_environments", "Environments by status.", []string{"status"}, nil),
		parityDesc: prometheus.NewDesc("previewd_environments_parity", "Ready environments by the verdict of their newest parity check (unchecked: none yet at the applied head; error: the check could not run).", []string{"verdict"}, nil),
		failingDesc: prometheus.NewDesc("previewd_environments_failing", "Failed environments by the phase that failed (a failing destroy leaves resources running).",
			[]string{"phase"}, nil),
	}
}

// Load reads every environment from db and counts them, keeping what was
// observed meanwhile when it is newer than what was read.
func (g *EnvironmentGauges) Load(ctx context.Context, db interface {
	FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error)
}) error {
	g.mu.Lock()
	began := g.seq
	g.mu.Unlock()
	envs, err := db.FindEnvironments(ctx, preview.EnvironmentFilter{})
	if err != nil {
		return err
	}
	g.count(envs, began)
	return nil
}

// Count makes the gauges count envs, every environment as read before
// anything was observed (at start-up): Load, the store read by the
// caller.
func (g *EnvironmentGauges) Count(envs []preview.Environment) { g.count(envs, 0) }

// count makes the gauges envs', keeping what was observed after
// observation began when it is newer.
func (g *EnvironmentGauges) count(envs []preview.Environment, began uint64) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(now)
	loaded := make(map[string]envGauge, len(envs))
	for _, env := range envs {
		loaded[env.Name] = g.gaugeOf(env, now)
	}
	for name, e := range g.envs {
		if l, ok := loaded[name]; e.seq > began && (!ok || !l.updated.After(e.updated)) {
			loaded[name] = e
		}
	}
	g.envs = loaded
	g.sum()
}

// ReloadEvery loads the gauges again every interval until ctx ends: with
// several replicas, what the others write reaches this one's gauges so.
func (g *EnvironmentGauges) ReloadEvery(ctx context.Context, db interface {
	FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error)
}, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := g.Load(ctx, db); err != nil && ctx.Err() == nil {
			logger.Warn("reload environment metrics", "err", err)
		}
	}
}

// Observe makes env's stored state count, unless an older one of it
// arrives after a newer.
func (g *EnvironmentGauges) Observe(env preview.Environment) {
	if env.Name == "" {
		return
	}
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(now)
	old, known := g.envs[env.Name]
	if known && env.UpdatedAt.Before(old.updated) {
		return
	}
	g.seq++
	e := g.gaugeOf(env, now)
	e.seq = g.seq
	if known {
		g.add(old, -1)
	}
	g.envs[env.Name] = e
	g.add(e, 1)
}

// gaugeOf is what env adds to the gauges at now.
func (g *EnvironmentGauges) gaugeOf(env preview.Environment, now time.Time) envGauge {
	e := envGauge{repo: env.Repo, status: env.Status, updated: env.UpdatedAt}
	switch env.Status {
	case preview.StatusReady:
		e.verdict = string(env.ParityVerdict())
	case preview.StatusFailed:
		e.phase = env.LastPhase
	}
	cost, ok := g.pricing.Cost(env.Metered(), now)
	if !ok {
		return e
	}
	at := now
	if env.LiveSince.After(at) {
		at = env.LiveSince
	}
	m := env.Metered()
	e.priced, e.currency, e.rate, e.metered = true, cost.Currency, cost.Hourly, &m
	e.hours, e.since, e.live = env.HoursIn(now), at.Sub(g.month).Hours(), !env.LiveSince.IsZero()
	return e
}

// add adds e to the sums, or takes it away (sign -1).
func (g *EnvironmentGauges) add(e envGauge, sign int) {
	g.status[e.status] += sign
	if g.repos[e.repo] += sign; g.repos[e.repo] == 0 {
		delete(g.repos, e.repo)
	}
	switch e.status {
	case preview.StatusReady:
		g.parity[e.verdict] += sign
	case preview.StatusFailed:
		g.failing[e.phase] += sign
	}
	if !e.priced {
		return
	}
	s := g.spend[e.repo]
	if s == nil {
		s = &repoSpend{}
		g.spend[e.repo] = s
	}
	f := float64(sign)
	s.envs += sign
	s.currency = e.currency
	s.hours += f * e.hours
	s.cost += f * e.hours * e.rate
	if e.live {
		s.live += sign
		s.liveRate += f * e.rate
		s.liveSince += f * e.since
		s.liveRateSince += f * e.since * e.rate
	}
	if s.envs == 0 {
		delete(g.spend, e.repo)
	}
}

// sum adds every environment up again.
func (g *EnvironmentGauges) sum() {
	clear(g.status)
	clear(g.parity)
	clear(g.failing)
	clear(g.repos)
	clear(g.spend)
	for _, e := range g.envs {
		g.add(e, 1)
	}
}

// roll moves the sums to the month now falls in, if they are of another:
// no environment has hours in it yet, and the live ones count from its
// start.
func (g *EnvironmentGauges) roll(now time.Time) {
	now = now.UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	if month.Equal(g.month) {
		return
	}
	g.month = month
	for name, e := range g.envs {
		e.hours, e.since = 0, 0
		g.envs[name] = e
	}
	g.sum()
}

// Totals are what the dashboard's list says of every environment, shown
// or not, as the gauges count them: no environment is read.
func (g *EnvironmentGauges) Totals() ListTotals {
	g.mu.Lock()
	defer g.mu.Unlock()
	var t ListTotals
	for s, n := range g.status {
		if s.Live() {
			t.Live += n
		}
	}
	t.Repos = slices.Sorted(maps.Keys(g.repos))
	if len(g.spend) == 0 {
		return t // nothing priced
	}
	names := make([]string, 0, len(g.envs))
	for name, e := range g.envs {
		if e.metered != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names) // in the stores' order, so the sums are the same to the last bit
	for _, name := range names {
		t.Metered = append(t.Metered, *g.envs[name].metered)
	}
	return t
}

func (g *EnvironmentGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.statusDesc
	ch <- g.parityDesc
	ch <- g.failingDesc
	ch <- g.hoursDesc
	ch <- g.spentDesc
}

// Collect reports the sums, adding the hours live environments have spent
// since they were taken.
func (g *EnvironmentGauges) Collect(ch chan<- prometheus.Metric) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(now)
	for _, s := range preview.Statuses {
		ch <- prometheus.MustNewConstMetric(g.statusDesc, prometheus.GaugeValue, float64(g.status[s]), string(s))
	}
	for _, v := range preview.ParityVerdicts {
		ch <- prometheus.MustNewConstMetric(g.parityDesc, prometheus.GaugeValue, float64(g.parity[string(v)]), string(v))
	}
	for _, p := range []preview.Phase{preview.PhaseApply, preview.PhaseDestroy} {
		ch <- prometheus.MustNewConstMetric(g.failingDesc, prometheus.GaugeValue, float64(g.failing[p]), string(p))
	}
	elapsed := now.Sub(g.month).Hours()
	for repo, s := range g.spend {
		hours := s.hours + float64(s.live)*elapsed - s.liveSince
		cost := s.cost + s.liveRate*elapsed - s.liveRateSince
		ch <- prometheus.MustNewConstMetric(g.hoursDesc, prometheus.GaugeValue, preview.Hundredths(hours), repo)
		ch <- prometheus.MustNewConstMetric(g.spentDesc, prometheus.GaugeValue, preview.Hundredths(cost), repo, s.currency)
	}
}

// RunMetrics is the controller's measurements as Prometheus metrics.
type RunMetrics struct {
	runs         *prometheus.HistogramVec
	githubFailed prometheus.Counter
	parity       *prometheus.CounterVec
	migrations   *prometheus.CounterVec
	// The watches of production, by repository.
	productionDrift   *prometheus.GaugeVec
	productionWatches *prometheus.CounterVec
	productionFailed  *prometheus.GaugeVec
}

func NewRunMetrics(reg prometheus.Registerer) *RunMetrics {
	m := &RunMetrics{
		runs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "previewd_run_duration_seconds",
			Help:    "Terraform runs by phase (apply, destroy, drift) and outcome (succeeded, failed, interrupted), and how long they took.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600},
		}, []string{"phase", "outcome"}),
		githubFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "previewd_github_sync_failures_total",
			Help: "Writes of an environment to its pull request (comment, deployment, statuses) that failed and are retried.",
		}),
		parity: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "previewd_parity_checks_total",
			Help: "Parity checks by verdict (ok, drift, error).",
		}, []string{"verdict"}),
		migrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "previewd_migrations_checks_total",
			Help: "Watches of previews' databases as they came up, by verdict (ok, failure, inconclusive, unwatched).",
		}, []string{"verdict"}),
		productionDrift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "previewd_production_drift",
			Help: "Attributes of a repository's production apart from its module, as the last watch that could look at it found (on the replica that watched).",
		}, []string{"repo"}),
		productionWatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "previewd_production_watches_total",
			Help: "Read-only watches of a repository's production by outcome (ok, drift, failed).",
		}, []string{"repo", "outcome"}),
		productionFailed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "previewd_production_watch_failed",
			Help: "1 when the last watch of a repository's production could not look at it (a wrong credential, a backend that did not answer), else 0 (on the replica that watched).",
		}, []string{"repo"}),
	}
	// Every series exists from the start, so rates and alerts see zeros
	// instead of nothing.
	for _, phase := range []preview.Phase{preview.PhaseApply, preview.PhaseDestroy, preview.PhaseDrift} {
		for _, outcome := range []preview.RunState{preview.RunSucceeded, preview.RunFailed, preview.RunInterrupted} {
			m.runs.WithLabelValues(string(phase), string(outcome))
		}
	}
	for _, v := range []string{"ok", "drift", "error"} {
		m.parity.WithLabelValues(v)
	}
	for _, v := range []string{preview.DatabaseOK, preview.DatabaseFailure, preview.DatabaseInconclusive, preview.DatabaseUnwatched} {
		m.migrations.WithLabelValues(v)
	}
	reg.MustRegister(m.runs, m.githubFailed, m.parity, m.migrations, m.productionDrift, m.productionWatches, m.productionFailed)
	return m
}

func (m *RunMetrics) RunFinished(phase preview.Phase, state preview.RunState, took time.Duration) {
	m.runs.WithLabelValues(string(phase), string(state)).Observe(took.Seconds())
}

func (m *RunMetrics) GitHubSyncFailed() { m.githubFailed.Inc() }

func (m *RunMetrics) ParityChecked(verdict string) { m.parity.WithLabelValues(verdict).Inc() }

func (m *RunMetrics) MigrationsJudged(verdict string) { m.migrations.WithLabelValues(verdict).Inc() }

// ProductionWatched counts a watch of repo's production that found
// findings attributes apart, or failed. A failed watch leaves the drift
// gauge at what the last watch that could look found.
func (m *RunMetrics) ProductionWatched(repo string, findings int, failed bool) {
	for _, outcome := range []string{productionOK, productionDrift, productionFailed} {
		m.productionWatches.WithLabelValues(repo, outcome) // at zero from the first watch on, for rates
	}
	m.productionWatches.WithLabelValues(repo, productionStatus(failed, findings)).Inc()
	if failed {
		m.productionFailed.WithLabelValues(repo).Set(1)
		return
	}
	m.productionFailed.WithLabelValues(repo).Set(0)
	m.productionDrift.WithLabelValues(repo).Set(float64(findings))
}

// RegisterControllerMetrics exports the controller's queues and whether
// this replica leads, read at scrape time.
func RegisterControllerMetrics(reg prometheus.Registerer, ctrl interface {
	RunQueue() (int, time.Duration)
	GitHubPending() int
	Leading() bool
}) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "previewd_run_queue_depth",
			Help: "Environments waiting for a run worker of this replica.",
		}, func() float64 { n, _ := ctrl.RunQueue(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "previewd_run_queue_oldest_seconds",
			Help: "How long the environment waiting longest for a run worker of this replica has waited.",
		}, func() float64 { _, d := ctrl.RunQueue(); return d.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "previewd_github_syncs_pending",
			Help: "Environments whose pull request (comment, deployment, statuses) waits to be written.",
		}, func() float64 { return float64(ctrl.GitHubPending()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "previewd_leader",
			Help: "1 on the replica running the loops that run once (resync, module polling, drift schedule, redelivery), else 0.",
		}, func() float64 {
			if ctrl.Leading() {
				return 1
			}
			return 0
		}),
	)
}
