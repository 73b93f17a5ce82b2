package web

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
)

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// accessSkipped counts requests the access log policy left unlogged.
	accessSkipped prometheus.Counter
	// accessSuppressed counts the 4xx lines over the per-second cap.
	accessSuppressed prometheus.Counter
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
	m.accessSuppressed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "keyward_access_log_suppressed_total",
		Help: "4xx answers to machine traffic not written to the access log because more came in one second than KEYWARD_ACCESS_LOG_CLIENT_ERRORS allows (also counted in keyward_access_log_skipped_total).",
	})
	m.reg.MustRegister(m.requests, m.latency, m.accessSkipped, m.accessSuppressed,
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

// handleMetrics serves GET /metrics on the main listener, in the Prometheus
// text format, only to requests bearing KEYWARD_METRICS_TOKEN (401 without
// it). With no token configured it is not served here at all (404): the
// counters tell sign-in failures, key creations and process details that
// are nobody's business but the operator's (KEYWARD_METRICS_ADDR serves
// them on a listener of their own instead).
func (s *Server) handleMetrics(c echo.Context) error {
	if s.cfg.MetricsToken == "" {
		return echo.ErrNotFound
	}
	if !metricsAuthorized(c.Request(), s.cfg.MetricsToken) {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
		return model.Errorf(model.EUNAUTHORIZED, "Send the metrics token as Authorization: Bearer <token>.")
	}
	noStore(c)
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

// metricsAuthorized reports whether r bears token (compared in constant time).
func metricsAuthorized(r *http.Request, token string) bool {
	v := strings.TrimSpace(r.Header.Get(echo.HeaderAuthorization))
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(v[7:])), []byte(token)) == 1
}

// MetricsHandler serves GET /metrics alone, for the separate listener of
// KEYWARD_METRICS_ADDR; when KEYWARD_METRICS_TOKEN is set too, it asks for
// the token there as well. Every other path is 404.
func (s *Server) MetricsHandler() http.Handler {
	prom := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/metrics":
			http.NotFound(w, r)
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set(echo.HeaderAllow, "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		case s.cfg.MetricsToken != "" && !metricsAuthorized(r, s.cfg.MetricsToken):
			w.Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			http.Error(w, "send the metrics token as Authorization: Bearer <token>", http.StatusUnauthorized)
		default:
			w.Header().Set("Cache-Control", "no-store")
			prom.ServeHTTP(w, r)
		}
	})
}

// registerLimitMetrics exposes the rate limiter's Redis state: whether it
// is falling back to per-instance limits, how many requests it decided in
// process because Redis failed, how many outages it saw, and how many
// calls it made to Redis (against the requests it limited, the batching).
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
			Help: "Rate-limit decisions made in process because Redis was unreachable (or, rarely, no worker was free to ask it within the timeout).",
		}, func() float64 { return float64(r.Fallbacks()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_ratelimit_redis_outages_total",
			Help: "Times Redis stopped answering the rate limiter.",
		}, func() float64 { return float64(r.Outages()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_ratelimit_redis_calls_total",
			Help: "Calls made to Redis's rate limit script; each decides the requests that were waiting when it was sent.",
		}, func() float64 { return float64(r.Batches()) }),
	)
}
