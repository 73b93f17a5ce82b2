package web

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
)

// fromIP returns headers that make a request come from ip, for an app that
// trusts 127.0.0.1 as a proxy.
func fromIP(ip string) http.Header {
	return http.Header{"X-Forwarded-For": {ip}}
}

// signInFrom posts the sign-in form for email and password from ip.
func signInFrom(t *testing.T, cl *testClient, ip, email, password string) *testResponse {
	t.Helper()
	form := url.Values{"email": {email}, "password": {password}, csrfFormField: {cl.csrfToken(t)}}
	return cl.rawPost(t, "/login", form, fromIP(ip))
}

func trustLoopbackProxy() testAppOption {
	return withConfig(func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
}

// An attacker failing on an account from one address slows down only that
// address, with growing delays; the owner signs in at once from another.
func TestLoginThrottleSlowsTheFailingClientOnly(t *testing.T) {
	app := newTestApp(t, trustLoopbackProxy())
	app.setup(t, "owner@example.com", testPassword, "Acme")
	attacker := app.client(t)
	const evil = "203.0.113.9"

	for i := 0; i < loginFreeFailures; i++ {
		signInFrom(t, attacker, evil, "owner@example.com", "guess "+strconv.Itoa(i)+" wrong!").wantStatus(t, http.StatusUnauthorized)
	}
	var waits []int
	for i := 0; i < 5; i++ {
		// The failure past the free ones answers 401, and the next try
		// must wait: 1, 2, 4, 8, 16 seconds.
		signInFrom(t, attacker, evil, "owner@example.com", "another wrong guess").wantStatus(t, http.StatusUnauthorized)
		res := signInFrom(t, attacker, evil, "owner@example.com", testPassword)
		res.wantStatus(t, http.StatusTooManyRequests)
		ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if err != nil {
			t.Fatalf("Retry-After = %q", res.Header.Get("Retry-After"))
		}
		if got := res.text(t, ".notice-error"); !strings.Contains(got, "Too many sign-in attempts") {
			t.Errorf("429 message = %q", got)
		}
		waits = append(waits, ra)

		// Meanwhile the owner signs in from elsewhere, every time.
		owner := app.client(t)
		signInFrom(t, owner, "198.51.100.7", "owner@example.com", testPassword).wantStatus(t, http.StatusSeeOther)

		app.clock.Advance(time.Duration(ra) * time.Second)
	}
	for i, want := range []int{1, 2, 4, 8, 16} {
		if waits[i] != want {
			t.Fatalf("waits after each failure = %v, want 1, 2, 4, 8, 16", waits)
		}
	}
	// Once the wait is over, the right password works from the attacker's
	// address too (it is a client that failed, not a locked account), and
	// clears the record.
	signInFrom(t, attacker, evil, "owner@example.com", testPassword).wantStatus(t, http.StatusSeeOther)
	other := app.client(t)
	for i := 0; i < loginFreeFailures; i++ {
		signInFrom(t, other, evil, "owner@example.com", "wrong again!!").wantStatus(t, http.StatusUnauthorized)
	}
	signInFrom(t, other, evil, "owner@example.com", testPassword).wantStatus(t, http.StatusSeeOther)
}

// The delay stops growing at loginMaxDelay.
func TestLoginDelayIsCapped(t *testing.T) {
	for k, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 10: 512 * time.Second, 11: loginMaxDelay, 64: loginMaxDelay} {
		if got := loginDelay(k); got != want {
			t.Errorf("loginDelay(%d) = %v, want %v", k, got, want)
		}
	}
}

// One address failing on many accounts hits the per-IP ceiling; other
// addresses are not affected, and the bucket refills.
func TestLoginThrottlePerIPCeiling(t *testing.T) {
	app := newTestApp(t, trustLoopbackProxy())
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	const evil = "2001:db8::66"
	for i := 0; i < loginIPBurst; i++ {
		signInFrom(t, cl, evil, "user"+strconv.Itoa(i)+"@example.com", "guess guess guess").wantStatus(t, http.StatusUnauthorized)
	}
	res := signInFrom(t, cl, evil, "owner@example.com", testPassword)
	res.wantStatus(t, http.StatusTooManyRequests)
	if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); ra < 1 || ra > int(loginIPEvery/time.Second) {
		t.Fatalf("Retry-After = %q", res.Header.Get("Retry-After"))
	}
	if !strings.Contains(app.logs.String(), "sign-in refused by the rate limit") {
		t.Error("the refusal was not logged")
	}
	signInFrom(t, app.client(t), "2001:db8::67", "owner@example.com", testPassword).wantStatus(t, http.StatusSeeOther)
	app.clock.Advance(loginIPEvery)
	signInFrom(t, cl, evil, "owner@example.com", testPassword).wantStatus(t, http.StatusSeeOther)
}

// Successful sign-ins from one address (an office behind NAT) cost nothing.
func TestLoginSuccessesAreNotThrottled(t *testing.T) {
	app := newTestApp(t, trustLoopbackProxy())
	app.setup(t, "owner@example.com", testPassword, "Acme")
	for i := 0; i < loginIPBurst*2; i++ {
		signInFrom(t, app.client(t), "192.0.2.1", "owner@example.com", testPassword).wantStatus(t, http.StatusSeeOther)
	}
}

func TestLoginLimiterForgetsIdlePairs(t *testing.T) {
	ll := newLoginLimiter()
	now := testEpoch
	for i := 0; i < limiterMaxEntries+10; i++ {
		ll.failed("ip", "user"+strconv.Itoa(i), now)
	}
	if n := len(ll.pair); n > limiterMaxEntries+1 {
		t.Fatalf("%d pairs kept, want at most %d", n, limiterMaxEntries+1)
	}
}

func TestSecurityHeadersOnPagesAndErrors(t *testing.T) {
	app := newTestApp(t, withSecureCookies())
	_, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	member := app.client(t)
	app.newMember(t, team.ID, "member@example.com", model.RoleMember)
	member.login(t, "member@example.com", testPassword)

	cases := map[string]*testResponse{
		"login page":        cl.get(t, "/login"),
		"404 page":          cl.get(t, "/no-such-page"),
		"403 page":          member.get(t, "/settings/members"),
		"403 csrf":          cl.rawPost(t, "/login", url.Values{}, nil),
		"redirect":          cl.get(t, "/"),
		"member home":       member.get(t, "/"),
		"401 htmx redirect": cl.htmxGet(t, "/settings/members"),
		"401 api":           cl.get(t, "/v1/whoami"),
		"probe":             cl.get(t, "/healthz"),
	}
	for name, res := range cases {
		h := res.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", name, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: nosniff %q, referrer %q", name, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
		if !strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("%s: no HSTS", name)
		}
	}
	for _, name := range []string{"401 api", "probe"} {
		if cc := cases[name].Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, cc)
		}
	}
	if cases["403 page"].StatusCode != http.StatusForbidden || cases["404 page"].StatusCode != http.StatusNotFound {
		t.Fatalf("statuses: 403 page %d, 404 page %d", cases["403 page"].StatusCode, cases["404 page"].StatusCode)
	}
	// Signed-out htmx requests are told where to go instead of swapping a page.
	res := cases["401 htmx redirect"]
	if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("HX-Redirect"), "/login") {
		t.Errorf("htmx signed out: %d, HX-Redirect %q", res.StatusCode, res.Header.Get("HX-Redirect"))
	}
}

func TestLoginReturnsToTheRequestedPage(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.get(t, "/settings/members").wantRedirect(t, "/login?next=%2Fsettings%2Fmembers")
	page := cl.get(t, "/login?next=%2Fsettings%2Fmembers")
	if got := attr(page.first(t, "input[name=next]"), "value"); got != "/settings/members" {
		t.Fatalf("next field = %q", got)
	}
	res := cl.postForm(t, "/login", url.Values{"email": {"owner@example.com"}, "password": {testPassword}, "next": {"/settings/members"}})
	res.wantRedirect(t, "/settings/members")

	// Only paths on this site.
	for _, next := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example"} {
		other := app.client(t)
		res := other.postForm(t, "/login", url.Values{"email": {"owner@example.com"}, "password": {testPassword}, "next": {next}})
		res.wantRedirect(t, "/")
	}
}

// A flood from many addresses, none of whose buckets refills, must not grow
// the tables beyond their bound.
func TestLimiterStaysBoundedUnderAFlood(t *testing.T) {
	ll := newLoginLimiter()
	now := testEpoch
	for i := 0; i < 3*limiterMaxEntries; i++ {
		ip := "2001:db8::" + strconv.FormatInt(int64(i), 16)
		// One attempt takes a token, so no bucket counts as idle.
		ll.attempt(ip, "victim"+strconv.Itoa(i%7), now)
	}
	if n := len(ll.ip); n > limiterMaxEntries {
		t.Fatalf("%d IP buckets kept, want at most %d", n, limiterMaxEntries)
	}
}
