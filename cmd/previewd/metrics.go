package main

import (
	"context"

	preview "github.com/previewd/previewd"
	"github.com/prometheus/client_golang/prometheus"
)

// environmentCollector reports how many environments are in each status,
// read from the store at scrape time.
type environmentCollector struct {
	store interface {
		FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error)
	}
	desc *prometheus.Desc
}

func newEnvironmentCollector(store interface {
	FindEnvironments(ctx context.Context, filter preview.EnvironmentFilter) ([]preview.Environment, error)
}) *environmentCollector {
	return &environmentCollector{store: store, desc: prometheus.NewDesc(
		"previewd_environments", "Environments by status.", []string{"status"}, nil)}
}

func (c *environmentCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *environmentCollector) Collect(ch chan<- prometheus.Metric) {
	envs, err := c.store.FindEnvironments(context.Background(), preview.EnvironmentFilter{})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	counts := map[preview.Status]int{}
	for _, e := range envs {
		counts[e.Status]++
	}
	for _, s := range []preview.Status{preview.StatusQueued, preview.StatusProvisioning, preview.StatusReady,
		preview.StatusFailed, preview.StatusDestroying, preview.StatusDestroyed} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}
