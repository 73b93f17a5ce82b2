package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testredis"
)

// restrictedKey creates a read_all key of the app's team with restrictions r.
func (a *apiApp) restrictedKey(t testing.TB, r model.Restrictions) (model.APIKey, string) {
	t.Helper()
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: a.team.ID, Name: "restricted key",
		Environment: "live", KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll, Scopes: []string{}}
	k.SetRestrictions(r, a.clock.Now())
	if err := a.store.CreateKey(context.Background(), &k, model.Actor{Label: "test"}); err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k, raw
}

func with(h http.Header, kv ...string) http.Header {
	h = h.Clone()
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// refusedBy flushes the recorder and returns the key's refusals by reason
// on the clock's day.
func (a *apiApp) refusedBy(t testing.TB, keyID int64) model.RefusedCounts {
	t.Helper()
	if err := a.srv.recorder.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	day := a.clock.Now()
	days, err := a.store.FindKeyUsage(context.Background(), keyID, day, day)
	if err != nil {
		t.Fatal(err)
	}
	var c model.RefusedCounts
	for _, d := range days {
		c.Revoked += d.RefusedBy.Revoked
		c.Expired += d.RefusedBy.Expired
		c.IP += d.RefusedBy.IP
		c.Referrer += d.RefusedBy.Referrer
		c.Rate += d.RefusedBy.Rate
		c.Quota += d.RefusedBy.Quota
	}
	return c
}

// The test server's clients connect from 127.0.0.1. Without trusted
// proxies that is the client IP, whatever X-Forwarded-For says.
func TestIPAllowlistOnV1(t *testing.T) {
	app := newAPIApp(t)
	outside, rawOut := app.restrictedKey(t, model.Restrictions{AllowedIPs: []string{"10.0.0.0/8", "2001:db8::/32"}})
	_, rawIn := app.restrictedKey(t, model.Restrictions{AllowedIPs: []string{"192.0.2.0/24", "127.0.0.1"}})

	app.call(t, "GET", "/v1/whoami", bearer(rawIn), nil).wantStatus(t, 200)
	app.call(t, "GET", "/v1/whoami", bearer(rawOut), nil).wantError(t, 403, "ip_not_allowed")
	// A spoofed X-Forwarded-For from an untrusted peer changes nothing.
	app.call(t, "GET", "/v1/whoami", with(bearer(rawOut), "X-Forwarded-For", "10.1.2.3"), nil).wantError(t, 403, "ip_not_allowed")
	app.call(t, "GET", "/v1/whoami", with(bearer(rawOut), "X-Real-Ip", "10.1.2.3"), nil).wantError(t, 403, "ip_not_allowed")
	// A refusal is counted on the key by reason, and not as a use.
	if got := app.refusedBy(t, outside.ID); got.IP != 3 || got.Referrer+got.Rate+got.Quota != 0 {
		t.Fatalf("refusals by reason %+v, want 3 by ip", got)
	}
	// The allowlist is checked before the scope: a key refused by IP does
	// not learn whether it has the scope.
	app.call(t, "GET", "/v1/api-keys", bearer(rawOut), nil).wantError(t, 403, "ip_not_allowed")

	// The key's details page tells the team, by reason.
	if got := app.refusedBy(t, outside.ID); got.IP != 4 {
		t.Fatalf("refusals by reason %+v, want 4 by ip", got)
	}
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	page := cl.get(t, "/settings/api-keys/"+outside.PublicID)
	page.wantStatus(t, http.StatusOK)
	if got := page.text(t, "section#key-restrictions ul.refusals"); got != "4 calls refused by IP allowlist today" {
		t.Fatalf("details page refusals %q", got)
	}
}

func TestIPAllowlistBehindTrustedProxy(t *testing.T) {
	app := newAPIApp(t, withAPIConfig(func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}))
	_, raw := app.restrictedKey(t, model.Restrictions{AllowedIPs: []string{"10.0.0.0/8", "2001:db8::/32"}})
	for _, tc := range []struct {
		xff  string
		want int
	}{
		{"10.1.2.3", 200},
		{"192.0.2.1", 403},
		{"2001:db8::5", 200},
		{"2001:db9::5", 403},
		{"::ffff:10.9.8.7", 200}, // IPv4-mapped: checked as IPv4
		{"::ffff:192.0.2.1", 403},
		// The right-most untrusted address counts: a client's own
		// X-Forwarded-For entries before the proxy's are not believed.
		{"10.1.2.3, 192.0.2.1", 403},
		{"192.0.2.1, 10.1.2.3", 200},
	} {
		res := app.call(t, "GET", "/v1/whoami", with(bearer(raw), "X-Forwarded-For", tc.xff), nil)
		if res.StatusCode != tc.want {
			t.Errorf("X-Forwarded-For %q: status %d, want %d (%s)", tc.xff, res.StatusCode, tc.want, res.Body)
		}
	}
	// Without X-Forwarded-For, the trusted proxy itself is the client.
	app.call(t, "GET", "/v1/whoami", bearer(raw), nil).wantError(t, 403, "ip_not_allowed")
}

func TestReferrerRulesOnV1(t *testing.T) {
	app := newAPIApp(t)
	k, raw := app.restrictedKey(t, model.Restrictions{AllowedReferrers: []string{"*.example.com", "shop.example.org"}})
	for _, tc := range []struct {
		h    []string
		want int
	}{
		{[]string{"Origin", "https://app.example.com"}, 200},
		{[]string{"Origin", "https://a.b.example.com:8443"}, 200},
		{[]string{"Referer", "https://shop.example.org/cart?x=1"}, 200},
		{[]string{"Origin", "https://APP.Example.COM"}, 200},
		{nil, 403},
		{[]string{"Origin", "https://example.com"}, 403}, // the wildcard is for subdomains
		{[]string{"Origin", "https://evil-example.com"}, 403},
		{[]string{"Origin", "https://example.com.evil.net"}, 403},
		{[]string{"Referer", "https://www.example.org/"}, 403},
		{[]string{"Origin", "null"}, 403},
	} {
		res := app.call(t, "GET", "/v1/whoami", with(bearer(raw), tc.h...), nil)
		if res.StatusCode != tc.want {
			t.Errorf("%v: status %d, want %d (%s)", tc.h, res.StatusCode, tc.want, res.Body)
		}
		if tc.want == 403 {
			res.wantError(t, 403, "referrer_not_allowed")
		}
	}
	if got := app.refusedBy(t, k.ID); got.Referrer != 6 {
		t.Fatalf("refusals by reason %+v, want 6 by referrer", got)
	}
}

func TestRateLimitOnV1(t *testing.T) {
	app := newAPIApp(t)
	k, raw := app.restrictedKey(t, model.Restrictions{RateLimit: &model.RateLimit{Limit: 3, Period: model.RatePerMinute}})
	for i := range 3 {
		res := app.call(t, "GET", "/v1/whoami", bearer(raw), nil)
		res.wantStatus(t, 200)
		if p := res.Header.Get("RateLimit-Policy"); p != `"rate";q=3;w=60` {
			t.Fatalf("RateLimit-Policy %q", p)
		}
		if got, want := res.Header.Get("RateLimit"), `"rate";r=`+strconv.Itoa(2-i)+`;t=`; !strings.HasPrefix(got, want) {
			t.Fatalf("request %d: RateLimit %q, want %s…", i+1, got, want)
		}
	}
	res := app.call(t, "GET", "/v1/whoami", bearer(raw), nil)
	res.wantError(t, 429, "rate_limited")
	// One request comes back every 20 s (3 per minute).
	if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); ra < 1 || ra > 20 {
		t.Fatalf("Retry-After %q, want 1–20 s", res.Header.Get("Retry-After"))
	}
	if !strings.HasPrefix(res.Header.Get("RateLimit"), `"rate";r=0;`) {
		t.Fatalf("RateLimit %q on the refusal", res.Header.Get("RateLimit"))
	}
	app.clock.Advance(21 * time.Second)
	app.call(t, "GET", "/v1/whoami", bearer(raw), nil).wantStatus(t, 200)
	app.call(t, "GET", "/v1/whoami", bearer(raw), nil).wantError(t, 429, "rate_limited")
	if got := app.refusedBy(t, k.ID); got.Rate != 2 {
		t.Fatalf("refusals by reason %+v, want 2 by rate", got)
	}
}

func TestQuotaOnV1(t *testing.T) {
	app := newAPIApp(t)
	k, raw := app.restrictedKey(t, model.Restrictions{Quota: &model.Quota{Remaining: 3}})
	for range 3 {
		app.call(t, "GET", "/v1/whoami", bearer(raw), nil).wantStatus(t, 200)
	}
	res := app.call(t, "GET", "/v1/whoami", bearer(raw), nil)
	if e := res.wantError(t, 429, "quota_exceeded"); !strings.Contains(e.Error.Message, "not refilled") {
		t.Fatalf("message %q does not say the quota is not refilled", e.Error.Message)
	}
	if !strings.HasPrefix(res.Header.Get("RateLimit"), `"quota";r=0`) {
		t.Fatalf("RateLimit %q", res.Header.Get("RateLimit"))
	}
	if got := app.refusedBy(t, k.ID); got.Quota != 1 {
		t.Fatalf("refusals by reason %+v, want 1 by quota", got)
	}
	stored, err := app.store.FindKeyByID(context.Background(), app.team.ID, k.PublicID)
	if err != nil || stored.QuotaRemaining == nil || *stored.QuotaRemaining != 0 {
		t.Fatalf("stored quota %v, %v; want 0 left", stored.QuotaRemaining, err)
	}
}

func TestWhoamiShowsRestrictions(t *testing.T) {
	app := newAPIApp(t)
	_, raw := app.restrictedKey(t, model.Restrictions{
		AllowedIPs: []string{"127.0.0.0/8"}, RateLimit: &model.RateLimit{Limit: 100, Period: model.RatePerMinute},
		Quota: &model.Quota{Remaining: 50, RefillAmount: 50, RefillPeriod: model.RefillDay},
	})
	var who whoamiJSON
	res := app.call(t, "GET", "/v1/whoami", bearer(raw), nil)
	res.decode(t, &who)
	// Both limits in both fields, rate first.
	if p := res.Header.Values("RateLimit-Policy"); len(p) != 2 || p[0] != `"rate";q=100;w=60` || p[1] != `"quota";q=50` {
		t.Fatalf("RateLimit-Policy %q", p)
	}
	if r := res.Header.Values("RateLimit"); len(r) != 2 || r[0] != `"rate";r=99;t=1` || !strings.HasPrefix(r[1], `"quota";r=49;t=`) {
		t.Fatalf("RateLimit %q", r)
	}
	if len(who.AllowedIPs) != 1 || who.AllowedIPs[0] != "127.0.0.0/8" || who.RateLimit == nil || who.RateLimit.Limit != 100 ||
		who.Quota == nil || who.Quota.RefillPeriod != "day" || who.QuotaRemaining == nil || *who.QuotaRemaining != 49 {
		t.Fatalf("whoami %+v (quota remaining %v)", who, who.QuotaRemaining)
	}
}

func TestVerifyEndpointRestrictions(t *testing.T) {
	app := newAPIApp(t)
	_, caller := app.key(t, app.team.ID, model.PermRestricted, "api_keys:read")
	_, ipKey := app.restrictedKey(t, model.Restrictions{AllowedIPs: []string{"203.0.113.0/24", "2001:db8::/32"}})
	_, refKey := app.restrictedKey(t, model.Restrictions{AllowedReferrers: []string{"app.example.com"}})
	_, rateKey := app.restrictedKey(t, model.Restrictions{RateLimit: &model.RateLimit{Limit: 1, Period: model.RatePerHour}})
	_, quotaKey := app.restrictedKey(t, model.Restrictions{Quota: &model.Quota{Remaining: 1, RefillAmount: 5, RefillPeriod: model.RefillMonth}})
	verdict := func(body map[string]string) apiVerifyJSON {
		t.Helper()
		var v apiVerifyJSON
		res := app.call(t, "POST", "/v1/keys/verify", bearer(caller), body)
		res.wantStatus(t, 200)
		res.decode(t, &v)
		return v
	}
	for _, tc := range []struct {
		body map[string]string
		code string
	}{
		{map[string]string{"key": ipKey, "ip": "203.0.113.9"}, ""},
		{map[string]string{"key": ipKey, "ip": "::ffff:203.0.113.9"}, ""},
		{map[string]string{"key": ipKey, "ip": "2001:db8::1"}, ""},
		{map[string]string{"key": ipKey, "ip": "198.51.100.1"}, "IP_NOT_ALLOWED"},
		{map[string]string{"key": ipKey}, "IP_NOT_ALLOWED"}, // no ip: unknown, not allowed
		{map[string]string{"key": refKey, "referrer": "https://app.example.com/page"}, ""},
		{map[string]string{"key": refKey, "referrer": "https://other.example.com/"}, "REFERRER_NOT_ALLOWED"},
		{map[string]string{"key": refKey}, "REFERRER_NOT_ALLOWED"},
		// The order: IP before scope.
		{map[string]string{"key": ipKey, "ip": "198.51.100.1", "scope": "invoices:write"}, "IP_NOT_ALLOWED"},
		{map[string]string{"key": rateKey}, ""},
		{map[string]string{"key": rateKey}, "RATE_LIMITED"},
		{map[string]string{"key": quotaKey}, ""},
		{map[string]string{"key": quotaKey}, "QUOTA_EXCEEDED"},
	} {
		v := verdict(tc.body)
		if v.Valid != (tc.code == "") || v.Code != tc.code {
			t.Fatalf("%v: verdict %+v, want code %q", tc.body, v, tc.code)
		}
		switch tc.body["key"] {
		case rateKey:
			if v.RateLimit == nil || v.RateLimit.Limit != 1 || v.RateLimit.Period != "1h" || (tc.code != "") != (v.RateLimit.RetryAfterSeconds > 0) {
				t.Fatalf("%s: rate state %+v", tc.code, v.RateLimit)
			}
		case quotaKey:
			if v.Quota == nil || v.Quota.Remaining != 0 || v.Quota.RefillAmount != 5 || v.Quota.NextRefillAt == nil ||
				!v.Quota.NextRefillAt.Equal(model.NextRefill(model.RefillMonth, app.clock.Now())) {
				t.Fatalf("%s: quota state %+v", tc.code, v.Quota)
			}
		}
	}
	// Bad facts are a clear 422, not a verdict.
	app.call(t, "POST", "/v1/keys/verify", bearer(caller), map[string]string{"key": ipKey, "ip": "10.0.0.300"}).wantStatus(t, 422)
	app.call(t, "POST", "/v1/keys/verify", bearer(caller), map[string]string{"key": refKey, "referrer": "https://x\x00"}).wantStatus(t, 400) // a NUL is refused with every input
}

func TestAPIKeyRestrictionFields(t *testing.T) {
	app := newAPIApp(t)
	_, admin := app.key(t, app.team.ID, model.PermWriteAll)
	var k apiKeyJSON
	res := app.call(t, "POST", "/v1/api-keys", bearer(admin), map[string]any{
		"name": "edge", "permission": "read_all",
		"allowed_ips":       []string{"10.1.2.3/8", "2001:DB8::1", "10.0.0.0/8", "::ffff:192.0.2.4"},
		"allowed_referrers": []string{"https://App.Example.com/x", "*.example.org"},
		"rate_limit":        map[string]any{"limit": 100, "period": "1m"},
		"quota":             map[string]any{"remaining": 10000, "refill_amount": 10000, "refill_period": "month"},
	})
	res.wantStatus(t, 201)
	res.decode(t, &k)
	if strings.Join(k.AllowedIPs, ",") != "10.0.0.0/8,2001:db8::1,192.0.2.4" ||
		strings.Join(k.AllowedReferrers, ",") != "app.example.com,*.example.org" ||
		k.RateLimit == nil || k.RateLimit.String() != "100/1m" || k.Quota == nil || k.Quota.Remaining != 10000 {
		t.Fatalf("created %+v", k.Restrictions)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"allowed_ips": []string{"10.0.0.1", "10.0.0.300/8"}}, "Line 2"},
		{map[string]any{"allowed_ips": []string{"0.0.0.0/0"}}, "every address"},
		{map[string]any{"allowed_ips": []string{"::/0"}}, "every address"},
		{map[string]any{"allowed_referrers": []string{"app.example.com:8080"}}, "Line 1"},
		{map[string]any{"rate_limit": map[string]any{"limit": 0, "period": "1m"}}, "rate limit"},
		{map[string]any{"rate_limit": map[string]any{"limit": 5, "period": "2m"}}, "period"},
		{map[string]any{"quota": map[string]any{"remaining": -1}}, "quota"},
		{map[string]any{"quota": map[string]any{"remaining": 5, "refill_period": "week"}}, "refill"},
		{map[string]any{"quota": map[string]any{"remaining": 5, "refill_period": "day"}}, "refill amount"},
	} {
		body := map[string]any{"name": "bad", "permission": "read_all"}
		for f, v := range tc.body {
			body[f] = v
		}
		res := app.call(t, "POST", "/v1/api-keys", bearer(admin), body)
		e := res.wantError(t, 422, "invalid_request")
		if !strings.Contains(e.Error.Message, tc.field) {
			t.Errorf("%v: message %q, want it to mention %q", tc.body, e.Error.Message, tc.field)
		}
	}
	// PATCH: absent stays, null removes, a new list replaces.
	var u apiKeyJSON
	res = app.call(t, "PATCH", "/v1/api-keys/"+k.ID, bearer(admin), map[string]any{"rate_limit": nil, "allowed_ips": []string{"198.51.100.0/24"}})
	res.wantStatus(t, 200)
	res.decode(t, &u)
	if u.RateLimit != nil || strings.Join(u.AllowedIPs, ",") != "198.51.100.0/24" || len(u.AllowedReferrers) != 2 || u.Quota == nil {
		t.Fatalf("patched %+v", u.Restrictions)
	}
	// The audit trail records the change, before and after.
	events, err := app.store.FindAuditEvents(context.Background(), store.AuditFilter{TeamID: app.team.ID, TargetID: k.ID})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range events {
		detail, _ := json.Marshal(ev.Detail["restrictions"])
		if ev.Action == model.ActionKeyUpdated && strings.Contains(string(detail), "10.0.0.0/8") && strings.Contains(string(detail), "198.51.100.0/24") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no api_key.updated event with the restrictions before and after: %+v", events)
	}
}

// No escalation: a key may only change the restrictions of keys its own
// permission covers, so a narrow key cannot lift a wide key's allowlist.
func TestRestrictionsNoEscalation(t *testing.T) {
	app := newAPIApp(t)
	wide, _ := app.restrictedKey(t, model.Restrictions{AllowedIPs: []string{"10.0.0.0/8"}})
	_, narrow := app.key(t, app.team.ID, model.PermRestricted, "api_keys:write", "api_keys:read")
	app.call(t, "PATCH", "/v1/api-keys/"+wide.PublicID, bearer(narrow), map[string]any{"allowed_ips": nil}).wantStatus(t, 403)
	stored, err := app.store.FindKeyByID(context.Background(), app.team.ID, wide.PublicID)
	if err != nil || len(stored.AllowedIPs) != 1 {
		t.Fatalf("the allowlist changed: %v %v", stored.AllowedIPs, err)
	}
	_, admin := app.key(t, app.team.ID, model.PermWriteAll)
	app.call(t, "PATCH", "/v1/api-keys/"+wide.PublicID, bearer(admin), map[string]any{"allowed_ips": nil}).wantStatus(t, 200)
}

// Two instances share one rate limit through Redis (each request one
// atomic step there, so the limit is exact across instances); without
// Redis each instance would allow the limit on its own.
func TestRateLimitSharedThroughRedis(t *testing.T) {
	rdb, prefix := testredis.Client(t)
	clock := &testClock{now: testEpoch}
	ra, rb := limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: prefix}), limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: prefix})
	t.Cleanup(ra.Close)
	t.Cleanup(rb.Close)
	a := newAPIApp(t, withRates(ra))
	b := newAPIApp(t, onDatabase(a.dsn, clock), withRates(rb))
	_, raw := a.restrictedKey(t, model.Restrictions{RateLimit: &model.RateLimit{Limit: 6, Period: model.RatePerHour}})
	ok := 0
	for i := range 12 {
		app := a
		if i%2 == 1 {
			app = b
		}
		res := app.call(t, "GET", "/v1/whoami", bearer(raw), nil)
		switch res.StatusCode {
		case 200:
			ok++
		case 429:
			res.wantError(t, 429, "rate_limited")
		default:
			t.Fatalf("status %d: %s", res.StatusCode, res.Body)
		}
	}
	if ok != 6 {
		t.Fatalf("two instances sharing Redis admitted %d of 12, want the limit of 6", ok)
	}
	// One request at a time: each is a call of its own to Redis.
	if ra.Batches() != 6 || rb.Batches() != 6 {
		t.Fatalf("calls to Redis: %d and %d, want 6 each", ra.Batches(), rb.Batches())
	}
}

// Redis down: requests are still decided (in process), /readyz stays
// ready, and /metrics shows the fallback (and the two calls made to
// Redis: the one answered and the one that found it gone).
func TestRedisDownKeepsServing(t *testing.T) {
	srv := testredis.Start(t)
	rdb, err := limit.NewRedis("redis://" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	rates := limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: testredis.Prefix()})
	t.Cleanup(rates.Close)
	app := newAPIApp(t, withRates(rates))
	_, raw := app.restrictedKey(t, model.Restrictions{RateLimit: &model.RateLimit{Limit: 2, Period: model.RatePerHour}})
	app.call(t, "GET", "/v1/whoami", bearer(raw), nil).wantStatus(t, 200)
	srv.Stop()
	app.call(t, "GET", "/v1/whoami", bearer(raw), nil).wantStatus(t, 200)
	app.call(t, "GET", "/v1/whoami", bearer(raw), nil).wantStatus(t, 200)
	app.call(t, "GET", "/v1/whoami", bearer(raw), nil).wantError(t, 429, "rate_limited")
	if res := app.call(t, "GET", "/readyz", nil, nil); res.StatusCode != 200 {
		t.Fatalf("/readyz %d while Redis is down", res.StatusCode)
	}
	var m strings.Builder
	mfs, err := app.srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, x := range mf.GetMetric() {
			v := x.GetGauge().GetValue() + x.GetCounter().GetValue()
			m.WriteString(mf.GetName() + " " + strconv.FormatFloat(v, 'f', -1, 64) + "\n")
		}
	}
	for _, want := range []string{"keyward_ratelimit_redis_fallback 1", "keyward_ratelimit_fallback_decisions_total 3", "keyward_ratelimit_redis_outages_total 1", "keyward_ratelimit_redis_calls_total 2"} {
		if !strings.Contains(m.String(), want+"\n") {
			t.Fatalf("metrics lack %q:\n%s", want, m.String())
		}
	}
}

// The gateway holds keys to the same restrictions, through the same
// verify.Authorize: refused requests never reach the upstream, accepted
// ones carry the rate-limit headers, and the scope is checked last.
func TestGatewayRestrictions(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayApp(t, up, nil)
	_, ipKey := g.restrictedKey(t, model.Restrictions{AllowedIPs: []string{"10.0.0.0/8"}})
	_, refKey := g.restrictedKey(t, model.Restrictions{AllowedReferrers: []string{"app.example.com"}})
	_, rateKey := g.restrictedKey(t, model.Restrictions{RateLimit: &model.RateLimit{Limit: 2, Period: model.RatePerMinute}})
	_, quotaKey := g.restrictedKey(t, model.Restrictions{Quota: &model.Quota{Remaining: 1}})
	before := len(up.requests())
	// From 127.0.0.1 (an untrusted peer), whatever X-Forwarded-For says.
	g.gwCall(t, "GET", "/v1/invoices", with(xAPIKey(ipKey), "X-Forwarded-For", "10.0.0.1"), nil).wantError(t, 403, "ip_not_allowed")
	// The IP is checked before the scope (a write with a read key).
	g.gwCall(t, "POST", "/v1/invoices", xAPIKey(ipKey), []byte("{}")).wantError(t, 403, "ip_not_allowed")
	g.gwCall(t, "GET", "/v1/invoices", xAPIKey(refKey), nil).wantError(t, 403, "referrer_not_allowed")
	if n := len(up.requests()); n != before {
		t.Fatalf("%d refused requests reached the upstream", n-before)
	}
	g.gwCall(t, "GET", "/v1/invoices", with(xAPIKey(refKey), "Origin", "https://app.example.com"), nil).wantStatus(t, 200)
	res := g.gwCall(t, "GET", "/v1/invoices", xAPIKey(rateKey), nil)
	res.wantStatus(t, 200)
	if res.Header.Get("RateLimit-Policy") != `"rate";q=2;w=60` || !strings.HasPrefix(res.Header.Get("RateLimit"), `"rate";r=1;`) {
		t.Fatalf("rate-limit headers %q / %q", res.Header.Get("RateLimit-Policy"), res.Header.Get("RateLimit"))
	}
	g.gwCall(t, "GET", "/v1/invoices", xAPIKey(rateKey), nil).wantStatus(t, 200)
	if r := g.gwCall(t, "GET", "/v1/invoices", xAPIKey(rateKey), nil); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("over the rate limit: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	g.gwCall(t, "GET", "/v1/invoices", xAPIKey(quotaKey), nil).wantStatus(t, 200)
	g.gwCall(t, "GET", "/v1/invoices", xAPIKey(quotaKey), nil).wantError(t, 429, "quota_exceeded")
}
