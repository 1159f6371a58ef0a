package server

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	preview "github.com/previewd/previewd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	deliveries *prometheus.CounterVec
	requests   *prometheus.HistogramVec
	bodyBytes  prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "previewd_webhook_deliveries_total",
			Help: "GitHub webhook deliveries by event and result.",
		}, []string{"event", "result"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "previewd_http_request_duration_seconds",
			Help:    "HTTP request latency by route and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "code"}),
		bodyBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "previewd_webhook_body_bytes_reserved",
			Help: "Webhook body bytes held by deliveries being read or checked.",
		}),
	}
	// The series alerts watch exist from the start, at zero.
	m.deliveries.WithLabelValues("unverified", preview.EUNAUTHORIZED)
	for _, event := range []string{"pull_request", "issue_comment"} {
		for _, result := range []string{"changed", preview.EUNAVAILABLE, preview.EINTERNAL} {
			m.deliveries.WithLabelValues(event, result)
		}
	}
	reg.MustRegister(m.deliveries, m.requests, m.bodyBytes)
	return m
}

// handleMetrics serves the registry to Prometheus; with a MetricsToken,
// only to a scrape that presents it as a bearer token. Wrong tokens count
// against the client like any other wrong credential.
func (s *Server) handleMetrics() echo.HandlerFunc {
	h := echo.WrapHandler(promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{Registry: s.cfg.Registry}))
	if s.cfg.MetricsToken == "" {
		return h
	}
	return s.requireToken(h, s.metricsToken, false)
}

// observe records every request's latency by route.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(c.Response().Status)).Observe(time.Since(start).Seconds())
		return nil
	}
}
