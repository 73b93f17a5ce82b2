package notify_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/notify"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// TestSignatureSpecVector: the signing matches the Standard Webhooks
// specification's published example and the independent verifier agrees.
func TestSignatureSpecVector(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	h, err := notify.SignatureHeaders(id, time.Unix(1614265330, 0), []byte(body), secret)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Get("webhook-signature"); got != want {
		t.Fatalf("signature %q, want the spec's %q", got, want)
	}
	if h.Get("webhook-id") != id || h.Get("webhook-timestamp") != "1614265330" {
		t.Fatalf("headers %v", h)
	}
	if !verifySignature(secret, id, "1614265330", []byte(body), want) {
		t.Fatal("the independent verifier refuses the spec's example")
	}
	if verifySignature(secret, id, "1614265331", []byte(body), want) || verifySignature(secret, id, "1614265330", []byte(body+" "), want) {
		t.Fatal("the independent verifier accepts a changed timestamp or body")
	}
}

// TestWebhookDeliveredSignedOnce: a key change reaches a real HTTP receiver
// once, in the Standard Webhooks envelope, with headers and a signature that
// both an independent verifier and the reference library accept; endpoints
// get only the events they subscribe to. Both dialects (one worker on SQLite).
func TestWebhookDeliveredSignedOnce(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		rcv := newReceiver(t)
		ep, secret := f.addEndpoint(t, rcv.URL, "api_key.*")
		rcv.secrets = []string{secret}
		other := newReceiver(t)
		f.addEndpoint(t, other.URL, "member.added")
		w := f.worker(t, notify.Options{Poll: 20 * time.Millisecond}, false)
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { w.Run(wctx); close(done) }()
		defer func() { stop(); <-done }()

		k, raw := f.createKey(t, "Billing", nil)
		var got received
		select {
		case got = <-rcv.ch:
		case <-time.After(10 * time.Second):
			t.Fatal("no webhook within 10s")
		}
		if !got.Verified {
			t.Fatalf("signature %q does not verify independently", got.Signature)
		}
		hdr := http.Header{}
		hdr.Set("webhook-id", got.ID)
		hdr.Set("webhook-timestamp", got.Timestamp)
		hdr.Set("webhook-signature", got.Signature)
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.VerifyIgnoringTimestamp(got.Body, hdr); err != nil {
			t.Fatalf("reference library: %v", err)
		}
		typ, data := envelope(t, got.Body)
		if typ != "api_key.created" || data["id"] != k.PublicID || data["name"] != "Billing" || !strings.HasPrefix(got.ID, "evt_") {
			t.Fatalf("webhook %s %s: %v", got.ID, typ, data)
		}
		if strings.Contains(string(got.Body), raw) || strings.Contains(string(got.Body), k.KeyHash) {
			t.Fatal("the webhook carries the raw key or its hash")
		}
		waitFor(t, "the delivery to be recorded", 5*time.Second, func() bool {
			ds := deliveries(t, f.st, f.team.ID, ep.ID)
			return len(ds) == 1 && ds[0].Status == model.DeliverySucceeded
		})
		ds := deliveries(t, f.st, f.team.ID, ep.ID)
		if ds[0].Attempts != 1 || ds[0].ResponseStatus != http.StatusNoContent {
			t.Fatalf("delivery %+v", ds[0])
		}
		if n := len(other.counts()); n != 0 {
			t.Fatalf("an endpoint subscribed to member.added got %d api_key events", n)
		}
		if c := rcv.counts(); len(c) != 1 {
			t.Fatalf("receiver got %v, want one event once", c)
		}
	})
}

// TestRetriesWithBackoffUntilSuccess: a receiver failing 3 times gets the
// event on the 4th attempt, each retry due only after its backoff (moved by
// the injected clock), all with the same webhook-id.
func TestRetriesWithBackoffUntilSuccess(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, testdb.Postgres(t))
	rcv := newReceiver(t)
	rcv.fail = 3
	ep, secret := f.addEndpoint(t, rcv.URL, "api_key.created")
	rcv.secrets = []string{secret}
	w := f.worker(t, notify.Options{}, false)
	f.createKey(t, "Billing", nil)

	attempt := func(n int) model.Delivery {
		t.Helper()
		w.Tick(ctx)
		w.Wait()
		ds := deliveries(t, f.st, f.team.ID, ep.ID)
		if len(ds) != 1 || ds[0].Attempts != n {
			t.Fatalf("attempt %d: deliveries %+v", n, ds)
		}
		return ds[0]
	}
	for n := 1; n <= 3; n++ {
		d := attempt(n)
		if d.Status != model.DeliveryPending || d.ResponseStatus != http.StatusServiceUnavailable {
			t.Fatalf("attempt %d: %+v", n, d)
		}
		wait := d.NextAttemptAt.Sub(f.clock.Now())
		base := 30 * time.Second << (n - 1)
		if wait < base*3/4-time.Second || wait > base*5/4+time.Second {
			t.Fatalf("attempt %d: next in %s, want %s ± 25%%", n, wait, base)
		}
		// Not due yet: a tick just before the backoff ends sends nothing.
		f.clock.Add(wait - 2*time.Second)
		w.Tick(ctx)
		w.Wait()
		if got := deliveries(t, f.st, f.team.ID, ep.ID)[0].Attempts; got != n {
			t.Fatalf("retried before the backoff ended (attempts %d)", got)
		}
		f.clock.Add(3 * time.Second)
	}
	d := attempt(4)
	if d.Status != model.DeliverySucceeded {
		t.Fatalf("4th attempt: %+v", d)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != 4 {
		t.Fatalf("receiver saw %d requests, want 4", len(rcv.got))
	}
	for _, g := range rcv.got {
		if g.ID != rcv.got[0].ID || !g.Verified {
			t.Fatalf("retries differ in webhook-id or fail verification: %+v", g)
		}
	}
}

// TestGivesUpAfterThreeDaysAndDisablesAfterFive: a receiver that always
// fails is retried for about 3 days, then the delivery fails; an endpoint
// failing for 5 days is disabled, with a webhook_endpoint.disabled event.
func TestGivesUpAfterThreeDaysAndDisablesAfterFive(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, testdb.Postgres(t))
	rcv := newReceiver(t)
	rcv.fail = 1 << 30
	ep, _ := f.addEndpoint(t, rcv.URL, "api_key.created")
	w := f.worker(t, notify.Options{}, false)
	f.createKey(t, "Billing", nil)
	start := f.clock.Now()
	attempts := 0
	for f.clock.Now().Sub(start) < 80*time.Hour {
		w.Tick(ctx)
		w.Wait()
		d := deliveries(t, f.st, f.team.ID, ep.ID)[0]
		attempts = d.Attempts
		if d.Status == model.DeliveryFailed {
			break
		}
		f.clock.Add(d.NextAttemptAt.Sub(f.clock.Now()) + time.Second)
	}
	d := deliveries(t, f.st, f.team.ID, ep.ID)[0]
	spent := f.clock.Now().Sub(start)
	if d.Status != model.DeliveryFailed || spent < 48*time.Hour || spent > 73*time.Hour || attempts < 10 {
		t.Fatalf("gave up after %s and %d attempts (status %s); want about 3 days", spent, attempts, d.Status)
	}
	eps, _ := f.st.FindEndpoints(ctx, f.team.ID)
	if !eps[0].Enabled {
		t.Fatal("disabled before 5 days of failures")
	}
	// Day 5: another event fails too; the endpoint is disabled.
	f.clock.Add(5*24*time.Hour - spent + time.Minute)
	f.createKey(t, "Later", nil)
	w.Tick(ctx)
	w.Wait()
	waitFor(t, "the endpoint to be disabled", 5*time.Second, func() bool {
		eps, _ := f.st.FindEndpoints(ctx, f.team.ID)
		return !eps[0].Enabled
	})
	evs, _ := f.st.FindEvents(ctx, store.EventFilter{TeamID: f.team.ID, Type: model.EventEndpointDisabled})
	if len(evs) != 1 || evs[0].TargetID != ep.PublicID {
		t.Fatalf("disabled events %+v", evs)
	}
	// A disabled endpoint gets no new deliveries.
	before := len(deliveries(t, f.st, f.team.ID, ep.ID))
	f.createKey(t, "After", nil)
	w.Tick(ctx)
	w.Wait()
	if n := len(deliveries(t, f.st, f.team.ID, ep.ID)); n != before {
		t.Fatalf("a disabled endpoint got %d new deliveries", n-before)
	}
}

// TestTwoInstancesDeliverEachEventOnce: two workers on two stores (two
// instances) share one PostgreSQL queue; each of 150 events reaches the
// receiver exactly once.
func TestTwoInstancesDeliverEachEventOnce(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	f := newFixture(t, dsn)
	rcv := newReceiver(t)
	_, secret := f.addEndpoint(t, rcv.URL, "api_key.created")
	rcv.secrets = []string{secret}
	st2 := openStore(t, dsn, f.clock)
	w1 := f.worker(t, notify.Options{Poll: 10 * time.Millisecond}, false)
	f2 := *f
	f2.st = st2
	w2 := f2.worker(t, notify.Options{Poll: 10 * time.Millisecond}, false)
	const n = 150
	for i := 0; i < n; i++ {
		f.createKey(t, "k", nil)
	}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range []*notify.Worker{w1, w2} {
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(wctx) }()
	}
	waitFor(t, "every event", 30*time.Second, func() bool { return len(rcv.counts()) == n })
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
	stop()
	wg.Wait()
	for id, c := range rcv.counts() {
		if c != 1 {
			t.Fatalf("event %s delivered %d times", id, c)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, g := range rcv.got {
		if !g.Verified {
			t.Fatal("a delivery failed verification")
		}
	}
}

// TestClaimedByDeadInstanceIsDeliveredByAnother: an instance that claims
// deliveries and dies before sending them leaves them to another instance
// once the claim's lease runs out: at least once.
func TestClaimedByDeadInstanceIsDeliveredByAnother(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	f := newFixture(t, dsn)
	rcv := newReceiver(t)
	f.addEndpoint(t, rcv.URL, "api_key.created")
	for i := 0; i < 5; i++ {
		f.createKey(t, "k", nil)
	}
	// Instance A fans out and claims, then dies without sending.
	dead := openStore(t, dsn, f.clock)
	if _, err := dead.DispatchEvents(ctx, 100, nil); err != nil {
		t.Fatal(err)
	}
	jobs, err := dead.ClaimDeliveries(ctx, 100, time.Minute, nil)
	if err != nil || len(jobs) != 5 {
		t.Fatalf("claimed %d, %v", len(jobs), err)
	}
	dead.Close()
	// Instance B finds nothing due while the lease holds…
	w := f.worker(t, notify.Options{Lease: time.Minute}, false)
	w.Tick(ctx)
	w.Wait()
	if n := len(rcv.counts()); n != 0 {
		t.Fatalf("%d delivered during another's lease", n)
	}
	// …and delivers all once it ends.
	f.clock.Add(time.Minute + time.Second)
	w.Tick(ctx)
	w.Wait()
	waitFor(t, "the orphaned deliveries", 10*time.Second, func() bool { return len(rcv.counts()) == 5 })
}

// TestSlowEndpointDoesNotDelayOthers: an endpoint that never answers holds
// at most its share of the worker; a healthy endpoint's events all arrive
// meanwhile.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, testdb.Postgres(t))
	slow := newReceiver(t)
	slow.hold = make(chan struct{})
	fast := newReceiver(t)
	f.addEndpoint(t, slow.URL, "api_key.created")
	f.addEndpoint(t, fast.URL, "api_key.created")
	w := f.worker(t, notify.Options{Poll: 10 * time.Millisecond, Concurrency: 8, PerEndpoint: 4, Timeout: 30 * time.Second}, false)
	const n = 40
	for i := 0; i < n; i++ {
		f.createKey(t, "k", nil)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	start := time.Now()
	// Each event makes two deliveries; the fast endpoint's 40 must not wait
	// for the 30 s timeout of the slow one's.
	waitFor(t, "the fast endpoint's events", 15*time.Second, func() bool { return len(fast.counts()) == n })
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("fast endpoint took %s", took)
	}
	close(slow.hold)
	stop()
	<-done
}

// TestPrivateTargetsRefused: URLs on loopback, private, link-local and
// metadata addresses are refused when entered; a stored endpoint whose name
// resolves to loopback at delivery time is refused by the dialer, after DNS
// resolution; redirects are not followed.
func TestPrivateTargetsRefused(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{
		"https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://172.16.0.5/", "https://192.168.1.1/",
		"https://169.254.169.254/latest/meta-data", "https://[::1]/", "https://[fd00::1]/", "https://[::ffff:127.0.0.1]/",
		"https://localhost/hook", "https://api.localhost/", "https://0.0.0.0/", "http://example.com/hook",
		"ftp://example.com/", "https://user:pw@example.com/", "not a url",
	} {
		if _, err := notify.CheckEndpointURL(ctx, u, false); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("%s: %v, want EINVALID", u, err)
		}
	}
	if got, err := notify.CheckEndpointURL(ctx, " https://203.0.113.10/hooks?x=1 ", false); err != nil || got != "https://203.0.113.10/hooks?x=1" {
		t.Errorf("public address: %q %v", got, err)
	}
	if _, err := notify.CheckEndpointURL(ctx, "http://127.0.0.1:9/hook", true); err != nil {
		t.Errorf("allowed private: %v", err)
	}

	f := newFixture(t, testdb.Postgres(t))
	rcv := newReceiver(t)
	port := rcv.URL[strings.LastIndex(rcv.URL, ":"):]
	// "localhost" passes no URL check here (stored directly), as if DNS had
	// answered a public address when the URL was entered.
	ep, _ := f.addEndpoint(t, "http://localhost"+port+"/hook", "api_key.created")
	redirect := newReceiver(t)
	redirect.Config.Handler = http.RedirectHandler(rcv.URL, http.StatusTemporaryRedirect)
	rep, _ := f.addEndpoint(t, redirect.URL, "api_key.created")
	w := f.worker(t, notify.Options{}, true)
	f.createKey(t, "Billing", nil)
	w.Tick(ctx)
	w.Wait()
	if d := deliveries(t, f.st, f.team.ID, ep.ID)[0]; !strings.Contains(d.LastError, "refused") || d.Status != model.DeliveryPending {
		t.Fatalf("delivery to loopback: %+v", d)
	}
	if d := deliveries(t, f.st, f.team.ID, rep.ID)[0]; !strings.Contains(d.LastError, "refused") {
		t.Fatalf("delivery to the redirecting loopback receiver: %+v", d)
	}
	if len(rcv.counts()) != 0 {
		t.Fatal("the loopback receiver was reached")
	}

	// With private targets allowed, the redirect is still not followed.
	w2 := f.worker(t, notify.Options{}, false)
	f.clock.Add(time.Hour)
	w2.Tick(ctx)
	w2.Wait()
	if d := deliveries(t, f.st, f.team.ID, rep.ID)[0]; d.Status != model.DeliveryPending || d.ResponseStatus != http.StatusTemporaryRedirect {
		t.Fatalf("a redirect counted as delivered: %+v", d)
	}
	if len(rcv.counts()) != 1 {
		t.Fatal("the loopback receiver was not reached with private targets allowed")
	}
}

// TestRotatedSecretSignsWithBoth: after a rotation deliveries carry one
// signature per secret for 24 hours, then only the new one.
func TestRotatedSecretSignsWithBoth(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, testdb.Postgres(t))
	rcv := newReceiver(t)
	ep, oldSecret := f.addEndpoint(t, rcv.URL, "api_key.created")
	next, _ := notify.NewSecret()
	sealed, kid, _ := f.box.Seal(next)
	if _, err := f.st.RotateEndpointSecret(ctx, f.team.ID, ep.PublicID, store.EndpointSecret{Sealed: sealed, KeyID: kid}, 24*time.Hour, f.actor); err != nil {
		t.Fatal(err)
	}
	w := f.worker(t, notify.Options{}, false)
	f.createKey(t, "one", nil)
	w.Tick(ctx)
	w.Wait()
	g := <-rcv.ch
	if strings.Count(g.Signature, "v1,") != 2 || !verifySignature(oldSecret, g.ID, g.Timestamp, g.Body, g.Signature) || !verifySignature(next, g.ID, g.Timestamp, g.Body, g.Signature) {
		t.Fatalf("during the grace window: %q", g.Signature)
	}
	f.clock.Add(24*time.Hour + time.Second)
	f.createKey(t, "two", nil)
	w.Tick(ctx)
	w.Wait()
	g = <-rcv.ch
	if strings.Count(g.Signature, "v1,") != 1 || verifySignature(oldSecret, g.ID, g.Timestamp, g.Body, g.Signature) || !verifySignature(next, g.ID, g.Timestamp, g.Body, g.Signature) {
		t.Fatalf("after the grace window: %q", g.Signature)
	}
}
