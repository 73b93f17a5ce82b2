package verify_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/internal/verify"
	"github.com/keyward/keyward/internal/verify/verifytest"

	"github.com/keyward/keyward/internal/model"
)

// instanceB is a second instance on the fixture's database: its own store
// and verifier, and a listener that reaches the database through a proxy
// the test can cut.
func instanceB(t *testing.T, f *fixture, dsn string, tune ...func(*verify.Listener)) (*verify.Verifier, *verify.Listener, *verifytest.Proxy) {
	t.Helper()
	st := openStore(t, dsn, f.clock)
	v := verify.New(st, verify.Options{TTL: time.Hour, Now: f.clock.Now})
	proxy, viaProxy := verifytest.Start(t, dsn)
	l := verify.NewListener(viaProxy, v, slog.New(slog.DiscardHandler))
	l.MinBackoff, l.MaxBackoff, l.PingEvery = 10*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond
	for _, fn := range tune {
		fn(l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("listener: %v", err)
		}
	})
	waitFor(t, "the listener to connect", l.Connected)
	return v, l, proxy
}

// cacheOn checks each raw key on v until all of them are cached: a check
// that races with the NOTIFY of its key's creation is answered but not
// cached.
func cacheOn(t *testing.T, v *verify.Verifier, raws ...string) {
	t.Helper()
	waitFor(t, "the keys to be cached", func() bool {
		for _, r := range raws {
			if _, err := v.Check(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
		return v.Cached() >= len(raws)
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// refusedWithin checks raw on v until it is refused, failing after limit.
func refusedWithin(t *testing.T, v *verify.Verifier, raw string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := v.Check(context.Background(), raw)
		if errors.Is(err, verify.ErrInvalid) {
			return time.Since(start)
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > limit {
			t.Fatalf("instance B still accepts the key %s after the change on A", limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestListenerInvalidatesOtherInstances(t *testing.T) {
	dsn := testdb.Postgres(t)
	a := newFixture(t, dsn)
	vb, _, _ := instanceB(t, a, dsn)
	k, raw := a.key(t, model.PermReadAll, nil, nil)
	if _, err := vb.Check(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.RevokeKey(context.Background(), a.team.ID, k.PublicID, a.actor); err != nil {
		t.Fatal(err)
	}
	took := refusedWithin(t, vb, raw, time.Second)
	t.Logf("revoked on A, refused on B after %s", took)
}

func TestListenerSurvivesIdlePings(t *testing.T) {
	dsn := testdb.Postgres(t)
	a := newFixture(t, dsn)
	vb, l, proxy := instanceB(t, a, dsn)
	time.Sleep(3 * l.PingEvery) // several wait timeouts and pings
	if n := proxy.Count("LISTEN"); !l.Connected() || n != 1 {
		t.Fatalf("the listener reconnected while idle (LISTEN sent %d times)", n)
	}
	if n := proxy.Count("-- ping"); n < 2 {
		t.Fatalf("the idle listener pinged %d times in 3 intervals", n)
	}
	k, raw := a.key(t, model.PermReadAll, nil, nil)
	if _, err := vb.Check(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.RevokeKey(context.Background(), a.team.ID, k.PublicID, a.actor); err != nil {
		t.Fatal(err)
	}
	refusedWithin(t, vb, raw, time.Second)
}

func TestListenerReconnectPurgesCache(t *testing.T) {
	dsn := testdb.Postgres(t)
	a := newFixture(t, dsn)
	// This test is about the purge on reconnect: the backstop, which would
	// purge earlier, reads the change count too seldom to matter here.
	vb, l, proxy := instanceB(t, a, dsn, func(l *verify.Listener) { l.PollEvery = time.Hour })
	k, raw := a.key(t, model.PermReadAll, nil, nil)
	_, other := a.key(t, model.PermReadAll, nil, nil)
	cacheOn(t, vb, raw, other)
	// The revocation's NOTIFY is lost while B's listener is cut off…
	proxy.SetDown(true)
	waitFor(t, "the listener to notice", func() bool { return !l.Connected() })
	if _, err := a.st.RevokeKey(context.Background(), a.team.ID, k.PublicID, a.actor); err != nil {
		t.Fatal(err)
	}
	if _, err := vb.Check(context.Background(), raw); err != nil {
		t.Fatalf("B refused before hearing of the change (%v): the test cannot tell a purge from a notification", err)
	}
	// …so reconnecting empties B's cache, and B reads the key again.
	proxy.SetDown(false)
	waitFor(t, "the listener to reconnect", l.Connected)
	if _, err := vb.Check(context.Background(), raw); !errors.Is(err, verify.ErrInvalid) {
		t.Fatalf("after reconnecting, B still accepts the key revoked meanwhile: %v", err)
	}
	if _, err := vb.Check(context.Background(), other); err != nil {
		t.Fatalf("an untouched key after the purge: %v", err)
	}
}

// While the listener cannot reconnect but the store answers, the backstop
// bounds how long B accepts a key revoked on A: it reads the change count
// every PollEvery and empties B's cache when it moves.
func TestBackstopBoundsLagWhileListenerIsDown(t *testing.T) {
	dsn := testdb.Postgres(t)
	a := newFixture(t, dsn)
	vb, l, proxy := instanceB(t, a, dsn)
	k, raw := a.key(t, model.PermReadAll, nil, nil)
	_, other := a.key(t, model.PermReadAll, nil, nil)
	cacheOn(t, vb, raw, other)
	proxy.SetDown(true)
	waitFor(t, "the listener to notice", func() bool { return !l.Connected() })
	// Let the backstop's first purge after the break pass, and B cache the
	// key again: only the change count can tell B of the revoke now.
	time.Sleep(2 * l.PollEvery)
	if _, err := vb.Check(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.RevokeKey(context.Background(), a.team.ID, k.PublicID, a.actor); err != nil {
		t.Fatal(err)
	}
	took := refusedWithin(t, vb, raw, time.Second)
	if l.Connected() {
		t.Fatal("the listener reconnected through a cut proxy")
	}
	if _, err := vb.Check(context.Background(), other); err != nil {
		t.Fatalf("an untouched key after the backstop's purge: %v", err)
	}
	t.Logf("revoked on A with B's listener down, refused on B after %s", took)
}
