package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/auth"
)

func TestLoginSameAnswerForWrongPasswordAndUnknownEmail(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)

	wrongPw := cl.postForm(t, "/login", url.Values{"email": {"owner@example.com"}, "password": {"wrong password!"}})
	unknown := cl.postForm(t, "/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password!"}})
	for _, res := range []*testResponse{wrongPw, unknown} {
		res.wantStatus(t, http.StatusUnauthorized)
		if got := res.text(t, ".notice-error"); got != loginFailedMessage {
			t.Errorf("notice = %q, want %q", got, loginFailedMessage)
		}
		if cl.sessionCookie() != nil && cl.sessionCookie().Value != "" {
			if _, ok := decodeForTest(t, app, cl); ok {
				t.Fatalf("a failed sign-in started a session")
			}
		}
	}
	// Same page apart from the e-mail echoed back and the CSRF token.
	norm := func(r *testResponse, email string) string {
		return strings.ReplaceAll(r.Body, email, "EMAIL")
	}
	if norm(wrongPw, "owner@example.com") != norm(unknown, "nobody@example.com") {
		t.Errorf("wrong password and unknown e-mail answer differently:\n%s\n---\n%s", wrongPw.Body, unknown.Body)
	}
	if strings.Contains(app.logs.String(), "wrong password!") {
		t.Errorf("the password was logged")
	}

	// And the right password signs in.
	res := cl.postForm(t, "/login", url.Values{"email": {"OWNER@example.com "}, "password": {testPassword}})
	res.wantRedirect(t, "/")
	cl.get(t, "/").wantRedirect(t, "/settings/api-keys")
}

// decodeForTest reports whether the client's session cookie names a
// signed-in session on the server.
func decodeForTest(t *testing.T, app *testApp, cl *testClient) (int64, bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/", nil)
	if c := cl.sessionCookie(); c != nil {
		req.AddCookie(c)
	}
	sess, err := app.srv.acc.sessions.New(req, app.srv.acc.cookie)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := sess.Values[auth.KeyUserID].(int64)
	return id, ok
}

func TestSessionCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "secure"}[secure], func(t *testing.T) {
			var opts []testAppOption
			if secure {
				opts = append(opts, withSecureCookies())
			}
			app := newTestApp(t, opts...)
			app.setup(t, "owner@example.com", testPassword, "Acme")
			cl := app.client(t)
			cl.csrfToken(t)
			res := cl.postForm(t, "/login", url.Values{"email": {"owner@example.com"}, "password": {testPassword}})
			res.wantRedirect(t, "/")
			var set *http.Cookie
			for _, c := range res.Cookies() {
				if c.Name == auth.CookieName(secure) {
					set = c
				}
			}
			if set == nil {
				t.Fatalf("no %s cookie set at sign-in; Set-Cookie: %q", auth.CookieName(secure), res.Header.Values("Set-Cookie"))
			}
			if !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Path != "/" || set.Domain != "" {
				t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, Path=/, no Domain", set)
			}
			if set.Secure != secure {
				t.Errorf("cookie Secure = %v, want %v", set.Secure, secure)
			}
			if secure && set.Name != "__Host-keyward" {
				t.Errorf("secure cookie name %q, want __Host-keyward", set.Name)
			}
			// The cookie does not carry the stored id: the table keeps a hash.
			if _, err := app.store.FindSession(context.Background(), set.Value); err == nil {
				t.Errorf("the cookie value is a stored session id")
			}
		})
	}
}

func TestSessionIDChangesAtLoginAndReplayAfterLogoutIsRefused(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.csrfToken(t)
	before := cl.sessionCookie()
	if before == nil {
		t.Fatal("no session cookie before sign-in")
	}
	cl.login(t, "owner@example.com", testPassword)
	first := cl.sessionCookie()
	if first.Value == before.Value {
		t.Fatal("the session cookie did not change at sign-in")
	}
	// Signing in again, even from a signed-in session, issues a new id and
	// ends the old one.
	cl.login(t, "owner@example.com", testPassword)
	second := cl.sessionCookie()
	if second.Value == first.Value {
		t.Fatal("the session id did not change at the second sign-in")
	}
	old := app.client(t)
	old.setCookie(first)
	old.get(t, "/").wantRedirect(t, "/login")

	// Sign out, then replay the cookie from before.
	cl.logout(t)
	cl.get(t, "/").wantRedirect(t, "/login")
	replay := app.client(t)
	replay.setCookie(second)
	replay.get(t, "/").wantRedirect(t, "/login")
	res := replay.rawPost(t, "/logout", url.Values{}, nil)
	res.wantStatus(t, http.StatusForbidden)
}

func TestSessionIdleAndAbsoluteTimeouts(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")

	t.Run("idle", func(t *testing.T) {
		cl := app.client(t)
		cl.login(t, "owner@example.com", testPassword)
		app.clock.Advance(29 * time.Minute)
		cl.get(t, "/").wantRedirect(t, "/settings/api-keys")
		app.clock.Advance(29 * time.Minute) // 58 minutes in, but active 29 minutes ago
		cl.get(t, "/").wantRedirect(t, "/settings/api-keys")
		app.clock.Advance(30 * time.Minute)
		cl.get(t, "/").wantRedirect(t, "/login")
		res := cl.get(t, "/login")
		res.wantStatus(t, http.StatusOK)
		if !strings.Contains(res.text(t, ".notice"), "30 minutes without activity") {
			t.Errorf("no idle notice on the sign-in page:\n%s", res.Body)
		}
	})

	t.Run("absolute", func(t *testing.T) {
		cl := app.client(t)
		cl.login(t, "owner@example.com", testPassword)
		for elapsed := time.Duration(0); elapsed < 12*time.Hour-20*time.Minute; elapsed += 20 * time.Minute {
			app.clock.Advance(20 * time.Minute)
			cl.get(t, "/").wantRedirect(t, "/settings/api-keys")
		}
		app.clock.Advance(20 * time.Minute) // 12 hours after sign-in, active all along
		cl.get(t, "/").wantRedirect(t, "/login")
		if !strings.Contains(cl.get(t, "/login").text(t, ".notice"), "12 hours") {
			t.Errorf("no absolute-timeout notice on the sign-in page")
		}
	})
}

func TestCSRFRequired(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	token := cl.csrfToken(t)

	login := url.Values{"email": {"owner@example.com"}, "password": {testPassword}}
	// No token, a wrong token, a cross-site request, a foreign origin: 403
	// and no session.
	cases := []struct {
		name   string
		form   url.Values
		header http.Header
	}{
		{"missing", login, nil},
		{"wrong", withField(login, "_csrf", token+"x"), nil},
		{"wrong header", login, http.Header{"X-Csrf-Token": {"nope"}}},
		{"cross-site", withField(login, "_csrf", token), http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"foreign origin", withField(login, "_csrf", token), http.Header{"Origin": {"https://evil.example"}}},
	}
	for _, tc := range cases {
		res := cl.rawPost(t, "/login", tc.form, tc.header)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, res.StatusCode)
		}
		if _, ok := decodeForTest(t, app, cl); ok {
			t.Fatalf("%s: signed in without a valid CSRF token", tc.name)
		}
	}
	// A token in the query string counts for nothing: it would end up in
	// logs, history and Referer headers.
	res := cl.rawPost(t, "/login?_csrf="+url.QueryEscape(token), login, nil)
	res.wantStatus(t, http.StatusForbidden)
	if _, ok := decodeForTest(t, app, cl); ok {
		t.Fatal("signed in with the CSRF token in the query string")
	}
	// The token in the header works as well as the field.
	res = cl.rawPost(t, "/login", login, http.Header{"X-Csrf-Token": {token}, "Origin": {app.URL}})
	res.wantRedirect(t, "/")
	cl.csrf = ""

	// Signed in: a POST without the (new) token changes nothing.
	before := cl.sessionCookie().Value
	res = cl.rawPost(t, "/logout", url.Values{"_csrf": {token}}, nil) // the pre-sign-in token is dead
	res.wantStatus(t, http.StatusForbidden)
	if cl.sessionCookie().Value != before {
		t.Fatal("a refused logout changed the session cookie")
	}
	cl.get(t, "/").wantRedirect(t, "/settings/api-keys")
}

func withField(v url.Values, k, val string) url.Values {
	out := url.Values{}
	for key, vals := range v {
		out[key] = vals
	}
	out.Set(k, val)
	return out
}

func TestLogoutEndsSession(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	cl.logout(t)
	res := cl.get(t, "/login")
	res.wantStatus(t, http.StatusOK)
	if got := res.text(t, ".notice"); got != "You have signed out." {
		t.Errorf("notice after sign-out = %q", got)
	}
	if _, ok := decodeForTest(t, app, cl); ok {
		t.Fatal("still signed in after logout")
	}
}
