package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// nulQueryParams are the query parameters that reached PostgreSQL with a
// NUL (the outside review's list), plus the others any route reads.
var nulQueryParams = []string{"q", "cursor", "actor", "target", "action", "ids", "next", "limit", "since", "until",
	"from", "to", "status", "env", "sort", "page", "key", "id", "name"}

// nulFormFields are form fields and JSON members any route reads.
var nulFormFields = []string{"name", "email", "password", "team", "team_id", "role", "environment", "permission",
	"expires", "expires_at", "ids", "keys", "q", "next", "current_password", "new_password", "confirm_password",
	"access.api_keys", "scope", "key", "expire_old_in", "allowed_ips", "url"}

// TestNULIsRefusedOnEveryRoute walks every route Echo has (those of
// routes.go and any added later) with a NUL in each path parameter, in each
// query parameter a route may read, in form fields and in JSON strings: the
// answer is 400, never a 5xx, and nothing is logged as an error.
func TestNULIsRefusedOnEveryRoute(t *testing.T) {
	app := newAPIApp(t)
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	_, raw := app.key(t, app.team.ID, model.PermWriteAll)
	target, _ := app.key(t, app.team.ID, model.PermReadAll)
	param := regexp.MustCompile(`:[a-z_]+|\*`)

	send := func(method, path string, form url.Values, json string) int {
		t.Helper()
		if strings.HasPrefix(path, "/v1/") {
			h := bearer(raw)
			var body any
			if json != "" {
				body = json
			}
			return app.call(t, method, path, h, body).StatusCode
		}
		if form != nil && method != http.MethodGet && method != http.MethodHead {
			return cl.htmx(t, method, path, form).StatusCode
		}
		req := cl.newRequest(t, method, path, nil)
		if method != http.MethodGet && method != http.MethodHead {
			req.Header.Set(csrfHeader, cl.csrfToken(t))
		}
		return cl.do(t, req).StatusCode
	}
	want400 := func(what string, status int) {
		t.Helper()
		if status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", what, status)
		}
	}

	routes := 0
	for _, r := range app.srv.echo.Routes() {
		if r.Method == echo.RouteNotFound || r.Path == "/v1" || r.Path == "/v1/" {
			continue
		}
		routes++
		// A valid path: real ids where the route takes one.
		valid := param.ReplaceAllStringFunc(r.Path, func(p string) string {
			if p == "*" {
				return "app.css"
			}
			return target.PublicID
		})
		// A NUL in each path parameter in turn.
		params := param.FindAllStringIndex(r.Path, -1)
		for i := range params {
			n := 0
			path := param.ReplaceAllStringFunc(r.Path, func(p string) string {
				defer func() { n++ }()
				if n == i {
					return "key_%00" + "x"
				}
				if p == "*" {
					return "app.css"
				}
				return target.PublicID
			})
			want400(r.Method+" "+path, send(r.Method, path, nil, ""))
		}
		// A NUL in every query parameter a route may read (whichever it
		// reads, it must not reach a handler).
		q := url.Values{}
		for _, name := range nulQueryParams {
			q.Set(name, "a\x00b")
		}
		want400(r.Method+" "+valid+" query", send(r.Method, valid+"?"+q.Encode(), nil, ""))
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			continue
		}
		if !strings.HasPrefix(valid, "/v1/") {
			// A NUL in every form field a route may read.
			form := url.Values{}
			for _, f := range nulFormFields {
				form.Set(f, "a\x00b")
			}
			want400(r.Method+" "+valid+" form", send(r.Method, valid, form, ""))
			continue
		}
		// A NUL in each JSON member in turn (a body with unknown members
		// would be refused anyway), in a string, in an array and in a name.
		for _, f := range nulFormFields {
			want400(r.Method+" "+valid+" JSON "+f, send(r.Method, valid, nil, `{"`+f+`":"a\u0000b"}`))
			want400(r.Method+" "+valid+" JSON array "+f, send(r.Method, valid, nil, `{"`+f+`":["a","\u0000"]}`))
		}
		want400(r.Method+" "+valid+" JSON member name", send(r.Method, valid, nil, `{"na\u0000me":"x"}`))
	}
	if routes < 30 {
		t.Fatalf("walked %d routes; the router lists more", routes)
	}
	if strings.Contains(app.logs.String(), "level=ERROR") {
		t.Fatalf("a NUL made the server log an error:\n%s", app.logs.String())
	}
	// The key the walk aimed at is untouched.
	if got, err := app.store.FindKeyByID(t.Context(), app.team.ID, target.PublicID); err != nil || got.Name != target.Name || got.RevokedAt != nil {
		t.Fatalf("the target key changed: %+v, %v", got, err)
	}
}

// Other control characters are refused where no value may hold them, while
// tabs and line breaks stay allowed in text (a list of IPs, one per line).
func TestControlCharactersInInput(t *testing.T) {
	for _, tc := range []struct {
		in   string
		path bool // refused in a path
		text bool // refused in a query, form or JSON value
	}{
		{"plain", false, false},
		{"é ünicode ✓", false, false},
		{"a\tb", true, false},
		{"a\nb\r\n", true, false},
		{"a\x00b", true, true},
		{"a\x01b", true, true},
		{"a\x1bb", true, true},
		{"a\x7fb", true, true},
	} {
		if got := strings.ContainsFunc(tc.in, isControl); got != tc.path {
			t.Errorf("%q in a path: refused %v, want %v", tc.in, got, tc.path)
		}
		if got := strings.ContainsFunc(tc.in, isUnwantedControl); got != tc.text {
			t.Errorf("%q in a value: refused %v, want %v", tc.in, got, tc.text)
		}
	}
	for body, want := range map[string]string{
		`{"name":"x"}`:                "",
		`{"name":"a\tb\nc"}`:          "",
		`{"name":"a\u0000b"}`:         "a JSON string",
		`{"a":{"b":[1,"\u001f"]}}`:    "a JSON string",
		`{"\u0000":1}`:                "a JSON string",
		`{"name":"\\u0000"}`:          "", // an escaped backslash, then the letters u0000
		`not json \u0000`:             "",
		`{"name":"x"} {"n":"\u0000"}`: "a JSON string",
	} {
		if got := jsonControl([]byte(body)); got != want {
			t.Errorf("jsonControl(%s) = %q, want %q", body, got, want)
		}
	}
}
