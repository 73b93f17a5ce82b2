package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/internal/verify"
)

// restrict gives the key restrictions r through the store.
func (f *fixture) restrict(t testing.TB, k model.APIKey, r model.Restrictions) {
	t.Helper()
	if _, err := f.st.UpdateKey(context.Background(), k.TeamID, k.PublicID, model.KeyUpdate{Restrictions: &r}, f.actor); err != nil {
		t.Fatal(err)
	}
}

// Authorize applies the checks in one order: the key, its team, IP,
// referrer, rate limit, quota, then scope; the first failing one decides,
// and only what comes before it is spent.
func TestAuthorizeOrder(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		v := verify.New(f.st, verify.Options{TTL: time.Minute, Now: f.clock.Now})
		ctx := context.Background()
		k, raw := f.key(t, model.PermRestricted, []string{"invoices:read"}, nil)
		f.restrict(t, k, model.Restrictions{AllowedIPs: []string{"10.0.0.0/8"}, AllowedReferrers: []string{"app.example.com"},
			RateLimit: &model.RateLimit{Limit: 2, Period: model.RatePerHour}, Quota: &model.Quota{Remaining: 1}})
		good := verify.Request{IP: "10.1.1.1", Origin: "https://app.example.com", Resource: "invoices", Access: model.AccessRead}
		with := func(edit func(*verify.Request)) verify.Request {
			r := good
			edit(&r)
			return r
		}
		for i, tc := range []struct {
			req  verify.Request
			raw  string
			want verify.Code
		}{
			{with(func(r *verify.Request) { r.IP = "192.0.2.1"; r.Resource = "members" }), raw, verify.IPNotAllowed},
			{with(func(r *verify.Request) { r.IP = "" }), raw, verify.IPNotAllowed},
			{with(func(r *verify.Request) { r.Origin = "https://evil.example" }), raw, verify.ReferrerNotAllowed},
			{with(func(r *verify.Request) { r.TeamID = k.TeamID + 1 }), raw, verify.Invalid},
			{good, "kw_live_nonsense", verify.Invalid},
			// Passes IP and referrer, spends the rate limit and the quota,
			// then fails on scope.
			{with(func(r *verify.Request) { r.Access = model.AccessWrite }), raw, verify.InsufficientScope},
			// Rate limit (1 of 2 left), then the quota (spent) refuses.
			{good, raw, verify.QuotaExceeded},
			// The rate limit is spent now: it refuses before the quota.
			{good, raw, verify.RateLimited},
		} {
			d := v.Authorize(ctx, tc.raw, tc.req)
			if d.Code != tc.want {
				t.Fatalf("case %d: %v, want %v", i, d.Code, tc.want)
			}
			if (d.Key == nil) != (tc.want == verify.Invalid) {
				t.Fatalf("case %d: key %v with %v", i, d.Key, d.Code)
			}
		}
	})
}

// A plain key answers OK with no limit state; an expired one Invalid.
func TestAuthorizePlainAndExpired(t *testing.T) {
	f := newFixture(t, testdb.Postgres(t))
	v := verify.New(f.st, verify.Options{TTL: time.Minute, Now: f.clock.Now})
	_, raw := f.key(t, model.PermReadAll, nil, nil)
	if d := v.Authorize(context.Background(), raw, verify.Request{IP: "192.0.2.1"}); d.Code != verify.OK || d.HasRate || d.HasQuota || d.Key.Restricted() {
		t.Fatalf("%+v", d)
	}
	exp := f.clock.Now().Add(time.Second)
	_, old := f.key(t, model.PermReadAll, nil, &exp)
	f.clock.Add(time.Second)
	if d := v.Authorize(context.Background(), old, verify.Request{}); d.Code != verify.Invalid || d.Err == nil {
		t.Fatalf("%+v", d)
	}
}

// BenchmarkAuthorizeRestricted measures a cached key with an IP allowlist,
// a rate limit that is not hit and a quota, against a plain cached key
// (BenchmarkAuthorizePlain).
func BenchmarkAuthorizeRestricted(b *testing.B) {
	f := newFixture(b, testdb.Postgres(b))
	v := verify.New(f.st, verify.Options{TTL: time.Hour})
	k, raw := f.key(b, model.PermRestricted, []string{"invoices:read"}, nil)
	f.restrict(b, k, model.Restrictions{AllowedIPs: []string{"10.0.0.0/8", "172.16.0.0/12", "2001:db8::/32", "127.0.0.0/8"},
		RateLimit: &model.RateLimit{Limit: model.MaxRateLimit, Period: model.RatePerSecond}, Quota: &model.Quota{Remaining: model.MaxQuota}})
	ctx := context.Background()
	req := verify.Request{IP: "127.0.0.1", Resource: "invoices", Access: model.AccessRead}
	if d := v.Authorize(ctx, raw, req); d.Code != verify.OK {
		b.Fatal(d.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d := v.Authorize(ctx, raw, req); d.Code != verify.OK {
				b.Fatal(d.Code)
			}
		}
	})
}

// BenchmarkAuthorizePlain is BenchmarkAuthorizeRestricted's baseline: the
// same call for a cached key without restrictions.
func BenchmarkAuthorizePlain(b *testing.B) {
	f := newFixture(b, testdb.Postgres(b))
	v := verify.New(f.st, verify.Options{TTL: time.Hour})
	_, raw := f.key(b, model.PermRestricted, []string{"invoices:read"}, nil)
	ctx := context.Background()
	req := verify.Request{IP: "127.0.0.1", Resource: "invoices", Access: model.AccessRead}
	if d := v.Authorize(ctx, raw, req); d.Code != verify.OK {
		b.Fatal(d.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d := v.Authorize(ctx, raw, req); d.Code != verify.OK {
				b.Fatal(d.Code)
			}
		}
	})
}
