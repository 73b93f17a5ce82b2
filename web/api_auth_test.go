package web

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// badChecksum changes the last character of a raw key.
func badChecksum(raw string) string {
	if strings.HasSuffix(raw, "A") {
		return raw[:len(raw)-1] + "B"
	}
	return raw[:len(raw)-1] + "A"
}

// TestAPIAuthHeaderMatrix sends every way of presenting a key to a route the
// key may use (api_keys:read) and to one it may not (members:read).
func TestAPIAuthHeaderMatrix(t *testing.T) {
	app := newAPIApp(t)
	_, raw := app.key(t, app.team.ID, model.PermRestricted, "api_keys:read")
	_, other := app.key(t, app.team.ID, model.PermRestricted, "api_keys:read")
	unknown, _ := keys.Generate("kw", "live")
	exp := app.clock.Now().Add(time.Hour)
	_, expiring := app.keyExpiring(t, app.team.ID, &exp, model.PermReadAll)
	revokedKey, revoked := app.key(t, app.team.ID, model.PermReadAll)

	ok, invalid, bad := http.StatusOK, http.StatusUnauthorized, http.StatusBadRequest
	cases := []struct {
		name   string
		header http.Header
		query  string
		want   int // for a key that holds the scope; 403 replaces 200 otherwise
		noDB   bool
	}{
		{"no credential", nil, "", invalid, true},
		{"X-API-Key", xAPIKey(raw), "", ok, false},
		{"Bearer", bearer(raw), "", ok, false},
		{"lowercase bearer", http.Header{"Authorization": {"bearer " + raw}}, "", ok, false},
		{"mixed-case bearer", http.Header{"Authorization": {"BeArEr " + raw}}, "", ok, false},
		{"extra spaces", http.Header{"Authorization": {"  Bearer    " + raw + "  "}}, "", ok, false},
		{"X-API-Key with spaces", xAPIKey("  " + raw + " "), "", ok, false},
		{"both, the same key", http.Header{"X-Api-Key": {raw}, "Authorization": {"Bearer " + raw}}, "", ok, false},
		{"both, different keys", http.Header{"X-Api-Key": {raw}, "Authorization": {"Bearer " + other}}, "", bad, true},
		{"two X-API-Key headers", http.Header{"X-Api-Key": {raw, other}}, "", bad, true},
		{"Bearer without a key", http.Header{"Authorization": {"Bearer "}}, "", invalid, true},
		{"Basic is no key", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, "", invalid, true},
		{"key without scheme", http.Header{"Authorization": {raw}}, "", invalid, true},
		{"bad checksum", bearer(badChecksum(raw)), "", invalid, true},
		{"malformed", xAPIKey("kw_live_nope"), "", invalid, true},
		{"unknown key", bearer(unknown), "", invalid, false},
		{"query key, turned off", nil, "?key=" + raw, invalid, true},
	}
	routes := []struct {
		path     string
		hasScope bool
		scope    string
	}{{"/v1/api-keys", true, "api_keys:read"}, {"/v1/members", false, "members:read"}}

	var invalidBody string
	for _, tc := range cases {
		for _, rt := range routes {
			app.proxy.Reset()
			res := app.call(t, http.MethodGet, rt.path+tc.query, tc.header, nil)
			want := tc.want
			if want == ok && !rt.hasScope {
				want = http.StatusForbidden
			}
			if res.StatusCode != want {
				t.Fatalf("%s on %s: status %d, want %d (%s)", tc.name, rt.path, res.StatusCode, want, res.Body)
			}
			switch want {
			case invalid:
				e := res.wantError(t, invalid, "invalid_api_key")
				if res.Header.Get("WWW-Authenticate") != "Bearer" {
					t.Fatalf("%s: WWW-Authenticate %q", tc.name, res.Header.Get("WWW-Authenticate"))
				}
				if tc.query != "" {
					if !strings.Contains(e.Error.Message, "header") {
						t.Fatalf("query key refused with %q, which does not say to use the header", e.Error.Message)
					}
				} else if invalidBody == "" {
					invalidBody = e.Error.Message
				} else if e.Error.Message != invalidBody {
					t.Fatalf("%s: 401 message %q differs from %q", tc.name, e.Error.Message, invalidBody)
				}
			case http.StatusForbidden:
				e := res.wantError(t, http.StatusForbidden, "insufficient_scope")
				if !strings.Contains(e.Error.Message, rt.scope) {
					t.Fatalf("403 message %q does not name %s", e.Error.Message, rt.scope)
				}
			case bad:
				res.wantError(t, bad, "bad_request")
			}
			if tc.noDB {
				if s := app.proxy.Statements(); len(s) != 0 {
					t.Fatalf("%s on %s ran %d database statements, want none: %q", tc.name, rt.path, len(s), s)
				}
			}
		}
	}

	// Expired at exactly expires_at, by the server's clock.
	app.call(t, http.MethodGet, "/v1/whoami", bearer(expiring), nil).wantStatus(t, ok)
	app.clock.Set(exp.Add(-time.Nanosecond))
	app.call(t, http.MethodGet, "/v1/whoami", bearer(expiring), nil).wantStatus(t, ok)
	app.clock.Set(exp)
	for _, rt := range routes {
		res := app.call(t, http.MethodGet, rt.path, bearer(expiring), nil)
		if e := res.wantError(t, invalid, "invalid_api_key"); e.Error.Message != invalidBody {
			t.Fatalf("expired key: message %q", e.Error.Message)
		}
	}

	// Revoked.
	if _, err := app.store.RevokeKey(t.Context(), app.team.ID, revokedKey.PublicID, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, rt := range routes {
		res := app.call(t, http.MethodGet, rt.path, bearer(revoked), nil)
		if e := res.wantError(t, invalid, "invalid_api_key"); e.Error.Message != invalidBody {
			t.Fatalf("revoked key: message %q", e.Error.Message)
		}
	}
}

func TestAPIQueryKeyWhenAllowed(t *testing.T) {
	app := newAPIApp(t, withAPIConfig(func(c *config.Config) { c.AllowQueryKey = true }))
	_, raw := app.key(t, app.team.ID, model.PermReadAll)
	_, other := app.key(t, app.team.ID, model.PermReadAll)
	app.call(t, http.MethodGet, "/v1/whoami?key="+raw, nil, nil).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodGet, "/v1/whoami?key="+raw, bearer(raw), nil).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodGet, "/v1/whoami?key="+raw, bearer(other), nil).wantError(t, http.StatusBadRequest, "bad_request")
}

func TestAPIFailedKeyChecksAreRateLimited(t *testing.T) {
	app := newAPIApp(t)
	_, raw := app.key(t, app.team.ID, model.PermReadAll)
	for i := range keyFailBurst {
		app.call(t, http.MethodGet, "/v1/whoami", bearer(badChecksum(raw)), nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
		_ = i
	}
	res := app.call(t, http.MethodGet, "/v1/whoami", bearer(badChecksum(raw)), nil)
	res.wantError(t, http.StatusTooManyRequests, "too_many_failures")
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	// Unknown keys and no key at all are failures too.
	unknown, _ := keys.Generate("kw", "live")
	app.call(t, http.MethodGet, "/v1/whoami", bearer(unknown), nil).wantError(t, http.StatusTooManyRequests, "too_many_failures")
	app.call(t, http.MethodGet, "/v1/api-keys", nil, nil).wantError(t, http.StatusTooManyRequests, "too_many_failures")
	// Only failures are limited: a valid key from the same address (a
	// neighbour behind the same NAT) always goes through, on every route.
	for range 3 {
		app.call(t, http.MethodGet, "/v1/whoami", bearer(raw), nil).wantStatus(t, http.StatusOK)
		app.call(t, http.MethodGet, "/v1/api-keys", xAPIKey(raw), nil).wantStatus(t, http.StatusOK)
	}
	// A token comes back after the refill interval: one more 401, then 429.
	app.clock.Advance(keyFailEvery)
	app.call(t, http.MethodGet, "/v1/whoami", bearer(badChecksum(raw)), nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
	app.call(t, http.MethodGet, "/v1/whoami", bearer(badChecksum(raw)), nil).wantError(t, http.StatusTooManyRequests, "too_many_failures")
}

func TestAPIStoreDown(t *testing.T) {
	app := newAPIApp(t)
	_, cached := app.key(t, app.team.ID, model.PermReadAll)
	_, uncached := app.key(t, app.team.ID, model.PermReadAll)
	unknown, _ := keys.Generate("kw", "live")
	app.call(t, http.MethodGet, "/v1/whoami", bearer(cached), nil).wantStatus(t, http.StatusOK)

	app.proxy.SetDown(true)
	app.call(t, http.MethodGet, "/v1/whoami", bearer(cached), nil).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodGet, "/v1/whoami", bearer(uncached), nil).wantError(t, http.StatusServiceUnavailable, "unavailable")
	app.call(t, http.MethodGet, "/v1/whoami", bearer(unknown), nil).wantError(t, http.StatusServiceUnavailable, "unavailable")
	// A cached key still reaches handlers that need the store: 503, not 200.
	app.call(t, http.MethodGet, "/v1/api-keys", bearer(cached), nil).wantError(t, http.StatusServiceUnavailable, "unavailable")
	if res := app.call(t, http.MethodGet, "/readyz", nil, nil); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database down: %d", res.StatusCode)
	}
	// Past the TTL the cached key needs the store too.
	app.clock.Advance(app.cfg.CacheTTL + time.Second)
	app.call(t, http.MethodGet, "/v1/whoami", bearer(cached), nil).wantError(t, http.StatusServiceUnavailable, "unavailable")

	app.proxy.SetDown(false)
	deadline := time.Now().Add(5 * time.Second)
	for app.call(t, http.MethodGet, "/v1/whoami", bearer(uncached), nil).StatusCode != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the API did not recover when the database came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	app.call(t, http.MethodGet, "/readyz", nil, nil).wantStatus(t, http.StatusOK)
	app.call(t, http.MethodGet, "/v1/whoami", bearer(unknown), nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
}

func TestAPIUnknownRoute(t *testing.T) {
	app := newAPIApp(t)
	_, raw := app.key(t, app.team.ID, model.PermReadAll)
	app.call(t, http.MethodGet, "/v1/nothing-here", nil, nil).wantError(t, http.StatusUnauthorized, "invalid_api_key")
	app.call(t, http.MethodGet, "/v1/nothing-here", bearer(raw), nil).wantError(t, http.StatusNotFound, "not_found")
}
