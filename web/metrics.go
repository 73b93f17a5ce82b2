package web

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyward/keyward/internal/limit"
)

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// accessSkipped counts requests the access log policy left unlogged.
	accessSkipped prometheus.Counter
	// counters and observers hold each label set's child once resolved,
	// so that a request pays one map lookup instead of hashing its labels
	// into the vectors.
	counters  sync.Map // statusLabels → prometheus.Counter
	observers sync.Map // routeLabels → prometheus.Observer
}

type routeLabels struct{ method, route string }

type statusLabels struct {
	routeLabels
	status int
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_http_requests_total",
			Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyward_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		accessSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyward_access_log_skipped_total",
			Help: "Requests not written to the access log (KEYWARD_ACCESS_LOG: successful, fast machine traffic).",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.accessSkipped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records a request under its route pattern (never the raw path,
// which would let clients create unbounded label values).
func (m *metrics) observe(c echo.Context, status int, took time.Duration) {
	route := c.Path()
	if route == "" {
		route = "unmatched"
	}
	rl := routeLabels{metricMethod(c.Request().Method), route}
	m.counter(statusLabels{rl, status}).Inc()
	m.observer(rl).Observe(took.Seconds())
}

// counter returns the request counter of one label set. Methods, route
// patterns and statuses are bounded sets, and so is the map.
func (m *metrics) counter(l statusLabels) prometheus.Counter {
	if c, ok := m.counters.Load(l); ok {
		return c.(prometheus.Counter)
	}
	c := m.requests.WithLabelValues(l.method, l.route, strconv.Itoa(l.status))
	m.counters.Store(l, c)
	return c
}

// observer returns the latency histogram of one method and route.
func (m *metrics) observer(l routeLabels) prometheus.Observer {
	if o, ok := m.observers.Load(l); ok {
		return o.(prometheus.Observer)
	}
	o := m.latency.WithLabelValues(l.method, l.route)
	m.observers.Store(l, o)
	return o
}

// handleMetrics serves GET /metrics in the Prometheus text format.
func (s *Server) handleMetrics(c echo.Context) error {
	promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}

// metricMethod is a request method as a label: any method beyond the
// standard ones is "OTHER", so that clients cannot mint label values.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// registerLimitMetrics exposes the rate limiter's Redis state: whether it
// is falling back to per-instance limits, how many requests it decided in
// process because Redis failed, and how many outages it saw.
func (m *metrics) registerLimitMetrics(r *limit.Rates) {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keyward_ratelimit_shared",
			Help: "1 when rate limits are shared through Redis (REDIS_URL set), else 0.",
		}, func() float64 { return b2f(r.Shared()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keyward_ratelimit_redis_fallback",
			Help: "1 while Redis is unreachable and rate limits are per instance, else 0.",
		}, func() float64 { return b2f(r.Degraded()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_ratelimit_fallback_decisions_total",
			Help: "Rate-limit decisions made in process because Redis was unreachable.",
		}, func() float64 { return float64(r.Fallbacks()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_ratelimit_redis_outages_total",
			Help: "Times Redis stopped answering the rate limiter.",
		}, func() float64 { return float64(r.Outages()) }),
	)
}
