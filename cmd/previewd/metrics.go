package main

import (
	"context"
	"time"

	preview "github.com/previewd/previewd"
	"github.com/previewd/previewd/controller"
	"github.com/previewd/previewd/server"
	"github.com/prometheus/client_golang/prometheus"
)

// environmentCollector reports the environments as the store holds them,
// read at scrape time: by status, the live ones' parity verdicts, and the
// failing ones by the phase that failed.
type environmentCollector struct {
	store interface {
		FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error)
	}
	cost                    server.CostFunc
	status, parity, failing *prometheus.Desc
	hours, spent            *prometheus.Desc
}

func newEnvironmentCollector(store interface {
	FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error)
}, cost server.CostFunc) *environmentCollector {
	return &environmentCollector{
		store: store,
		cost:  cost,
		hours: prometheus.NewDesc("previewd_environment_hours", "Environment-hours this month (UTC) by repository, of the repositories with a price.",
			[]string{"repo"}, nil),
		spent: prometheus.NewDesc("previewd_estimated_cost", "Estimated cost of this month's environment-hours (UTC) by repository.",
			[]string{"repo", "currency"}, nil),
		status: prometheus.NewDesc("previewd_environments", "Environments by status.", []string{"status"}, nil),
		parity: prometheus.NewDesc("previewd_environments_parity", "Ready environments by the verdict of their newest parity check (unchecked: none yet at the applied head; error: the check could not run).", []string{"verdict"}, nil),
		failing: prometheus.NewDesc("previewd_environments_failing", "Failed environments by the phase that failed (a failing destroy leaves resources running).",
			[]string{"phase"}, nil),
	}
}

func (c *environmentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.status
	ch <- c.parity
	ch <- c.failing
	ch <- c.hours
	ch <- c.spent
}

func (c *environmentCollector) Collect(ch chan<- prometheus.Metric) {
	envs, err := c.store.FindEnvironments(context.Background(), preview.EnvironmentFilter{})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.status, err)
		return
	}
	counts := map[preview.Status]int{}
	verdicts := map[string]int{}
	failing := map[preview.Phase]int{}
	type spend struct {
		hours, cost float64
		currency    string
	}
	spending := map[string]*spend{}
	now := time.Now()
	for _, e := range envs {
		if cost, ok := c.cost(e, now); ok {
			s := spending[e.Repo]
			if s == nil {
				s = &spend{currency: cost.Currency}
				spending[e.Repo] = s
			}
			s.hours += cost.MonthHours
			s.cost += cost.Month
		}
		counts[e.Status]++
		switch e.Status {
		case preview.StatusReady:
			verdicts[e.ParityVerdict()]++
		case preview.StatusFailed:
			failing[e.LastPhase]++
		}
	}
	for _, s := range preview.Statuses {
		ch <- prometheus.MustNewConstMetric(c.status, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
	for _, v := range []string{"ok", "drift", "error", "unchecked"} {
		ch <- prometheus.MustNewConstMetric(c.parity, prometheus.GaugeValue, float64(verdicts[v]), v)
	}
	for _, p := range []preview.Phase{preview.PhaseApply, preview.PhaseDestroy} {
		ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, float64(failing[p]), string(p))
	}
	for repo, s := range spending {
		ch <- prometheus.MustNewConstMetric(c.hours, prometheus.GaugeValue, s.hours, repo)
		ch <- prometheus.MustNewConstMetric(c.spent, prometheus.GaugeValue, s.cost, repo, s.currency)
	}
}

// controllerMetrics is the controller's measurements as Prometheus metrics.
type controllerMetrics struct {
	runs         *prometheus.HistogramVec
	githubFailed prometheus.Counter
	parity       *prometheus.CounterVec
}

func newControllerMetrics(reg prometheus.Registerer) *controllerMetrics {
	m := &controllerMetrics{
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
	reg.MustRegister(m.runs, m.githubFailed, m.parity)
	return m
}

func (m *controllerMetrics) RunFinished(phase preview.Phase, state preview.RunState, took time.Duration) {
	m.runs.WithLabelValues(string(phase), string(state)).Observe(took.Seconds())
}

func (m *controllerMetrics) GitHubSyncFailed() { m.githubFailed.Inc() }

func (m *controllerMetrics) ParityChecked(verdict string) { m.parity.WithLabelValues(verdict).Inc() }

// registerQueueMetrics exports the controller's queues, read at scrape
// time.
func registerQueueMetrics(reg prometheus.Registerer, ctrl *controller.Controller) {
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
	)
}
