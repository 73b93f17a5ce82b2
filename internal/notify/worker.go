// Package notify turns keyward's events into notifications. Events are
// written to an outbox table by the store, in the transaction of the change
// they report. The Worker, one on every instance, fans new events out into
// deliveries (webhook endpoints, e-mail), claims due deliveries with FOR
// UPDATE SKIP LOCKED and sends them, retrying with exponential backoff and
// jitter, in the shape of river's and Oban's job queues. The Scanner emits
// expiry reminders and the weekly rotation digest. Nothing here imports Echo or templ.
package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/secretbox"
	"github.com/keyward/keyward/internal/store"
)

// Options tune a Worker. Zero values take the defaults in brackets.
type Options struct {
	// Now is the clock (time.Now); the store's clock should agree with it.
	Now    func() time.Time
	Logger *slog.Logger
	// Box opens endpoint secrets; without one webhook attempts fail with
	// a message naming KEYWARD_ENCRYPTION_KEY.
	Box *secretbox.Box
	// Mailer sends e-mail; nil turns e-mail off.
	Mailer Mailer
	// BaseURL is the dashboard's public URL, for links in e-mails.
	BaseURL string
	// AllowPrivate lets webhooks reach loopback and private addresses.
	AllowPrivate bool
	// Concurrency is how many deliveries run at once (32).
	Concurrency int
	// PerEndpoint caps the deliveries in flight to one endpoint (8), so a
	// slow endpoint cannot take every slot.
	PerEndpoint int
	// Timeout bounds one webhook attempt (10s).
	Timeout time.Duration
	// Poll is how often the queue is looked at without a wake-up (1s).
	Poll time.Duration
	// Lease is how long a claimed delivery is kept from other workers (1m);
	// a worker that dies leaves its claims to others after it.
	Lease time.Duration
	// RetryFor is how long after its first try a delivery is retried (72h).
	RetryFor time.Duration
	// DisableAfter disables an endpoint failing for this long (120h).
	DisableAfter time.Duration
	// Registerer receives the queue metrics; none when nil.
	Registerer prometheus.Registerer
	// TLSConfig is for webhook connections (system roots when nil).
	TLSConfig *tls.Config
}

// Worker delivers webhooks and e-mail from the queue.
type Worker struct {
	st     *store.Store
	o      Options
	log    *slog.Logger
	client *http.Client
	m      *metrics

	wake chan struct{}

	mu       sync.Mutex
	inflight map[int64]int // endpoint id (0 for e-mail) → deliveries in flight
	running  int
	wg       sync.WaitGroup
}

// NewWorker returns a worker over st. Start it with Run.
func NewWorker(st *store.Store, o Options) (*Worker, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, 10*time.Second)
	def(&o.Poll, time.Second)
	def(&o.Lease, time.Minute)
	def(&o.RetryFor, 72*time.Hour)
	def(&o.DisableAfter, 120*time.Hour)
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.PerEndpoint <= 0 {
		o.PerEndpoint = 8
	}
	tr := &http.Transport{
		DialContext:           guardedDialer(o.AllowPrivate, o.Timeout).DialContext,
		TLSClientConfig:       o.TLSConfig,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   o.PerEndpoint,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		// No proxy from the environment: a proxy would dial the target
		// itself, out of reach of the address check.
		Proxy: nil,
	}
	w := &Worker{st: st, o: o, log: o.Logger, wake: make(chan struct{}, 1), inflight: map[int64]int{}}
	w.client = &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		// Redirects are not followed: a 3xx is a failed attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	w.m = newMetrics(o.Registerer, st)
	st.OnEvents(w.Wake)
	return w, nil
}

// Wake makes the worker look at the queue now.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run works the queue until ctx ends, then waits for the attempts in flight.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			w.wg.Wait()
			return
		case <-w.wake:
		case <-t.C:
		}
		w.Tick(ctx)
		t.Reset(w.o.Poll)
	}
}

// Wait blocks until the attempts in flight have finished.
func (w *Worker) Wait() { w.wg.Wait() }

// Tick dispatches new events and starts the due deliveries that fit in the
// free slots. Tests call it to drive the worker step by step.
func (w *Worker) Tick(ctx context.Context) {
	for {
		n, err := w.st.DispatchEvents(ctx, 200, w.mailTypes())
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("webhooks: dispatching events failed", "err", err)
			}
			break
		}
		if n < 200 {
			break
		}
	}
	for ctx.Err() == nil {
		w.mu.Lock()
		free := w.o.Concurrency - w.running
		var skip []int64
		for id, n := range w.inflight {
			if id != 0 && n >= w.o.PerEndpoint {
				skip = append(skip, id)
			}
		}
		w.mu.Unlock()
		// Claims come in batches no larger than one endpoint's share, so one
		// endpoint's backlog cannot fill every slot before it is skipped.
		batch := min(free, w.o.PerEndpoint)
		if batch <= 0 {
			return
		}
		jobs, err := w.st.ClaimDeliveries(ctx, batch, w.o.Lease, skip)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("webhooks: claiming deliveries failed", "err", err)
			}
			return
		}
		for _, j := range jobs {
			w.start(ctx, j)
		}
		if len(jobs) < batch {
			return
		}
	}
}

func (w *Worker) mailTypes() map[string]bool {
	if w.o.Mailer == nil {
		return nil
	}
	return MailTypes
}

func endpointKey(j model.DeliveryJob) int64 {
	if j.Delivery.EndpointID != nil {
		return *j.Delivery.EndpointID
	}
	return 0
}

func (w *Worker) start(ctx context.Context, j model.DeliveryJob) {
	key := endpointKey(j)
	w.mu.Lock()
	w.running++
	w.inflight[key]++
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.Deliver(context.WithoutCancel(ctx), j)
		w.mu.Lock()
		w.running--
		if w.inflight[key]--; w.inflight[key] <= 0 {
			delete(w.inflight, key)
		}
		w.mu.Unlock()
		w.Wake()
	}()
}

// Deliver makes one attempt at a claimed delivery and records its outcome.
func (w *Worker) Deliver(ctx context.Context, j model.DeliveryJob) {
	start := time.Now()
	var r model.DeliveryResult
	switch j.Delivery.Kind {
	case model.DeliveryEmail:
		r = w.sendMail(ctx, j)
	default:
		r = w.post(ctx, j)
	}
	r.Duration = time.Since(start)
	if !r.OK {
		r.NextAttemptAt = w.nextAttempt(j.Delivery)
	}
	w.m.observe(j.Delivery.Kind, r)
	disabled, err := w.st.FinishDelivery(ctx, j.Delivery.ID, r, w.o.DisableAfter)
	if err != nil {
		// The lease runs out and another attempt follows: at least once.
		w.log.Warn("webhooks: recording a delivery failed", "delivery_id", j.Delivery.ID, "err", err)
		return
	}
	if disabled {
		w.m.disabled.Inc()
		w.log.Warn("webhooks: endpoint disabled after failing for too long", "endpoint_id", j.Endpoint.PublicID, "team_id", j.Delivery.TeamID)
	}
}

// Backoff is the delay before retry n (1-based): 30 s doubled each time, at
// most 12 h, with ±25 % jitter so retries of many deliveries spread out.
func Backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < 12*time.Hour; i++ {
		d *= 2
	}
	d = min(d, 12*time.Hour)
	jitter := time.Duration((rand.Float64()*0.5 - 0.25) * float64(d)) // #nosec G404 -- jitter, not a secret
	return d + jitter
}

// nextAttempt is when to retry d, or nil once RetryFor has passed since it
// was first tried.
func (w *Worker) nextAttempt(d model.Delivery) *time.Time {
	now := w.o.Now()
	next := now.Add(Backoff(d.Attempts))
	if next.After(d.CreatedAt.Add(w.o.RetryFor)) {
		return nil
	}
	return &next
}

func (w *Worker) post(ctx context.Context, j model.DeliveryJob) model.DeliveryResult {
	ep := j.Endpoint
	if ep == nil {
		return model.DeliveryResult{Error: "the endpoint was deleted"}
	}
	if !ep.Enabled && j.Event.Type != model.EventEndpointTest {
		return model.DeliveryResult{Error: "the endpoint is disabled"}
	}
	if w.o.Box == nil {
		return model.DeliveryResult{Error: "KEYWARD_ENCRYPTION_KEY is not set, so the endpoint's secret cannot be opened"}
	}
	now := w.o.Now()
	secret, err := w.o.Box.Open(ep.Secret, ep.SecretKeyID)
	if err != nil {
		return model.DeliveryResult{Error: "cannot open the endpoint's secret: " + err.Error()}
	}
	secrets := []string{secret}
	if ep.OldSecret != "" && ep.OldSecretExpiresAt != nil && ep.OldSecretExpiresAt.After(now) {
		if old, err := w.o.Box.Open(ep.OldSecret, ep.OldSecretKeyID); err == nil {
			secrets = append(secrets, old)
		}
	}
	body, err := Body(j.Event)
	if err != nil {
		return model.DeliveryResult{Error: err.Error()}
	}
	hdr, err := SignatureHeaders(j.Event.PublicID, now, body, secrets...)
	if err != nil {
		return model.DeliveryResult{Error: err.Error()}
	}
	rctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return model.DeliveryResult{Error: err.Error()}
	}
	req.Header = hdr
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "keyward-webhooks/1")
	resp, err := w.client.Do(req)
	if err != nil {
		return model.DeliveryResult{Error: describeHTTPError(err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r := model.DeliveryResult{ResponseStatus: resp.StatusCode, OK: resp.StatusCode >= 200 && resp.StatusCode < 300}
	if !r.OK {
		r.Error = fmt.Sprintf("the endpoint answered %d", resp.StatusCode)
	}
	return r
}

func describeHTTPError(err error) string {
	switch {
	case errors.Is(err, ErrPrivateTarget):
		return ErrPrivateTarget.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer within the timeout"
	}
	return err.Error()
}

func (w *Worker) sendMail(ctx context.Context, j model.DeliveryJob) model.DeliveryResult {
	if w.o.Mailer == nil {
		return model.DeliveryResult{OK: true, Error: "e-mail is off"}
	}
	rcpts, err := w.st.FindRecipients(ctx, j.Delivery.TeamID)
	if err != nil {
		return model.DeliveryResult{Error: err.Error()}
	}
	var to []string
	for _, r := range rcpts {
		if r.RemindersOff && IsReminder(j.Event.Type) {
			continue
		}
		to = append(to, r.Email)
	}
	if len(to) == 0 {
		return model.DeliveryResult{OK: true}
	}
	// An earlier attempt may have reached some of them before another
	// address failed: those are recorded and left out now.
	sent, err := w.st.FindMailSent(ctx, j.Delivery.ID)
	if err != nil {
		return model.DeliveryResult{Error: err.Error()}
	}
	var pending []string
	for _, addr := range to {
		if !sent[addr] {
			pending = append(pending, addr)
		}
	}
	if len(pending) == 0 {
		return model.DeliveryResult{OK: true}
	}
	team, err := w.st.FindTeamByID(ctx, j.Delivery.TeamID)
	if err != nil {
		return model.DeliveryResult{Error: err.Error()}
	}
	// Each person gets a message of their own: no one sees the others'
	// addresses, and one refused address does not stop the rest. Each
	// address reached is recorded before the next is tried, so a retry
	// after a failure sends only to those not reached yet. A worker that
	// stops between sending and recording may send that one mail twice
	// (at least once, like webhooks).
	var failed []string
	for _, addr := range pending {
		msg, err := ComposeEventMail(j.Event, team.Name, w.o.BaseURL, []string{addr})
		if err != nil {
			return model.DeliveryResult{Error: err.Error()}
		}
		mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = w.o.Mailer.Send(mctx, msg)
		cancel()
		if err != nil {
			failed = append(failed, addr+": "+err.Error())
			continue
		}
		if err := w.st.RecordMailSent(ctx, j.Delivery.ID, addr); err != nil {
			// The mail went out; unrecorded, a retry may send it again.
			w.log.Warn("e-mail: recording a sent mail failed", "delivery_id", j.Delivery.ID, "err", err)
		}
	}
	if len(failed) > 0 {
		return model.DeliveryResult{Error: fmt.Sprintf("sending e-mail to %d of %d: %s", len(failed), len(to), strings.Join(failed, "; "))}
	}
	return model.DeliveryResult{OK: true}
}
