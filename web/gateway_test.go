package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
)

// TestGatewaySeedCalls: the seed documentation's calls, GET /v1/invoices
// with X-API-Key and with Bearer, reach the upstream with the key's
// identity and without the key.
func TestGatewaySeedCalls(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayApp(t, up, nil)
	k, raw := g.key(t, g.team.ID, model.PermReadAll)
	for name, h := range map[string]http.Header{"X-API-Key": xAPIKey(raw), "Bearer": bearer(raw)} {
		res := g.gwCall(t, http.MethodGet, "/v1/invoices?status=open&limit=2", h, nil)
		res.wantStatus(t, http.StatusOK)
		if string(res.Body) != `{"object":"list","data":[]}` || res.Header.Get("X-Upstream") != "sample" {
			t.Fatalf("%s: the client did not get the upstream's answer: %s %v", name, res.Body, res.Header)
		}
		got := up.last(t)
		if got.Method != http.MethodGet || got.Path != "/v1/invoices" || got.RawQuery != "status=open&limit=2" {
			t.Fatalf("%s: upstream got %s %s?%s", name, got.Method, got.Path, got.RawQuery)
		}
		want := map[string]string{
			"X-Keyward-Key-Id": k.PublicID, "X-Keyward-Team-Id": strconv.FormatInt(g.team.ID, 10),
			"X-Keyward-Environment": "live", "X-Keyward-Scopes": "*:read",
			"X-Request-Id": res.Header.Get("X-Request-Id"), "X-Forwarded-For": "127.0.0.1",
			"X-Forwarded-Proto": "http", "X-Forwarded-Host": strings.TrimPrefix(g.GW, "http://"),
		}
		for h, v := range want {
			if got.Header.Get(h) != v || v == "" {
				t.Errorf("%s: upstream header %s = %q, want %q", name, h, got.Header.Get(h), v)
			}
		}
		if got.Header.Get("X-Api-Key") != "" || got.Header.Get("Authorization") != "" || strings.Contains(headerDump(got.Header), raw) {
			t.Fatalf("%s: the upstream saw the credential: %v", name, got.Header)
		}
		if got.Header.Get("X-Keyward-Signature") != "" {
			t.Errorf("%s: a signature without KEYWARD_GATEWAY_SECRET", name)
		}
		if got.Host != up.url(t).Host {
			t.Errorf("%s: upstream Host %q, want its own %q", name, got.Host, up.url(t).Host)
		}
	}
	// The bare Authorization of another scheme is a credential too: removed.
	h := xAPIKey(raw)
	h.Set("Authorization", "Basic dXNlcjpwYXNz")
	g.gwCall(t, http.MethodGet, "/v1/invoices", h, nil).wantStatus(t, http.StatusOK)
	if got := up.last(t); got.Header.Get("Authorization") != "" {
		t.Fatalf("the upstream got Authorization: %q", got.Header.Get("Authorization"))
	}
}

func headerDump(h http.Header) string {
	var b strings.Builder
	_ = h.Write(&b)
	return b.String()
}

// TestGatewayForgedIdentity: the upstream never sees identity headers the
// client wrote, in any spelling, nor loses the real ones to a Connection
// header naming them.
func TestGatewayForgedIdentity(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayApp(t, up, nil)
	k, raw := g.key(t, g.team.ID, model.PermReadAll)
	h := xAPIKey(raw)
	h["X-Keyward-Key-Id"] = []string{"key_forged"}
	h["X-Keyward-Team-Id"] = []string{"1"}
	h["X-Keyward-Scopes"] = []string{"*:write"}
	h["X-Keyward-Signature"] = []string{"t=1,v1=00"}
	h["X-Keyward-Anything"] = []string{"x"}
	h["X_keyward_key_id"] = []string{"key_underscore"}
	h["Connection"] = []string{"X-Keyward-Key-Id, X-Keyward-Scopes, X-Request-Id"}
	h["X-Request-Id"] = []string{"client-chosen-id"}
	res := g.gwCall(t, http.MethodGet, "/v1/invoices/inv_1", h, nil)
	res.wantStatus(t, http.StatusOK)
	got := up.last(t)
	if got.Header.Get("X-Keyward-Key-Id") != k.PublicID || got.Header.Get("X-Keyward-Scopes") != "*:read" {
		t.Fatalf("identity headers %q %q, want the checked key's", got.Header.Get("X-Keyward-Key-Id"), got.Header.Get("X-Keyward-Scopes"))
	}
	for name, v := range got.Header {
		if isKeywardHeader(name) && !slices.Contains([]string{"X-Keyward-Key-Id", "X-Keyward-Team-Id", "X-Keyward-Environment", "X-Keyward-Scopes"}, name) {
			t.Errorf("the client's %s: %v reached the upstream", name, v)
		}
		if len(v) != 1 && isKeywardHeader(name) {
			t.Errorf("%s has %d values", name, len(v))
		}
	}
	if got.Header.Get("X-Request-Id") != "client-chosen-id" || res.Header.Get("X-Request-Id") != "client-chosen-id" {
		t.Errorf("a well-formed client request id is kept and forwarded: upstream %q, client %q", got.Header.Get("X-Request-Id"), res.Header.Get("X-Request-Id"))
	}
	if vals := res.Header.Values("X-Request-Id"); len(vals) != 1 {
		t.Errorf("the answer carries X-Request-Id %d times", len(vals))
	}
}

// TestGatewayScopes: a Read All key reads (GET, HEAD, OPTIONS) and is
// refused every write with 403 naming the scope; a restricted key gets per
// resource exactly what it was given. Refused requests never reach the
// upstream.
func TestGatewayScopes(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayApp(t, up, nil)
	_, readAll := g.key(t, g.team.ID, model.PermReadAll)
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		g.gwCall(t, m, "/v1/invoices", xAPIKey(readAll), nil).wantStatus(t, http.StatusOK)
		if got := up.last(t); got.Method != m {
			t.Fatalf("%s: upstream got %s", m, got.Method)
		}
	}
	before := len(up.requests())
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, "PROPFIND"} {
		res := g.gwCall(t, m, "/v1/invoices/inv_1", xAPIKey(readAll), []byte(`{"amount":1}`))
		e := res.wantError(t, http.StatusForbidden, "insufficient_scope")
		if !strings.Contains(e.Error.Message, "invoices:write") ||
			res.Header.Get("WWW-Authenticate") != `Bearer error="insufficient_scope", scope="invoices:write"` {
			t.Fatalf("%s: the refusal does not name invoices:write: %s / %q", m, e.Error.Message, res.Header.Get("WWW-Authenticate"))
		}
	}
	if n := len(up.requests()); n != before {
		t.Fatalf("refused writes reached the upstream (%d requests)", n-before)
	}

	_, restricted := g.key(t, g.team.ID, model.PermRestricted, "invoices:read", "customers:write")
	for _, tc := range []struct {
		method, path string
		want         int
		scope        string
	}{
		{http.MethodGet, "/v1/invoices", 200, ""},
		{http.MethodGet, "/v1/invoices/inv_1", 200, ""},
		{http.MethodPost, "/v1/invoices", 403, "invoices:write"},
		{http.MethodGet, "/v1/customers/cus_1", 200, ""},
		{http.MethodPatch, "/v1/customers/cus_1", 200, ""},
		{http.MethodDelete, "/v1/customers/cus_1", 200, ""},
		{http.MethodGet, "/v1/invoices/inv_1/payments", 403, "payments:read"},
	} {
		res := g.gwCall(t, tc.method, tc.path, bearer(restricted), nil)
		if tc.want == 200 {
			res.wantStatus(t, 200)
			if got := up.last(t); got.Method != tc.method || got.Path != tc.path {
				t.Fatalf("%s %s: upstream got %s %s", tc.method, tc.path, got.Method, got.Path)
			}
			continue
		}
		if e := res.wantError(t, tc.want, "insufficient_scope"); !strings.Contains(e.Error.Message, tc.scope) {
			t.Fatalf("%s %s: %q does not name %s", tc.method, tc.path, e.Error.Message, tc.scope)
		}
	}
	_, writeAll := g.key(t, g.team.ID, model.PermWriteAll)
	g.gwCall(t, http.MethodPost, "/v1/invoices/inv_1/payments", xAPIKey(writeAll), []byte("{}")).wantStatus(t, http.StatusOK)
	if got := up.last(t); got.BodyLen != 2 || got.Header.Get("X-Keyward-Scopes") != "*:write" {
		t.Fatalf("write_all POST: upstream got %+v", got)
	}
}

// TestGatewayRoutes: a path no route matches is 404 no_route, with or
// without a key; a non-canonical path is 400; a public path needs no key,
// and its credentials are still removed; the upstream sees none of the
// refused requests.
func TestGatewayRoutes(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayApp(t, up, nil)
	_, raw := g.key(t, g.team.ID, model.PermWriteAll)
	for _, p := range []string{"/v1/orders", "/v1/invoicesX", "/", "/v1", "/v1/keys/verify", "/v1/whoami", "/healthz/x"} {
		g.gwCall(t, http.MethodGet, p, xAPIKey(raw), nil).wantError(t, http.StatusNotFound, "no_route")
		g.gwCall(t, http.MethodGet, p, nil, nil).wantError(t, http.StatusNotFound, "no_route")
	}
	// A public prefix must not open a protected path to an upstream that
	// resolves dot segments or decodes slashes before routing.
	for _, p := range []string{"/docs/../v1/invoices", "/docs/..%2Fv1%2Finvoices", "/docs/%2e%2e/v1/invoices", "/docs/..%5Cv1%5Cinvoices",
		"/v1/status/../invoices", "/v1/status/..%2Finvoices", "/v1//invoices", "/v1/status%2F..%2Finvoices", "/v1/status/%5C..%5Cinvoices"} {
		res := g.gwCall(t, http.MethodGet, p, nil, nil)
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("GET %s: %d %s, want 400", p, res.StatusCode, res.Body)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("the upstream received %d refused requests", n)
	}
	for _, p := range []string{"/healthz", "/v1/status"} {
		g.gwCall(t, http.MethodGet, p, nil, nil).wantStatus(t, http.StatusOK)
		g.gwCall(t, http.MethodPost, p, bearer(raw), []byte("x")).wantStatus(t, http.StatusOK)
		got := up.last(t)
		if got.Path != p || got.Header.Get("Authorization") != "" || got.Header.Get("X-Keyward-Key-Id") != "" {
			t.Fatalf("public %s: upstream got %s with %v", p, got.Path, got.Header)
		}
	}
	// With no scopes file routes at all, everything is closed.
	g2 := newGatewayApp(t, up, func(c *config.Config) { c.Routes = nil })
	g2.gwCall(t, http.MethodGet, "/v1/invoices", xAPIKey(raw), nil).wantError(t, http.StatusNotFound, "no_route")
}

// TestGatewayQueryKey: ?key= is refused when not allowed (as on /v1), and
// when allowed it authenticates and is removed before forwarding, the
// rest of the query kept as sent.
func TestGatewayQueryKey(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayApp(t, up, nil)
	_, raw := g.key(t, g.team.ID, model.PermReadAll)
	g.gwCall(t, http.MethodGet, "/v1/invoices?key="+raw, nil, nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
	if len(up.requests()) != 0 {
		t.Fatal("a refused query key reached the upstream")
	}
	g2 := newGatewayApp(t, up, func(c *config.Config) { c.AllowQueryKey = true })
	_, raw2 := g2.key(t, g2.team.ID, model.PermReadAll)
	g2.gwCall(t, http.MethodGet, "/v1/invoices?a=1&key="+raw2+"&b=%20x&monkey=2", nil, nil).wantStatus(t, http.StatusOK)
	if got := up.last(t); got.RawQuery != "a=1&b=%20x&monkey=2" {
		t.Fatalf("upstream query %q", got.RawQuery)
	}
}

// TestGatewayUnauthorized: missing, malformed, unknown and revoked keys all
// get the /v1 401; the bad-key limiter answers 429 after its burst; the
// refusals of a real key are counted, accepted calls recorded.
func TestGatewayUnauthorized(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayApp(t, up, nil)
	k, raw := g.key(t, g.team.ID, model.PermReadAll)
	g.gwCall(t, http.MethodGet, "/v1/invoices", xAPIKey(raw), nil).wantStatus(t, http.StatusOK)
	if _, err := g.store.RevokeKey(context.Background(), g.team.ID, k.PublicID, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, h := range []http.Header{nil, xAPIKey("kw_live_nope"), xAPIKey(tamper(raw)), bearer(raw)} {
		res := g.gwCall(t, http.MethodGet, "/v1/invoices", h, nil)
		e := res.wantError(t, http.StatusUnauthorized, "invalid_api_key")
		if res.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Fatalf("401 without WWW-Authenticate: Bearer")
		}
		bodies = append(bodies, e.Error.Message)
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Fatalf("401 messages differ: %q", bodies)
		}
	}
	_, other := g.key(t, g.team.ID, model.PermReadAll)
	two := xAPIKey(raw)
	two.Set("Authorization", "Bearer "+other)
	g.gwCall(t, http.MethodGet, "/v1/invoices", two, nil).wantStatus(t, http.StatusBadRequest)
	if n := len(up.requests()); n != 1 {
		t.Fatalf("the upstream got %d requests, want only the first", n)
	}
	if err := g.srv.recorder.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	day := g.clock.Now().Truncate(24 * time.Hour)
	if days, _ := g.store.FindKeyUsage(context.Background(), k.ID, day, day); len(days) != 1 || days[0].Requests != 1 || days[0].Refused != 1 {
		t.Fatalf("usage of the key through the gateway: %+v, want 1 request and 1 refused", days)
	}
	// The bad-key limiter: the burst (less the failures above), then 429.
	var last *apiResponse
	for range keyFailBurst {
		last = g.gwCall(t, http.MethodGet, "/v1/invoices", xAPIKey("kw_live_nope"), nil)
	}
	last.wantError(t, http.StatusTooManyRequests, "too_many_failures")
	if last.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Only failures are limited: a valid key from that address goes through.
	g.gwCall(t, http.MethodGet, "/v1/invoices", bearer(other), nil).wantStatus(t, http.StatusOK)
}

// TestGatewayRevocationTwoInstances: a key revoked through instance A's
// API is refused by instance B's gateway within a second.
func TestGatewayRevocationTwoInstances(t *testing.T) {
	up := newUpstream(t)
	a := newGatewayApp(t, up, nil, withListener())
	b := newGatewayApp(t, up, nil, onDatabase(a.dsn, a.clock), withListener())
	k, raw := a.key(t, a.team.ID, model.PermReadAll)
	_, admin := a.key(t, a.team.ID, model.PermWriteAll)
	a.gwCall(t, http.MethodGet, "/v1/invoices", bearer(raw), nil).wantStatus(t, http.StatusOK)
	b.gwCall(t, http.MethodGet, "/v1/invoices", bearer(raw), nil).wantStatus(t, http.StatusOK) // cached on B

	a.call(t, http.MethodPost, "/v1/api-keys/"+k.PublicID+"/revoke", bearer(admin), nil).wantStatus(t, http.StatusOK)
	a.gwCall(t, http.MethodGet, "/v1/invoices", bearer(raw), nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
	start := time.Now()
	for b.gwCall(t, http.MethodGet, "/v1/invoices", bearer(raw), nil).StatusCode != http.StatusUnauthorized {
		if time.Since(start) > time.Second {
			t.Fatal("instance B's gateway still accepts the key a second after A revoked it")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("revoked on A, refused by B's gateway after %s", time.Since(start))
}

// TestGatewaySignature: with KEYWARD_GATEWAY_SECRET the upstream gets
// X-Keyward-Signature, which checks out as the README's snippet checks it
// (HMAC-SHA256 over "t.method.path.key_id.team_id", written out here
// independently of the gateway's code), and fails for another secret.
func TestGatewaySignature(t *testing.T) {
	secret := "s3cret-s3cret-s3cret-s3cret-s3cret"
	up := newUpstream(t)
	g := newGatewayApp(t, up, func(c *config.Config) { c.GatewaySecret = []byte(secret) })
	k, raw := g.key(t, g.team.ID, model.PermWriteAll)
	g.gwCall(t, http.MethodDelete, "/v1/customers/cus%201", xAPIKey(raw), nil).wantStatus(t, http.StatusOK)
	got := up.last(t)
	sig := got.Header.Get("X-Keyward-Signature")
	ts, mac, ok := strings.Cut(sig, ",")
	if !ok || !strings.HasPrefix(ts, "t=") || !strings.HasPrefix(mac, "v1=") {
		t.Fatalf("signature %q", sig)
	}
	tsv := strings.TrimPrefix(ts, "t=")
	if n, err := strconv.ParseInt(tsv, 10, 64); err != nil || n != g.clock.Now().Unix() {
		t.Fatalf("signature time %q, want the clock's %d", tsv, g.clock.Now().Unix())
	}
	check := func(secret string) bool {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(tsv + "." + got.Method + "." + got.RawPath + "." + got.Header.Get("X-Keyward-Key-Id") + "." + got.Header.Get("X-Keyward-Team-Id")))
		want := hex.EncodeToString(m.Sum(nil))
		return hmac.Equal([]byte(want), []byte(strings.TrimPrefix(mac, "v1=")))
	}
	if got.RawPath != "/v1/customers/cus%201" || got.Header.Get("X-Keyward-Key-Id") != k.PublicID {
		t.Fatalf("upstream got %s as %s", got.RawPath, got.Header.Get("X-Keyward-Key-Id"))
	}
	if !check(secret) {
		t.Fatal("the signature does not verify with the gateway secret")
	}
	if check(secret + "x") {
		t.Fatal("the signature verifies with another secret")
	}
}

// TestGatewayUpstreamErrors: an upstream that refuses connections is 502
// upstream_unavailable, one slower than KEYWARD_UPSTREAM_TIMEOUT is 504
// upstream_timeout, and neither answer shows anything of the upstream.
func TestGatewayUpstreamErrors(t *testing.T) {
	up := newUpstream(t)
	release := make(chan struct{})
	up.handle("/v1/invoices/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	g := newGatewayApp(t, up, func(c *config.Config) { c.UpstreamTimeout = 300 * time.Millisecond })
	defer close(release)
	_, raw := g.key(t, g.team.ID, model.PermReadAll)
	start := time.Now()
	res := g.gwCall(t, http.MethodGet, "/v1/invoices/slow", xAPIKey(raw), nil)
	res.wantError(t, http.StatusGatewayTimeout, "upstream_timeout")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the 504 came after %s", d)
	}
	leaks := []string{up.url(t).Host, "127.0.0.1", "dial", "timeout awaiting", "refused"}
	for _, l := range leaks {
		if strings.Contains(string(res.Body), l) {
			t.Fatalf("504 body leaks %q: %s", l, res.Body)
		}
	}

	down := newUpstream(t)
	downURL := down.url(t)
	down.srv.Close()
	g2 := newGatewayApp(t, down, func(c *config.Config) { c.Upstream = downURL })
	_, raw2 := g2.key(t, g2.team.ID, model.PermReadAll)
	res = g2.gwCall(t, http.MethodGet, "/v1/invoices", xAPIKey(raw2), nil)
	res.wantError(t, http.StatusBadGateway, "upstream_unavailable")
	for _, l := range leaks {
		if strings.Contains(string(res.Body), l) || strings.Contains(headerDump(res.Header), l) {
			t.Fatalf("502 leaks %q: %v %s", l, res.Header, res.Body)
		}
	}
	if res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("502 content type %q", res.Header.Get("Content-Type"))
	}
}

// tamper changes a raw key's last character, breaking its checksum.
func tamper(raw string) string {
	last := raw[len(raw)-1]
	if last == 'x' {
		return raw[:len(raw)-1] + "y"
	}
	return raw[:len(raw)-1] + "x"
}

// TestGatewayForwardedHeaders: X-Forwarded-* from an untrusted client are
// replaced (and X-Real-IP dropped); from a trusted proxy they are kept and
// the proxy appended, and the key's last use is the client's address.
func TestGatewayForwardedHeaders(t *testing.T) {
	up := newUpstream(t)
	claims := http.Header{"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host": {"api.example.com"}, "X-Real-Ip": {"203.0.113.7"}, "Forwarded": {"for=203.0.113.9"}}
	for _, trusted := range []bool{false, true} {
		g := newGatewayApp(t, up, func(c *config.Config) {
			if trusted {
				c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			}
		})
		k, raw := g.key(t, g.team.ID, model.PermReadAll)
		h := claims.Clone()
		h.Set("X-Api-Key", raw)
		g.gwCall(t, http.MethodGet, "/v1/invoices", h, nil).wantStatus(t, http.StatusOK)
		got := up.last(t).Header
		want := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http",
			"X-Forwarded-Host": strings.TrimPrefix(g.GW, "http://"), "X-Real-Ip": "", "Forwarded": ""}
		ip := "127.0.0.1"
		if trusted {
			want = map[string]string{"X-Forwarded-For": "203.0.113.7, 127.0.0.1", "X-Forwarded-Proto": "https",
				"X-Forwarded-Host": "api.example.com", "X-Real-Ip": "203.0.113.7", "Forwarded": ""}
			ip = "203.0.113.7"
		}
		for name, v := range want {
			if got.Get(name) != v {
				t.Errorf("trusted=%v: upstream %s = %q, want %q", trusted, name, got.Get(name), v)
			}
		}
		if err := g.srv.recorder.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if stored, _ := g.store.FindKeyByID(context.Background(), g.team.ID, k.PublicID); stored.LastUsedIP != ip {
			t.Errorf("trusted=%v: last used from %q, want %q", trusted, stored.LastUsedIP, ip)
		}
	}
}
