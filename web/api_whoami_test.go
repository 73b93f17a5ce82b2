package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// FuzzAppendJSONString holds appendJSONString to encoding/json's own
// encoding of a string, byte for byte, for any input (invalid UTF-8
// included).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "<script>&amp;</script>", "\x00\x01\b\f\n\r\t\x1f\x7f",
		"é ü 日本 🔑", "\u2028\u2029", "\xff\xfe bad \xc3", "a\u200bb", string(utf8.RuneError)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json has %s", s, got, want)
		}
	})
}

// TestWhoamiAnswerIsEncodingJSON holds the whoami answer, which is written
// by hand for speed, to what encoding/json writes for whoamiJSON: for a key
// without restrictions, one with every restriction and an expiry with
// nanoseconds, a restricted key with scopes, and names that need escaping.
func TestWhoamiAnswerIsEncodingJSON(t *testing.T) {
	app := newAPIApp(t)
	exp := time.Date(2031, 5, 4, 3, 2, 1, 123456789, time.UTC)
	type tc struct {
		name string
		key  model.APIKey // as created: the restrictions as the cache holds them
		raw  string
	}
	var cases []tc
	k, raw := app.key(t, app.team.ID, model.PermReadAll)
	cases = append(cases, tc{"plain", k, raw})
	k, raw = app.keyExpiring(t, app.team.ID, &exp, model.PermRestricted, "api_keys:read", "members:write")
	cases = append(cases, tc{"restricted scopes, expiring", k, raw})
	k, raw = app.restrictedKey(t, model.Restrictions{
		AllowedIPs: []string{"127.0.0.0/8", "2001:db8::/32"}, AllowedReferrers: []string{"app.example.com", "*.example.com"},
		RateLimit: &model.RateLimit{Limit: 100, Period: model.RatePerMinute},
		Quota:     &model.Quota{Remaining: 50, RefillAmount: 50, RefillPeriod: model.RefillDay},
	})
	cases = append(cases, tc{"every restriction", k, raw})
	k, raw = app.restrictedKey(t, model.Restrictions{Quota: &model.Quota{Remaining: 7}})
	cases = append(cases, tc{"quota without refill", k, raw})
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	k = model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: app.team.ID, Name: `Billing <prod> & "ops" \ é 日本`,
		Environment: "live", KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermWriteAll, Scopes: []string{}}
	if err := app.store.CreateKey(t.Context(), &k, model.Actor{Label: "test"}); err != nil {
		t.Fatalf("create key: %v", err)
	}
	cases = append(cases, tc{"name to escape", k, raw})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := with(bearer(c.raw), "Origin", "https://app.example.com")
			res := app.call(t, http.MethodGet, "/v1/whoami", h, nil)
			res.wantStatus(t, http.StatusOK)
			stored, err := app.store.FindKeyByHash(t.Context(), c.key.KeyHash)
			if err != nil {
				t.Fatal(err)
			}
			want := whoamiJSON{ID: stored.PublicID, Name: stored.Name, TeamID: stored.TeamID, Environment: stored.Environment,
				Hint: stored.Hint, Permission: string(stored.PermissionSet), Scopes: stored.Permission().ScopeStrings(),
				ExpiresAt: stored.ExpiresAt, Restrictions: c.key.Restrictions().Clone()}
			if want.ExpiresAt != nil {
				utc := want.ExpiresAt.UTC()
				want.ExpiresAt = &utc
			}
			if want.Quota != nil {
				left := want.Quota.Remaining - 1 // less this call
				want.QuotaRemaining = &left
			}
			var buf bytes.Buffer
			if err := json.NewEncoder(&buf).Encode(want); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Body, buf.Bytes()) {
				t.Fatalf("whoami answered\n%s\nencoding/json writes\n%s", res.Body, buf.Bytes())
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			// ?pretty, which Echo's JSON answers honour, still indents.
			pretty := app.call(t, http.MethodGet, "/v1/whoami?pretty", h, nil)
			pretty.wantStatus(t, http.StatusOK)
			if !bytes.Contains(pretty.Body, []byte("\n  \"id\": ")) {
				t.Fatalf("?pretty answered %s", pretty.Body)
			}
		})
	}
}

// TestAPIErrorBodyIsEncodingJSON holds API error bodies, written by hand
// (writeAPIError), to encoding/json's encoding of APIError.
func TestAPIErrorBodyIsEncodingJSON(t *testing.T) {
	app := newAPIApp(t)
	_, narrow := app.key(t, app.team.ID, model.PermRestricted, "api_keys:read")
	for _, c := range []struct {
		path   string
		h      http.Header
		status int
		code   string
		msg    string
	}{
		{"/v1/whoami", nil, http.StatusUnauthorized, "invalid_api_key", invalidKeyMessage},
		{"/v1/members", bearer(narrow), http.StatusForbidden, "insufficient_scope", "This key lacks the members:read scope, which this request needs."},
		{"/v1/api-keys/key_nope", bearer(narrow), http.StatusNotFound, "not_found", ""},
	} {
		res := app.call(t, http.MethodGet, c.path, c.h, nil)
		res.wantStatus(t, c.status)
		var got APIError
		res.decode(t, &got)
		if got.Error.Code != c.code || (c.msg != "" && got.Error.Message != c.msg) || got.Error.RequestID != res.Header.Get("X-Request-ID") {
			t.Fatalf("%s: %+v", c.path, got)
		}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.Body, want.Bytes()) {
			t.Fatalf("%s answered\n%s\nencoding/json writes\n%s", c.path, res.Body, want.Bytes())
		}
		pretty := app.call(t, http.MethodGet, c.path+"?pretty", c.h, nil)
		if !bytes.Contains(pretty.Body, []byte("{\n  \"error\": {\n    \"code\": ")) {
			t.Fatalf("%s?pretty answered %s", c.path, pretty.Body)
		}
	}
}

// TestAnswerHeaders: every answer carries DESIGN.md's rule 5 headers;
// /v1 answers and the probes add no-store, pages X-Frame-Options and
// Cross-Origin-Opener-Policy (documents a browser shows; a JSON answer is
// none, and the CSP's frame-ancestors keeps it out of frames).
func TestAnswerHeaders(t *testing.T) {
	app := newAPIApp(t)
	_, raw := app.key(t, app.team.ID, model.PermReadAll)
	_, narrow := app.key(t, app.team.ID, model.PermRestricted, "api_keys:read")
	_, limited := app.restrictedKey(t, model.Restrictions{RateLimit: &model.RateLimit{Limit: 100, Period: model.RatePerMinute}})
	for _, c := range []struct {
		path    string
		h       http.Header
		status  int
		machine bool
	}{
		{"/v1/whoami", bearer(raw), http.StatusOK, true},
		{"/v1/whoami", bearer(limited), http.StatusOK, true},
		{"/v1/whoami", nil, http.StatusUnauthorized, true},
		{"/v1/members", bearer(narrow), http.StatusForbidden, true},
		{"/healthz", nil, http.StatusOK, true},
		{"/login", nil, http.StatusOK, false},
		{"/no-such-page", nil, http.StatusNotFound, false},
	} {
		res := app.call(t, http.MethodGet, c.path, c.h, nil)
		res.wantStatus(t, c.status)
		h := res.Header
		if h.Get("Content-Security-Policy") != contentSecurityPolicy || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "same-origin" || h.Get("X-Request-Id") == "" {
			t.Errorf("%s: rule 5 headers missing: %v", c.path, h)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", c.path)
		}
		doc := h.Get("X-Frame-Options") == "DENY" && h.Get("Cross-Origin-Opener-Policy") == "same-origin"
		if c.machine && (h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "" || h.Get("Cross-Origin-Opener-Policy") != "") {
			t.Errorf("%s: want no-store and no document headers: %v", c.path, h)
		}
		if !c.machine && !doc {
			t.Errorf("%s: page without X-Frame-Options and Cross-Origin-Opener-Policy: %v", c.path, h)
		}
	}
}
