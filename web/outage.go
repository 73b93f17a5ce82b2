package web

import (
	"context"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/verify"
)

// outage keeps a database outage quiet in the logs: the first request
// refused because the database is unreachable logs the outage once (with
// its error), each refusal is logged at debug level only, and a watcher
// pings the database until it answers, then logs the end once with the
// number of requests refused meanwhile. The refusals are also counted in
// metrics.
type outage struct {
	s *Server

	mu      sync.Mutex
	active  bool
	since   time.Time
	refused int64
	stop    chan struct{}
	stopped bool
	wg      sync.WaitGroup

	total prometheus.Counter
	down  prometheus.Gauge
}

// outagePing is how often the watcher asks the database during an outage.
const outagePing = 250 * time.Millisecond

func newOutage(s *Server) *outage {
	return &outage{s: s, stop: make(chan struct{}),
		total: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyward_unavailable_refusals_total",
			Help: "Requests refused with 503 because the database was unreachable.",
		}),
		down: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyward_database_outage",
			Help: "1 while requests are being refused because the database is unreachable, else 0.",
		}),
	}
}

func (o *outage) collectors() []prometheus.Collector { return []prometheus.Collector{o.total, o.down} }

// refuse notes a request refused with err (EUNAVAILABLE).
func (o *outage) refuse(c echo.Context, err error) {
	o.total.Inc()
	o.mu.Lock()
	o.refused++
	start := !o.active && !o.stopped
	if start {
		o.active, o.since = true, time.Now()
		o.wg.Add(1)
	}
	o.mu.Unlock()
	o.s.logger(c).Debug("request refused: database unreachable", "err", err)
	if start {
		o.down.Set(1)
		o.s.log.Error("database unreachable: refusing requests that need it until it answers (each refusal is logged at debug level)", "err", err)
		go o.watch()
	}
}

// watch pings the database until it answers, then ends the outage.
func (o *outage) watch() {
	defer o.wg.Done()
	t := time.NewTicker(outagePing)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := o.s.store.Ping(ctx)
		cancel()
		if err != nil {
			continue
		}
		o.mu.Lock()
		n, since := o.refused, o.since
		o.active, o.refused = false, 0
		o.mu.Unlock()
		o.down.Set(0)
		o.s.log.Info("database reachable again", "refused", n, "down_for", time.Since(since).Round(time.Millisecond).String())
		return
	}
}

// close stops the watcher (the server is closing).
func (o *outage) close(context.Context) error {
	o.mu.Lock()
	if !o.stopped {
		o.stopped = true
		close(o.stop)
	}
	o.mu.Unlock()
	o.wg.Wait()
	return nil
}

// verifierCollectors expose the verify cache's counters and the
// recorder's.
func verifierCollectors(v *verify.Verifier, r *verify.Recorder) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_usage_batches_written_total",
			Help: "Batches of key uses (last used, daily counts) written to the database: one UPDATE and one upsert each, however many requests they hold.",
		}, func() float64 { return float64(r.Written()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_verify_stale_served_total",
			Help: "Key checks answered from a cached entry past its TTL because the database was unreachable (KEYWARD_CACHE_STALE_IF_ERROR).",
		}, func() float64 { return float64(v.Stats().StaleServed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_verify_negative_hits_total",
			Help: "Checks of unknown keys answered from the short-lived \"not found\" cache without asking the database.",
		}, func() float64 { return float64(v.Stats().NegativeHits) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "keyward_verify_cached_keys",
			Help: "Keys in the verify cache.",
		}, func() float64 { return float64(v.Stats().Cached) }),
	}
}
