package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
)

func TestLoginLimiterPerAccount(t *testing.T) {
	app := newTestApp(t)
	_, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	bad := url.Values{"email": {"owner@example.com"}, "password": {"not the password"}}
	for i := 0; i < loginAccountBurst; i++ {
		cl.postForm(t, "/login", bad).wantStatus(t, http.StatusUnauthorized)
	}
	// Now even the right password is refused for a while, with Retry-After.
	res := cl.postForm(t, "/login", url.Values{"email": {"Owner@example.com"}, "password": {testPassword}})
	res.wantStatus(t, http.StatusTooManyRequests)
	ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Fatalf("Retry-After = %q", res.Header.Get("Retry-After"))
	}
	if got := res.text(t, ".notice-error"); !strings.Contains(got, "Too many sign-in attempts") {
		t.Errorf("429 message = %q", got)
	}
	if _, ok := decodeForTest(t, app, cl); ok {
		t.Fatal("signed in while rate-limited")
	}
	// Another account from the same IP is not affected.
	app.newMember(t, team.ID, "admin@example.com", model.RoleAdmin)
	cl.login(t, "admin@example.com", testPassword)

	// After Retry-After the account may try again.
	app.clock.Advance(time.Duration(ra) * time.Second)
	other := app.client(t)
	other.login(t, "owner@example.com", testPassword)
}

func TestLoginLimiterPerIP(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	for i := 0; i < loginIPBurst; i++ {
		res := cl.postForm(t, "/login", url.Values{"email": {"user" + strconv.Itoa(i) + "@example.com"}, "password": {"guess guess guess"}})
		res.wantStatus(t, http.StatusUnauthorized)
	}
	res := cl.postForm(t, "/login", url.Values{"email": {"owner@example.com"}, "password": {testPassword}})
	res.wantStatus(t, http.StatusTooManyRequests)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if !strings.Contains(app.logs.String(), "sign-in refused by the rate limit") {
		t.Error("the refusal was not logged")
	}
}

func TestLoginLimiterForgetsIdleBuckets(t *testing.T) {
	ll := newLoginLimiter()
	now := testEpoch
	for i := 0; i < limiterMaxEntries+10; i++ {
		ll.attempt("ip", "user"+strconv.Itoa(i), now)
	}
	if n := len(ll.account); n > limiterMaxEntries+1 {
		t.Fatalf("%d account buckets kept, want at most %d", n, limiterMaxEntries+1)
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
