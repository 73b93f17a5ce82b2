package web

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

// /v1 request bodies are strict: JSON by Content-Type, exact field names,
// one object and nothing after it, required fields present.
func TestAPIBodiesAreStrict(t *testing.T) {
	app := newAPIApp(t)
	_, raw := app.key(t, app.team.ID, model.PermWriteAll)
	target, _ := app.key(t, app.team.ID, model.PermReadAll)
	send := func(method, path, contentType, body string) *apiResponse {
		t.Helper()
		h := bearer(raw)
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		req, err := http.NewRequest(method, app.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		res, err := app.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		r := &apiResponse{Response: res, Body: b}
		validateAgainstOpenAPI(t, req, r)
		return r
	}
	create := `{"name":"strict","permission":"read_all"}`
	verify := `{"key":"` + raw + `"}`
	patch := `{"name":"strict"}`
	for _, tc := range []struct {
		method, path, body string
		ok                 int
	}{
		{http.MethodPost, "/v1/api-keys", create, http.StatusCreated},
		{http.MethodPatch, "/v1/api-keys/" + target.PublicID, patch, http.StatusOK},
		{http.MethodPost, "/v1/keys/verify", verify, http.StatusOK},
	} {
		// 415 unless the body is sent as application/json.
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx", "multipart/form-data; boundary=x"} {
			send(tc.method, tc.path, ct, tc.body).wantError(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
		}
		send(tc.method, tc.path, "application/json; charset=utf-8", tc.body).wantStatus(t, tc.ok)
		// Unknown fields: 422 naming the field, also in another case.
		for _, field := range []string{"colour", "Name", "NAME", "Key", "na me"} {
			body := strings.Replace(tc.body, "{", `{"`+field+`":"x",`, 1)
			e := send(tc.method, tc.path, "application/json", body).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
			if !strings.Contains(e.Error.Message, `"`+field+`"`) {
				t.Fatalf("%s %s with %q: message %q does not name it", tc.method, tc.path, field, e.Error.Message)
			}
		}
		// A field twice: 422.
		twice := strings.Replace(tc.body, "{", `{"name":"a",`, 1)
		if tc.path == "/v1/keys/verify" {
			twice = strings.Replace(tc.body, "{", `{"key":"a",`, 1)
		}
		send(tc.method, tc.path, "application/json", twice).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
		// Trailing data: 400.
		for _, trail := range []string{" {}", "x", " []", ` "x"`, "\n{}"} {
			send(tc.method, tc.path, "application/json", tc.body+trail).wantError(t, http.StatusBadRequest, "bad_request")
		}
		// Not one object: 400.
		for _, body := range []string{"", "null", "[]", `"x"`, "1", "{"} {
			send(tc.method, tc.path, "application/json", body).wantError(t, http.StatusBadRequest, "bad_request")
		}
	}
	// Unknown members of a nested object are refused too (422 naming them),
	// on create and on edit, and change nothing.
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodPost, "/v1/api-keys", `{"name":"n","permission":"read_all","rate_limit":{"limit":5,"period":"1m","burst":3}}`},
		{http.MethodPost, "/v1/api-keys", `{"name":"n","permission":"read_all","quota":{"remaining":5,"Remaining":6}}`},
		{http.MethodPatch, "/v1/api-keys/" + target.PublicID, `{"rate_limit":{"limit":5,"period":"1m","burst":3}}`},
	} {
		before := takeSnapshot(t, app.dsn)
		send(tc.method, tc.path, "application/json", tc.body).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
		if after := takeSnapshot(t, app.dsn); fmt.Sprint(before["api_keys"]) != fmt.Sprint(after["api_keys"]) {
			t.Fatalf("%s %s %s changed keys", tc.method, tc.path, tc.body)
		}
	}
	// The key to check is required.
	for _, body := range []string{`{}`, `{"key":""}`, `{"key":null}`, `{"scope":"invoices:read"}`} {
		send(http.MethodPost, "/v1/keys/verify", "application/json", body).wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	}
	// An empty or null environment is refused, not taken for live; left out it is live.
	for _, env := range []string{`""`, `null`, `" "`, `"prod"`, `1`, `["live"]`} {
		e := send(http.MethodPost, "/v1/api-keys", "application/json", `{"name":"e","permission":"read_all","environment":`+env+`}`).
			wantError(t, http.StatusUnprocessableEntity, "invalid_request")
		if !strings.Contains(e.Error.Message, "environment") {
			t.Fatalf("environment %s: message %q", env, e.Error.Message)
		}
	}
	var made apiKeyCreatedJSON
	send(http.MethodPost, "/v1/api-keys", "application/json", `{"name":"e","permission":"read_all"}`).decode(t, &made)
	if made.Environment != model.EnvLive {
		t.Fatalf("no environment: %q", made.Environment)
	}
}

// safeNext keeps a path on this site and turns anything a browser could
// take to another site into "/".
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/settings/api-keys":                "/settings/api-keys",
		"/settings/api-keys?q=a%20b&page=2": "/settings/api-keys?q=a%20b&page=2",
		"/settings/api-keys/key_1#usage":    "/settings/api-keys/key_1#usage",
		"/%2F%2Fevil.example":               "/",
		"/%252F%252Fevil.example":           "/%252F%252Fevil.example", // a path named "%2F%2Fevil.example"
		"/%5Cevil.example":                  "/%5Cevil.example",        // a path named "\evil.example"
		"/%09/evil.example":                 "/",
		"":                                  "/",
		"//evil.example":                    "/",
		"///evil.example":                   "/",
		"/\\evil.example":                   "/",
		"\\/evil.example":                   "/",
		"/\t/evil.example/x":                "/",
		"/\n/evil.example":                  "/",
		"/\r/evil.example":                  "/",
		"/ \t/evil.example":                 "/",
		"/\x00/evil.example":                "/",
		"/\x7f/evil.example":                "/",
		"/\u0085/evil.example":              "/",
		"/path\\with\\backslashes":          "/",
		"https://evil.example/":             "/",
		"http:/evil.example":                "/",
		"javascript:alert(1)":               "/",
		"evil.example":                      "/",
		" /settings":                        "/",
		"/\xff":                             "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// Signing in with a hostile next lands on this site: the review's tab
// trick, in the query of GET /login and in the form of POST /login.
func TestLoginNextStaysOnTheSite(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	for _, next := range []string{"/\t/evil.example/x", "/\n/evil.example", "/\\evil.example", "\\/evil.example",
		"//evil.example", "/%2F%2Fevil.example", "https://evil.example"} {
		cl := app.client(t)
		res := cl.postForm(t, "/login", url.Values{"email": {"owner@example.com"}, "password": {testPassword}, "next": {next}})
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Errorf("POST /login with next %q: %d to %q", next, res.StatusCode, loc)
		}
		// Signed in, GET /login?next= redirects at once.
		res = cl.get(t, "/login?next="+url.QueryEscape(next))
		if loc := res.Header.Get("Location"); res.StatusCode/100 == 3 && loc != "/" {
			t.Errorf("GET /login?next=%q: %d to %q", next, res.StatusCode, loc)
		}
	}
	cl := app.client(t)
	res := cl.get(t, "/login?next="+url.QueryEscape("/settings/audit-log?action=api_key.created"))
	if got := attr(res.first(t, `input[name=next]`), "value"); got != "/settings/audit-log?action=api_key.created" {
		t.Fatalf("the form keeps next as %q", got)
	}
}

// Names of keys, teams and members refuse bidirectional overrides and
// zero-width characters (Trojan Source), with a clear message; other
// scripts and emoji are welcome.
func TestDeceptiveNamesAreRefused(t *testing.T) {
	deceptive := []string{"\u202eevil\u202c", "in\u200bvisible", "rtl\u2067mark\u2069", "a\u200fb", "a\ufeffb", "a\u2060b",
		"a\u061cb", "soft\u00adhyphen", "a\u200db"}
	for _, n := range deceptive {
		_, err := ValidKeyName(n)
		if model.ErrorCode(err) != model.EINVALID || !strings.Contains(model.ErrorFields(err)["name"], "invisible") {
			t.Errorf("key name %q: %v", n, err)
		}
	}
	for _, n := range []string{"ключ 🔑", "مفتاح", "שלום abc", "日本語のキー", "Zoë's key"} {
		if _, err := ValidKeyName(n); err != nil {
			t.Errorf("key name %q refused: %v", n, err)
		}
	}

	app := newAPIApp(t)
	_, raw := app.key(t, app.team.ID, model.PermWriteAll)
	target, _ := app.key(t, app.team.ID, model.PermReadAll)
	for _, n := range deceptive {
		app.call(t, http.MethodPost, "/v1/api-keys", bearer(raw), map[string]string{"name": n, "permission": "read_all"}).
			wantError(t, http.StatusUnprocessableEntity, "invalid_request")
		app.call(t, http.MethodPatch, "/v1/api-keys/"+target.PublicID, bearer(raw), map[string]string{"name": n}).
			wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	}
	app.unchangedKey(t, target, "deceptive names")

	// The dashboard: the create form shows the message next to the name.
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	res := cl.postForm(t, "/settings/api-keys", keyForm("name", "\u202eevil\u202c"))
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !strings.Contains(res.text(t, "#error-name"), "U+202E") {
		t.Fatalf("the form's message: %q", res.text(t, "#error-name"))
	}
	// Members are named by their e-mail address.
	res = cl.postForm(t, "/settings/members", url.Values{"email": {"bob\u202e@example.com"}, "role": {"ADMIN"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "U+202E") {
		t.Fatalf("adding a member with a deceptive e-mail: %d", res.StatusCode)
	}

	// The team name at setup.
	fresh := newTestApp(t)
	fc := fresh.client(t)
	for _, n := range []string{"Acme\u202e", "Ac\u200bme"} {
		res := fc.postForm(t, "/setup", url.Values{"email": {"owner@example.com"}, "password": {testPassword}, "team": {n}})
		res.wantStatus(t, http.StatusUnprocessableEntity)
		if !strings.Contains(res.Body, "invisible") {
			t.Fatalf("setup with team %q: no message", n)
		}
	}
}

// key_verification:read allows POST /v1/keys/verify and nothing else;
// api_keys:read keeps allowing verify; the picker offers None or Read.
func TestKeyVerificationScope(t *testing.T) {
	app := newAPIApp(t)
	_, verifier := app.key(t, app.team.ID, model.PermRestricted, "key_verification:read")
	_, lister := app.key(t, app.team.ID, model.PermRestricted, "api_keys:read")
	checked, checkedRaw := app.key(t, app.team.ID, model.PermRestricted, "invoices:read")
	for _, raw := range []string{verifier, lister} {
		var v apiVerifyJSON
		res := app.call(t, http.MethodPost, "/v1/keys/verify", bearer(raw), map[string]string{"key": checkedRaw, "scope": "invoices:read"})
		res.wantStatus(t, http.StatusOK)
		res.decode(t, &v)
		if !v.Valid || v.KeyID != checked.PublicID {
			t.Fatalf("verify: %+v", v)
		}
	}
	// Nothing else: not the key list, not a key, not members or the audit log.
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/v1/api-keys"}, {http.MethodHead, "/v1/api-keys"}, {http.MethodGet, "/v1/api-keys/" + checked.PublicID},
		{http.MethodPost, "/v1/api-keys"}, {http.MethodDelete, "/v1/api-keys/" + checked.PublicID},
		{http.MethodGet, "/v1/members"}, {http.MethodGet, "/v1/audit-log"},
	} {
		var body any
		if tc.method == http.MethodPost {
			body = `{"name":"x","permission":"restricted","scopes":["key_verification:read"]}`
		}
		res := app.call(t, tc.method, tc.path, bearer(verifier), body)
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("%s %s with key_verification:read: %d", tc.method, tc.path, res.StatusCode)
		}
	}
	app.call(t, http.MethodGet, "/v1/whoami", bearer(verifier), nil).wantStatus(t, http.StatusOK)
	// Without either scope, verify names the scope it needs.
	_, other := app.key(t, app.team.ID, model.PermRestricted, "members:read")
	e := app.call(t, http.MethodPost, "/v1/keys/verify", bearer(other), map[string]string{"key": checkedRaw}).
		wantError(t, http.StatusForbidden, "insufficient_scope")
	if !strings.Contains(e.Error.Message, "key_verification:read") {
		t.Fatalf("message %q", e.Error.Message)
	}

	// It is read only: no key gets key_verification:write.
	_, writer := app.key(t, app.team.ID, model.PermWriteAll)
	e = app.call(t, http.MethodPost, "/v1/api-keys", bearer(writer), `{"name":"x","permission":"restricted","scopes":["key_verification:write"]}`).
		wantError(t, http.StatusUnprocessableEntity, "invalid_request")
	if !strings.Contains(e.Error.Message, "read only") {
		t.Fatalf("message %q", e.Error.Message)
	}
	var made apiKeyCreatedJSON
	app.call(t, http.MethodPost, "/v1/api-keys", bearer(writer), `{"name":"backend","permission":"restricted","scopes":["key_verification:read"]}`).decode(t, &made)
	if strings.Join(made.Scopes, ",") != "key_verification:read" {
		t.Fatalf("scopes %v", made.Scopes)
	}

	// The dashboard's picker: "Key verification: lets a backend check keys", None or Read.
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	form := cl.get(t, "/settings/api-keys/new")
	var row string
	for _, tr := range form.find(t, "table tbody tr") {
		if strings.Contains(textOf(tr), "Key verification") {
			row = textOf(tr)
			if len(queryAll(tr, `input[name="access.key_verification"]`)) != 2 ||
				len(queryAll(tr, `input[name="access.key_verification"][value=write]`)) != 0 {
				t.Fatal("the picker offers more than None and Read for key verification")
			}
		}
	}
	if !strings.Contains(strings.ToLower(row), "lets a backend check keys") {
		t.Fatalf("the picker's row: %q", row)
	}
	res := cl.postForm(t, "/settings/api-keys", keyForm("permission", "restricted", "access.key_verification", "write"))
	res.wantStatus(t, http.StatusUnprocessableEntity)
	res = cl.postForm(t, "/settings/api-keys", keyForm("name", "verifier", "permission", "restricted", "access.key_verification", "read"))
	res.wantStatus(t, http.StatusOK)
}
