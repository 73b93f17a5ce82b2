package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/notify"
	"github.com/keyward/keyward/internal/secretbox"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/web"
)

// webhookResult is the webhook delivery rate and what writing an event costs
// a key create.
type webhookResult struct {
	Deliveries int     `json:"deliveries"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	// CreateWithMs and CreateWithoutMs are the median server times of POST
	// /v1/api-keys with the outbox on and off; EventCost is their ratio − 1.
	CreateWithMs    float64 `json:"create_with_event_ms"`
	CreateWithoutMs float64 `json:"create_without_event_ms"`
	Creates         int     `json:"creates"`
	EventCost       float64 `json:"event_cost"`
}

// measureWebhooks fills the outbox with n events for one endpoint on a local
// receiver (a bare net/http handler), then times one instance's delivery
// worker (fan-out, claim, sign, POST, record) until every one has arrived.
func measureWebhooks(ctx context.Context, db *database, teamID int64, n int, log *slog.Logger) (webhookResult, error) {
	var res webhookResult
	st, err := store.Open(ctx, db.as("kwbench-webhooks"), store.Options{Logger: log})
	if err != nil {
		return res, err
	}
	defer st.Close()
	var got atomic.Int64
	done := make(chan struct{})
	rcv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("webhook-signature") == "" {
			http.Error(w, "unsigned", http.StatusBadRequest)
			return
		}
		if got.Add(1) == int64(n) {
			close(done)
		}
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	go func() { _ = rcv.Serve(ln) }()
	defer rcv.Close()

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		return res, err
	}
	secret, err := notify.NewSecret()
	if err != nil {
		return res, err
	}
	sealed, kid, err := box.Seal(secret)
	if err != nil {
		return res, err
	}
	ep := model.WebhookEndpoint{TeamID: teamID, URL: "http://" + ln.Addr().String() + "/hooks", EventTypes: []string{"api_key.rolled"}}
	if err := st.CreateEndpoint(ctx, &ep, store.EndpointSecret{Sealed: sealed, KeyID: kid}, model.Actor{Label: "bench"}); err != nil {
		return res, err
	}
	// The endpoint goes when the measurement ends: its secret is sealed with
	// a key of this run only, and an instance started later on the bench
	// database (the gateway) refuses to start beside secrets it cannot open.
	defer func() {
		_, _ = st.DeleteEndpoint(context.WithoutCancel(ctx), teamID, ep.PublicID, model.Actor{Label: "bench"})
	}()
	for i := range n {
		if _, err := st.EmitEvent(ctx, teamID, "api_key.rolled", fmt.Sprintf("key_bench%06d", i),
			map[string]any{"object": "api_key", "id": fmt.Sprintf("key_bench%06d", i), "name": "bench"}); err != nil {
			return res, err
		}
	}
	w, err := notify.NewWorker(st, notify.Options{Logger: log, Box: box, AllowPrivate: true, Concurrency: 32, PerEndpoint: 32})
	if err != nil {
		return res, err
	}
	wctx, stop := context.WithCancel(ctx)
	start := time.Now()
	go w.Run(wctx)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		stop()
		return res, fmt.Errorf("webhooks: %d of %d delivered in 5 minutes", got.Load(), n)
	case <-ctx.Done():
		stop()
		return res, ctx.Err()
	}
	took := time.Since(start)
	stop()
	w.Wait()
	res.Deliveries, res.Seconds, res.PerSecond = n, took.Seconds(), float64(n)/took.Seconds()
	return res, nil
}

// measureEventCost times POST /v1/api-keys inside two servers on the same
// database, one writing events and one with its outbox off, alternating
// requests so both see the same machine, and compares the median times.
func measureEventCost(ctx context.Context, db *database, secret, adminKey string, n int, log *slog.Logger) (with, without float64, err error) {
	mk := func(app string, skip bool) (http.Handler, func(), error) {
		dsn := db.as(app)
		st, err := store.Open(ctx, dsn, store.Options{Logger: log, SkipEvents: skip})
		if err != nil {
			return nil, nil, err
		}
		cfg := &config.Config{DatabaseURL: dsn, DataDir: os.TempDir(), Addr: "127.0.0.1:0", SessionSecret: []byte(secret),
			KeyPrefix: "kw", LastUsedFlush: time.Second, CacheTTL: 30 * time.Second, LogFormat: "json"}
		srv, err := web.New(cfg, st, web.Options{Logger: log})
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		return srv.Handler(), func() { _ = srv.Close(context.Background()); st.Close() }, nil
	}
	on, closeOn, err := mk("kwbench-events", false)
	if err != nil {
		return 0, 0, err
	}
	defer closeOn()
	off, closeOff, err := mk("kwbench-noevents", true)
	if err != nil {
		return 0, 0, err
	}
	defer closeOff()
	body := []byte(`{"name":"event cost","permission":"read_all"}`)
	call := func(h http.Handler) (time.Duration, error) {
		req := httptest.NewRequest(http.MethodPost, "/v1/api-keys", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(t0)
		if rec.Code != http.StatusCreated {
			return 0, fmt.Errorf("POST /v1/api-keys: %d %s", rec.Code, rec.Body.String())
		}
		return d, nil
	}
	// Warm both (caches, prepared statements), then alternate.
	for range 20 {
		if _, err := call(on); err != nil {
			return 0, 0, err
		}
		if _, err := call(off); err != nil {
			return 0, 0, err
		}
	}
	var ton, toff []float64
	for i := range n {
		first, second := on, off
		if i%2 == 1 {
			first, second = off, on
		}
		a, err := call(first)
		if err != nil {
			return 0, 0, err
		}
		b, err := call(second)
		if err != nil {
			return 0, 0, err
		}
		if i%2 == 1 {
			a, b = b, a
		}
		ton, toff = append(ton, ms(a)), append(toff, ms(b))
	}
	sort.Float64s(ton)
	sort.Float64s(toff)
	return median(ton), median(toff), nil
}
