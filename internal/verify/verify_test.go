package verify_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/internal/verify"
	"github.com/keyward/keyward/internal/verify/verifytest"
)

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a migrated store with a team, its owner and a clock.
type fixture struct {
	st    *store.Store
	team  model.Team
	actor model.Actor
	clock *clock
}

func openStore(t testing.TB, dsn string, c *clock) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func newFixture(t testing.TB, dsn string) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	st := openStore(t, dsn, c)
	u, team, err := st.Setup(context.Background(), "owner@example.com", "hash", "Acme", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, team: team, actor: model.UserActor(u, "192.0.2.1"), clock: c}
}

// key creates a key of the team and returns it with its raw value.
func (f *fixture) key(t testing.TB, set model.PermissionSet, scopes []string, expires *time.Time) (model.APIKey, string) {
	t.Helper()
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: f.team.ID, Name: "ci", Environment: "live",
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: set, Scopes: scopes, ExpiresAt: expires}
	if err := f.st.CreateKey(context.Background(), &k, f.actor); err != nil {
		t.Fatal(err)
	}
	return k, raw
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := model.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// badChecksum returns raw with its last character changed.
func badChecksum(raw string) string {
	last := raw[len(raw)-1]
	if last == 'A' {
		return raw[:len(raw)-1] + "B"
	}
	return raw[:len(raw)-1] + "A"
}

func TestCheck(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		v := verify.New(f.st, verify.Options{TTL: time.Minute, Now: f.clock.Now})
		k, raw := f.key(t, model.PermRestricted, []string{"invoices:read", "members:write"}, nil)

		got, err := v.Check(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if got.PublicID() != k.PublicID || got.TeamID() != f.team.ID ||
			!got.Allows("invoices", model.AccessRead) || got.Allows("invoices", model.AccessWrite) ||
			!got.Allows("members", model.AccessRead) || len(got.Scopes()) != 2 {
			t.Fatalf("verified %+v", got)
		}
		if again, err := v.Check(ctx, raw); err != nil || again != got || v.Cached() != 1 {
			t.Fatalf("second check: %p %v, cached %d; want the cached %p", again, err, v.Cached(), got)
		}

		for name, bad := range map[string]string{
			"empty": "", "garbage": "hello", "bad checksum": badChecksum(raw), "padded": " " + raw,
		} {
			if got, err := v.Check(ctx, bad); got != nil || !errors.Is(err, verify.ErrInvalid) {
				t.Fatalf("%s: %v %v, want ErrInvalid", name, got, err)
			}
		}
		unknown, _ := keys.Generate("kw", "live")
		if got, err := v.Check(ctx, unknown); got != nil || !errors.Is(err, verify.ErrInvalid) {
			t.Fatalf("unknown key: %v %v", got, err)
		}
		if v.Cached() != 1 {
			t.Fatalf("cached %d keys after an unknown one, want 1: unknown keys must not be cached", v.Cached())
		}
	})
}

func TestExpiryAndRevocationOnEveryHit(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newFixture(t, dsn)
		v := verify.New(f.st, verify.Options{TTL: time.Hour, Now: f.clock.Now})
		exp := f.clock.Now().Add(10 * time.Second)
		k, raw := f.key(t, model.PermReadAll, nil, &exp)
		if _, err := v.Check(ctx, raw); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(10*time.Second - time.Nanosecond)
		if _, err := v.Check(ctx, raw); err != nil {
			t.Fatalf("a nanosecond before expiry: %v", err)
		}
		f.clock.Add(time.Nanosecond) // now == expires_at: expired
		got, err := v.Check(ctx, raw)
		if !errors.Is(err, verify.ErrInvalid) || got == nil || got.ID() != k.ID {
			t.Fatalf("at expires_at: %v %v; want the key and ErrInvalid", got, err)
		}

		// Extending the expiry invalidates the cache at once.
		later := f.clock.Now().Add(time.Hour)
		if _, err := f.st.UpdateKey(ctx, f.team.ID, k.PublicID, model.KeyUpdate{SetExpiry: true, ExpiresAt: &later}, f.actor); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Check(ctx, raw); err != nil {
			t.Fatalf("after extending the expiry: %v", err)
		}
		// Revoking through the store is refused by the very next check.
		if _, err := f.st.RevokeKey(ctx, f.team.ID, k.PublicID, f.actor); err != nil {
			t.Fatal(err)
		}
		if got, err := v.Check(ctx, raw); !errors.Is(err, verify.ErrInvalid) || got == nil {
			t.Fatalf("after revoke: %v %v", got, err)
		}
		// Deleting drops it for good.
		if _, err := f.st.DeleteKey(ctx, f.team.ID, k.PublicID, f.actor); err != nil {
			t.Fatal(err)
		}
		if got, err := v.Check(ctx, raw); !errors.Is(err, verify.ErrInvalid) || got != nil {
			t.Fatalf("after delete: %v %v", got, err)
		}
	})
}

func TestNoDatabaseWorkForMalformedKeys(t *testing.T) {
	proxy, dsn := verifytest.Start(t, testdb.Postgres(t))
	f := newFixture(t, dsn)
	v := verify.New(f.st, verify.Options{TTL: time.Minute, Now: f.clock.Now})
	_, raw := f.key(t, model.PermReadAll, nil, nil)
	proxy.Reset()
	for _, bad := range []string{"", "kw_live_short", badChecksum(raw), raw + "x", "Bearer " + raw} {
		if _, err := v.Check(context.Background(), bad); !errors.Is(err, verify.ErrInvalid) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	if s := proxy.Statements(); len(s) != 0 {
		t.Fatalf("malformed keys ran %d statements: %q", len(s), s)
	}
	if _, err := v.Check(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	if n := len(proxy.Statements()); n != 1 {
		t.Fatalf("a first check ran %d statements, want 1", n)
	}
	if _, err := v.Check(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	if n := len(proxy.Statements()); n != 1 {
		t.Fatalf("a cached check ran a statement (%d in all)", n)
	}
}

func TestCacheOff(t *testing.T) {
	proxy, dsn := verifytest.Start(t, testdb.Postgres(t))
	f := newFixture(t, dsn)
	v := verify.New(f.st, verify.Options{TTL: 0, Now: f.clock.Now})
	_, raw := f.key(t, model.PermReadAll, nil, nil)
	proxy.Reset()
	for range 3 {
		if _, err := v.Check(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(proxy.Statements()); n != 3 || v.Cached() != 0 {
		t.Fatalf("TTL 0: %d statements for 3 checks, %d cached; want 3 and 0", n, v.Cached())
	}
}

func TestStoreDown(t *testing.T) {
	proxy, dsn := verifytest.Start(t, testdb.Postgres(t))
	f := newFixture(t, dsn)
	ctx := context.Background()
	v := verify.New(f.st, verify.Options{TTL: 30 * time.Second, Now: f.clock.Now})
	_, cached := f.key(t, model.PermReadAll, nil, nil)
	_, uncached := f.key(t, model.PermReadAll, nil, nil)
	if _, err := v.Check(ctx, cached); err != nil {
		t.Fatal(err)
	}
	proxy.SetDown(true)
	if _, err := v.Check(ctx, cached); err != nil {
		t.Fatalf("a cached key within its TTL with the store down: %v", err)
	}
	_, err := v.Check(ctx, uncached)
	wantCode(t, "uncached key, store down", err, model.EUNAVAILABLE)
	unknown, _ := keys.Generate("kw", "live")
	_, err = v.Check(ctx, unknown)
	wantCode(t, "unknown key, store down", err, model.EUNAVAILABLE)
	f.clock.Add(31 * time.Second)
	_, err = v.Check(ctx, cached)
	wantCode(t, "cached key past its TTL, store down", err, model.EUNAVAILABLE)

	proxy.SetDown(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Check(ctx, uncached)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store came back but checks still fail: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCanceledCheckIsNoOutage: a check whose caller goes away before the
// store answers fails, but does not mark the store down. Were it marked
// down, the next check of a stale entry would be answered from the stale
// entry without asking the store, and a key revoked since would pass.
func TestCanceledCheckIsNoOutage(t *testing.T) {
	dsn := testdb.Postgres(t)
	f := newFixture(t, dsn)
	v := verify.New(f.st, verify.Options{TTL: 30 * time.Second, StaleIfError: 10 * time.Minute, Now: f.clock.Now})
	k, raw := f.key(t, model.PermReadAll, nil, nil)
	if _, err := v.Check(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	// Revoked on another instance, whose notice this one does not hear.
	other := openStore(t, dsn, f.clock)
	if _, err := other.RevokeKey(context.Background(), f.team.ID, k.PublicID, f.actor); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(31 * time.Second) // past the TTL, within the stale window
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Check(gone, raw); err == nil {
		t.Fatal("a check whose caller went away before the store answered passed")
	}
	_, err := v.Check(context.Background(), raw)
	wantCode(t, "the revoked key's next check, after a canceled one", err, model.EUNAUTHORIZED)
	if s := v.Stats(); s.StaleServed != 0 {
		t.Fatalf("%d stale answers with the store up, want 0", s.StaleServed)
	}
}

func TestConcurrentChecks(t *testing.T) {
	f := newFixture(t, testdb.Postgres(t))
	v := verify.New(f.st, verify.Options{TTL: time.Minute, MaxEntries: 64, Now: f.clock.Now})
	var raws []string
	for range 8 {
		_, raw := f.key(t, model.PermReadAll, nil, nil)
		raws = append(raws, raw)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				if _, err := v.Check(context.Background(), raws[(g+i)%len(raws)]); err != nil {
					errs <- err
					return
				}
				if i%50 == 0 {
					v.Purge()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
