package web

// Session cookies an attacker could send: forged, truncated, altered, signed
// with another secret, or a signed-out cookie claiming a user. Session
// fixation, replay after logout and the idle and absolute timeouts are
// covered in login_test.go (TestSessionIDChangesAtLoginAndReplayAfterLogoutIsRefused,
// TestSessionIdleAndAbsoluteTimeouts); these add the cookies themselves.

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/sessions"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
)

func TestSecurityForgedSessionCookies(t *testing.T) {
	fx := newSecFixture(t)
	good := fx.cl.sessionCookie()
	if good == nil {
		t.Fatal("no session cookie after sign-in")
	}
	name := good.Name
	fx.key(t, fx.team.ID, "Billing", model.PermReadAll)

	// A cookie signed with another secret whose token is a real session of
	// this database: a second server on the same store signs it.
	cfg2 := *fx.app.cfg
	cfg2.SessionSecret = []byte("another-session-secret-0123456789abcdef")
	srv2, err := New(&cfg2, fx.app.store, Options{Now: fx.app.clock.Now, Logger: fx.app.srv.log})
	if err != nil {
		t.Fatal(err)
	}
	hs2 := httptest.NewServer(srv2.Handler())
	t.Cleanup(func() {
		hs2.Close()
		_ = srv2.Close(context.Background())
	})
	other := &testApp{srv: srv2, store: fx.app.store, cfg: &cfg2, clock: fx.app.clock, http: hs2, logs: fx.app.logs, URL: hs2.URL}
	ocl := other.client(t)
	ocl.login(t, "owner@example.com", testPassword)
	foreign := ocl.sessionCookie().Value

	// A signed-out cookie, properly signed, that claims a user id and team:
	// only the database makes a session signed in.
	st, err := auth.NewSessionStore(fx.app.store, fx.app.cfg.SessionSecret, false, fx.app.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	claim := sessions.NewSession(st, name)
	claim.Options = &sessions.Options{Path: "/"}
	claim.Values[auth.KeyUserID] = strconv.FormatInt(fx.owner.ID, 10)
	claim.Values[sessTeamID] = strconv.FormatInt(fx.team.ID, 10)
	claim.Values[sessCSRF] = "chosen-token"
	rec := httptest.NewRecorder()
	if err := st.Save(httptest.NewRequest(http.MethodGet, "/", nil), rec, claim); err != nil {
		t.Fatal(err)
	}
	var claimed string
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			claimed = c.Value
		}
	}
	if claimed == "" {
		t.Fatal("no cookie written for the claim")
	}

	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	v := good.Value
	forged := map[string]string{
		"random":                         base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("forged session ", 8))),
		"empty":                          "",
		"truncated by one":               v[:len(v)-1],
		"truncated by half":              v[:len(v)/2],
		"one character changed":          flip(v, len(v)/2),
		"last character changed":         flip(v, len(v)-1),
		"doubled":                        v + v,
		"with a suffix":                  v + "|admin",
		"signed with another secret":     foreign,
		"signed-out, claiming a user":    claimed,
		"SQL":                            "' OR 1=1--",
		"5 KB":                           strings.Repeat("A", 5<<10),
		"another session's stored id":    auth.TokenHash("x"),
		"base64 of a made-up token pair": base64.URLEncoding.EncodeToString([]byte("1234567890|token|sig")),
	}
	before := fx.snapshot(t)
	for what, value := range forged {
		cl := fx.app.client(t)
		cl.setCookie(&http.Cookie{Name: name, Value: value})
		res := cl.get(t, "/settings/api-keys")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Errorf("%s cookie: GET /settings/api-keys answered %d to %q, want a redirect to sign in", what, res.StatusCode, res.Header.Get("Location"))
		}
		res = cl.rawPost(t, "/settings/api-keys", withFields(keyForm("name", "Forged"), csrfFormField, "chosen-token"), nil)
		if res.StatusCode != http.StatusForbidden && !(res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/login")) {
			t.Errorf("%s cookie: POST /settings/api-keys answered %d", what, res.StatusCode)
		}
		res = cl.htmxGet(t, "/settings/api-keys")
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("HX-Redirect") == "" {
			t.Errorf("%s cookie: htmx GET answered %d", what, res.StatusCode)
		}
	}
	fx.unchanged(t, before, "forged session cookies")
	if strings.Contains(fx.app.logs.String(), "level=ERROR") {
		t.Fatalf("a forged cookie caused an error:\n%s", fx.app.logs.String())
	}
	// The real cookie still works, and the other server's sessions are its own.
	fx.cl.get(t, "/settings/api-keys").wantStatus(t, http.StatusOK)
	ocl.get(t, "/settings/api-keys").wantStatus(t, http.StatusOK)
}
