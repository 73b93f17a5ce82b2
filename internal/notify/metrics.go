package notify

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

type metrics struct {
	attempts *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	disabled prometheus.Counter
}

// newMetrics registers the queue's metrics on reg (none when nil):
// attempts by kind and result, their duration, endpoints disabled, and the
// outbox and queue sizes, read from the database when scraped.
func newMetrics(reg prometheus.Registerer, st *store.Store) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_delivery_attempts_total", Help: "Webhook and e-mail delivery attempts by kind and result (ok, error).",
		}, []string{"kind", "result"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyward_delivery_attempt_seconds", Help: "Duration of delivery attempts by kind.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"kind"}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyward_webhook_endpoints_disabled_total", Help: "Webhook endpoints disabled after failing for too long.",
		}),
	}
	if reg == nil {
		return m
	}
	queue := func(name, help string, pick func(store.QueueStats) int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			s, err := st.CountQueue(ctx)
			if err != nil {
				return -1
			}
			return float64(pick(s))
		})
	}
	for _, c := range []prometheus.Collector{m.attempts, m.seconds, m.disabled,
		queue("keyward_outbox_pending_events", "Events written but not yet fanned out into deliveries.", func(s store.QueueStats) int64 { return s.EventsPending }),
		queue("keyward_deliveries_pending", "Deliveries waiting for a first or further attempt.", func(s store.QueueStats) int64 { return s.DeliveriesPending }),
		queue("keyward_deliveries_failed", "Deliveries given up after retrying.", func(s store.QueueStats) int64 { return s.DeliveriesFailed }),
	} {
		_ = reg.Register(c)
	}
	return m
}

func (m *metrics) observe(kind string, r model.DeliveryResult) {
	res := "ok"
	if !r.OK {
		res = "error"
	}
	m.attempts.WithLabelValues(kind, res).Inc()
	m.seconds.WithLabelValues(kind).Observe(r.Duration.Seconds())
}
