package web

// Secrets at rest: after keys are made through the dashboard and the API,
// and passwords are set, generated, changed and mistyped, no table (every
// column as text), no log line and no metric holds a raw key, a password or
// a session id. The command line's part is in cmd/keyward.

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/securecookie"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// sessionToken decodes a session cookie into the token it carries (the
// session id the cookie stands for), as the server does.
func sessionToken(t *testing.T, app *testApp, c *http.Cookie) string {
	t.Helper()
	hashKey, err := hkdf.Key(sha256.New, app.cfg.SessionSecret, nil, "keyward session cookie signing", 32)
	if err != nil {
		t.Fatal(err)
	}
	blockKey, err := hkdf.Key(sha256.New, app.cfg.SessionSecret, nil, "keyward session cookie encryption", 32)
	if err != nil {
		t.Fatal(err)
	}
	var cv struct {
		Token  string
		Values map[string]string
	}
	if err := securecookie.New(hashKey, blockKey).Decode(c.Name, c.Value, &cv); err != nil {
		t.Fatalf("decoding the session cookie: %v", err)
	}
	if cv.Token == "" {
		t.Fatal("a signed-in cookie without a token")
	}
	return cv.Token
}

func TestSecuritySecretsAreNotStoredOrLogged(t *testing.T) {
	app := newTestApp(t)
	ctx := context.Background()
	secrets := map[string]string{} // what → value
	const (
		setupPassword   = "first secret phrase 1"
		changedPassword = "changed secret phrase 2"
		wrongPassword   = "mistyped secret phrase 3"
	)
	secrets["setup password"] = setupPassword
	secrets["changed password"] = changedPassword
	secrets["mistyped password"] = wrongPassword

	// Setup signs the first owner in.
	cl := app.client(t)
	cl.postForm(t, "/setup", url.Values{"email": {"owner@example.com"}, "password": {setupPassword}, "team": {"Acme"}}).wantRedirect(t, "/")
	cl.csrf = ""
	secrets["session after setup"] = sessionToken(t, app, cl.sessionCookie())
	secrets["cookie after setup"] = cl.sessionCookie().Value

	// A mistyped sign-in (audited as session.login_failed), then a good one.
	other := app.client(t)
	other.postForm(t, "/login", url.Values{"email": {"owner@example.com"}, "password": {wrongPassword}}).wantStatus(t, http.StatusUnauthorized)
	other.login(t, "owner@example.com", setupPassword)
	secrets["second session"] = sessionToken(t, app, other.sessionCookie())
	secrets["second cookie"] = other.sessionCookie().Value

	// Keys through the dashboard: a plain form and htmx.
	res := cl.postForm(t, "/settings/api-keys", keyForm("name", "Dashboard key", "permission", "write_all"))
	res.wantStatus(t, http.StatusOK)
	secrets["dashboard key"] = attr(res.first(t, "input#new-key"), "value")
	res = cl.htmxPost(t, "/settings/api-keys", keyForm("name", "htmx key"))
	res.wantStatus(t, http.StatusOK)
	secrets["htmx key"] = attr(res.first(t, "input#new-key"), "value")

	// A member invited, who joins with a password of their own; then a
	// password reset link for them.
	res = cl.postForm(t, "/settings/members", url.Values{"email": {"new@example.com"}, "role": {"ADMIN"}})
	res.wantStatus(t, http.StatusOK)
	invitation := linkPath(t, attr(res.first(t, "input#one-time-link"), "value"))
	secrets["invitation token"] = strings.TrimPrefix(invitation, "/invitations/")
	secrets["member password"] = "the member's own phrase 4"
	member := app.client(t)
	member.postForm(t, invitation, url.Values{"password": {secrets["member password"]}, "confirm_password": {secrets["member password"]}}).wantRedirect(t, "/")
	secrets["member session"] = sessionToken(t, app, member.sessionCookie())
	m, err := app.store.FindMembership(ctx, 1, userID(t, app, "new@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	res = cl.postForm(t, "/settings/members/"+strconv.FormatInt(m.ID, 10)+"/password-reset", nil)
	res.wantStatus(t, http.StatusOK)
	secrets["reset token"] = strings.TrimPrefix(linkPath(t, attr(res.first(t, "input#one-time-link"), "value")), "/password/reset/")
	member.get(t, "/password/reset/"+secrets["reset token"]).wantStatus(t, http.StatusOK)

	// Keys through the API, authenticated by the dashboard's key, sent in
	// every place a key may be.
	api := func(method, path string, h http.Header, body string) *apiCallResult {
		req, err := http.NewRequest(method, app.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if h != nil {
			req.Header = h
		}
		req.Header.Set("Content-Type", "application/json")
		r, err := app.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var out apiCallResult
		out.status = r.StatusCode
		if r.StatusCode == http.StatusCreated {
			var k apiKeyCreatedJSON
			if err := decodeBody(r, &k); err != nil {
				t.Fatal(err)
			}
			out.key = k.Key
		}
		return &out
	}
	dk := secrets["dashboard key"]
	created := api(http.MethodPost, "/v1/api-keys", http.Header{"Authorization": {"Bearer " + dk}}, `{"name":"API key","permission":"read_all"}`)
	if created.status != http.StatusCreated || created.key == "" {
		t.Fatalf("API create: %d", created.status)
	}
	secrets["API key"] = created.key
	api(http.MethodGet, "/v1/whoami", http.Header{"X-Api-Key": {created.key}}, "")
	api(http.MethodPost, "/v1/keys/verify", http.Header{"X-Api-Key": {dk}}, `{"key":"`+secrets["htmx key"]+`"}`)
	api(http.MethodGet, "/v1/whoami?key="+secrets["htmx key"], nil, "")
	api(http.MethodGet, "/v1/whoami", http.Header{"Authorization": {"Bearer " + secrets["htmx key"]}, "X-Api-Key": {created.key}}, "")

	// A key revoked and one deleted keep their secrets out too.
	hk, err := app.store.FindKeyByHash(ctx, keys.Hash(secrets["htmx key"]))
	if err != nil {
		t.Fatal(err)
	}
	cl.postForm(t, "/settings/api-keys/"+hk.PublicID+"/revoke", nil).wantRedirect(t, "/settings/api-keys")
	api(http.MethodGet, "/v1/whoami", http.Header{"X-Api-Key": {secrets["htmx key"]}}, "")

	// The owner changes the password; then signs out.
	cl.postForm(t, "/account/password", url.Values{"current_password": {setupPassword}, "new_password": {changedPassword},
		"confirm_password": {changedPassword}})
	cl.csrf = "" // the session is renewed with the password
	cl.login(t, "owner@example.com", changedPassword)
	secrets["session after the change"] = sessionToken(t, app, cl.sessionCookie())
	cl.logout(t)

	// Flush the buffered uses so that everything is written.
	if err := app.srv.recorder.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	app.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	metrics := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(metrics, "keyward_http_requests_total") {
		t.Fatalf("metrics: %d %.200s", rec.Code, metrics)
	}

	dump := (&keysFixture{app: app}).dumpAll(t)
	logs := app.logs.String()
	if !strings.Contains(logs, "request") || !strings.Contains(dump, "api_key.created") {
		t.Fatalf("nothing was logged or audited: the check below would be empty")
	}
	for what, secret := range secrets {
		if len(secret) < 10 {
			t.Fatalf("%s is too short to search for: %q", what, secret)
		}
		needles := []string{secret, url.QueryEscape(secret)}
		if strings.HasPrefix(secret, "kw_") {
			// The secret part of a key, without prefix or check.
			needles = append(needles, secret[8:40])
		}
		for _, n := range needles {
			for where, text := range map[string]string{"the database": dump, "the logs": logs, "the metrics": metrics} {
				if strings.Contains(text, n) {
					i := strings.Index(text, n)
					t.Errorf("the %s is in %s: …%s…", what, where, text[max(0, i-200):min(len(text), i+len(n)+50)])
				}
			}
		}
	}
	// What is stored instead: the hash of each key, and of each session.
	for _, what := range []string{"dashboard key", "API key"} {
		if !strings.Contains(dump, keys.Hash(secrets[what])) {
			t.Errorf("the %s's hash is not stored: the dump is not what the test thinks", what)
		}
	}
	if _, err := app.store.FindUserByEmail(ctx, "new@example.com"); model.ErrorCode(err) != "" {
		t.Fatal(err)
	}
}

// apiCallResult is the status of a call and the raw key it created, if any.
type apiCallResult struct {
	status int
	key    string
}

func decodeBody(r *http.Response, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	return jsonUnmarshal(string(b), v)
}

// A key pasted into a URL by mistake (where an id belongs, or as ?key=
// while that is off) is not written to the log with the path.
func TestSecurityKeysInURLsAreNotLogged(t *testing.T) {
	fx := newSecFixture(t)
	_, raw := fx.authKey(t, "Pasted", model.PermWriteAll)
	_, other := fx.key(t, fx.team.ID, "Other", model.PermReadAll)
	fx.api(t, http.MethodGet, "/v1/api-keys/"+other, bearerHeader(raw), "").wantStatus(t, http.StatusNotFound, "a key as an id")
	fx.api(t, http.MethodGet, "/v1/"+other, bearerHeader(raw), "").wantStatus(t, http.StatusNotFound, "a key as a path")
	fx.api(t, http.MethodGet, "/v1/whoami?key="+other, nil, "").wantStatus(t, http.StatusUnauthorized, "a key in the query")
	fx.api(t, http.MethodGet, "/"+other+"/"+other[:len(other)-1], nil, "").wantStatus(t, http.StatusNotFound, "keys as a page")
	fx.cl.get(t, "/settings/api-keys/"+other).wantStatus(t, http.StatusNotFound)
	fx.cl.rawPost(t, "/settings/api-keys/"+other+"/revoke", nil, nil).wantStatus(t, http.StatusForbidden)
	logs := fx.app.logs.String()
	if !strings.Contains(logs, "status=404") {
		t.Fatalf("nothing was logged: the check below would be empty\n%s", logs)
	}
	for _, secret := range []string{other, other[8:40], raw} {
		if i := strings.Index(logs, secret); i >= 0 {
			t.Fatalf("a key is in the log: …%s…", logs[max(0, i-200):min(len(logs), i+len(secret)+20)])
		}
	}
}
