package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// routeMethods maps each route pattern of the router to its methods.
func routeMethods(e *echo.Echo) map[string][]string {
	m := map[string][]string{}
	for _, r := range e.Routes() {
		if r.Method != echo.RouteNotFound && !slices.Contains(m[r.Path], r.Method) {
			m[r.Path] = append(m[r.Path], r.Method)
		}
	}
	return m
}

// routed reports whether method and path reach a real route.
func routed(s *Server, method, path string) bool {
	req := httptest.NewRequest(method, path, nil)
	return s.routeTable.load(s.echo)[routeKey{method, s.routeOf(method, req, path)}]
}

// A wrong method is 405 with Allow on every route, dashboard and /v1, before
// any sign-in, key or CSRF check; never the 404 of the catch-all routes.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	app := newAPIApp(t)
	target, _ := app.key(t, app.team.ID, model.PermReadAll)
	param := regexp.MustCompile(`:[a-z_]+`)
	signedOut := app.client(t)
	signedIn := app.client(t)
	signedIn.login(t, "owner@example.com", testPassword)
	_, raw := app.key(t, app.team.ID, model.PermWriteAll)

	checked := 0
	for pattern, methods := range routeMethods(app.srv.echo) {
		if pattern == "/v1" || pattern == "/v1/" {
			continue
		}
		path := strings.ReplaceAll(param.ReplaceAllString(pattern, target.PublicID), "*", "app.css")
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			// Skip the methods of the route, and those another route
			// takes for this very path (DELETE /settings/api-keys/:id
			// also matches /settings/api-keys/bulk-revoke).
			if slices.Contains(methods, m) || routed(app.srv, m, path) {
				continue
			}
			checked++
			var res *http.Response
			if strings.HasPrefix(path, "/v1/") {
				// Without a key and with one: 405 either way.
				app.call(t, m, path, nil, nil).wantError(t, http.StatusMethodNotAllowed, "method_not_allowed")
				res = app.call(t, m, path, bearer(raw), nil).Response
			} else {
				signedOut.do(t, signedOut.newRequest(t, m, path, nil)).wantStatus(t, http.StatusMethodNotAllowed)
				res = signedIn.do(t, signedIn.newRequest(t, m, path, nil)).Response
			}
			if res.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("%s %s: %d, want 405", m, path, res.StatusCode)
			}
			allow := strings.Split(res.Header.Get("Allow"), ", ")
			for _, want := range methods {
				if !slices.Contains(allow, want) {
					t.Fatalf("%s %s: Allow %q lacks %s", m, path, res.Header.Get("Allow"), want)
				}
			}
			if slices.Contains(methods, http.MethodGet) != slices.Contains(allow, http.MethodHead) || slices.Contains(allow, m) {
				t.Fatalf("%s %s: Allow %q (routes %v)", m, path, res.Header.Get("Allow"), methods)
			}
		}
	}
	if checked < 40 {
		t.Fatalf("only %d wrong methods checked", checked)
	}
	// A path with no route at all is still 404.
	signedIn.get(t, "/no/such/page").wantStatus(t, http.StatusNotFound)
	app.call(t, http.MethodDelete, "/v1/no-such-thing", bearer(raw), nil).wantError(t, http.StatusNotFound, "not_found")
	// A refused method changed nothing.
	if got, err := app.store.FindKeyByID(t.Context(), app.team.ID, target.PublicID); err != nil || got.RevokedAt != nil {
		t.Fatalf("the key changed: %+v %v", got, err)
	}
}

// HEAD answers like GET, without a body, on every GET route: the
// dashboard's pages, /login, /static/*, the probes and /v1.
func TestHeadOnEveryGetRoute(t *testing.T) {
	app := newAPIApp(t)
	target, _ := app.key(t, app.team.ID, model.PermReadAll)
	_, raw := app.key(t, app.team.ID, model.PermWriteAll)
	param := regexp.MustCompile(`:[a-z_]+`)
	signedIn := app.client(t)
	signedIn.login(t, "owner@example.com", testPassword)

	checked := 0
	for pattern, methods := range routeMethods(app.srv.echo) {
		if !slices.Contains(methods, http.MethodGet) {
			continue
		}
		path := strings.ReplaceAll(param.ReplaceAllString(pattern, target.PublicID), "*", "app.css")
		checked++
		var get, head *http.Response
		var headBody string
		if strings.HasPrefix(path, "/v1/") {
			get = app.call(t, http.MethodGet, path, bearer(raw), nil).Response
			r := app.call(t, http.MethodHead, path, bearer(raw), nil)
			head, headBody = r.Response, string(r.Body)
		} else {
			get = signedIn.get(t, path).Response
			r := signedIn.do(t, signedIn.newRequest(t, http.MethodHead, path, nil))
			head, headBody = r.Response, r.Body
		}
		if head.StatusCode != get.StatusCode || headBody != "" {
			t.Fatalf("HEAD %s: %d with %d bytes; GET answered %d", path, head.StatusCode, len(headBody), get.StatusCode)
		}
		if head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Fatalf("HEAD %s: Content-Type %q, GET %q", path, head.Header.Get("Content-Type"), get.Header.Get("Content-Type"))
		}
	}
	if checked < 15 {
		t.Fatalf("only %d GET routes checked", checked)
	}
	// Signed out: the sign-in page and the assets.
	cl := app.client(t)
	for _, path := range []string{"/login", "/static/app.css", "/static/vendor/htmx.min.js", "/healthz", "/openapi.json"} {
		res := cl.do(t, cl.newRequest(t, http.MethodHead, path, nil))
		if res.StatusCode != http.StatusOK || res.Body != "" {
			t.Fatalf("HEAD %s signed out: %d, %d bytes", path, res.StatusCode, len(res.Body))
		}
	}
	// HEAD is no way around a POST-only route.
	res := cl.do(t, cl.newRequest(t, http.MethodHead, "/logout", nil))
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "POST" {
		t.Fatalf("HEAD /logout: %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

// Every /v1 answer, success or error, is kept out of caches.
func TestAPIAnswersAreNotStored(t *testing.T) {
	app := newAPIApp(t)
	_, raw := app.key(t, app.team.ID, model.PermReadAll)
	for _, tc := range []struct {
		method, path string
		h            http.Header
	}{
		{http.MethodGet, "/v1/whoami", bearer(raw)},
		{http.MethodGet, "/v1/api-keys", bearer(raw)},
		{http.MethodHead, "/v1/members", bearer(raw)},
		{http.MethodGet, "/v1/whoami", nil},
		{http.MethodGet, "/v1/no-such-thing", bearer(raw)},
		{http.MethodPut, "/v1/whoami", bearer(raw)},
		{http.MethodPost, "/v1/api-keys", bearer(raw)},
	} {
		res := app.call(t, tc.method, tc.path, tc.h, nil)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s (%d): Cache-Control %q", tc.method, tc.path, res.StatusCode, res.Header.Get("Cache-Control"))
		}
	}
}
