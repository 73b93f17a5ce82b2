package web

// The /v1 API's test harness. An apiApp is a real server on a fresh
// PostgreSQL database reached through a verifytest.Proxy, so tests can
// count the statements a request runs and cut the database off. Keys are
// created through the store, not the dashboard. Every /v1 response a test
// receives is validated against web/openapi/openapi.json.
//
//	app := newAPIApp(t)
//	_, raw := app.key(t, app.team.ID, model.PermReadAll)
//	res := app.call(t, "GET", "/v1/whoami", bearer(raw), nil)
//	res.wantStatus(t, 200)

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/internal/verify"
	"github.com/keyward/keyward/internal/verify/verifytest"
	"github.com/keyward/keyward/web/openapi"
)

// apiApp is a running server for API tests.
type apiApp struct {
	*testApp
	proxy *verifytest.Proxy
	dsn   string // the database, directly (not through the proxy)
	team  model.Team
	owner model.User
	// listener is set when the app listens for other instances' changes.
	listener *verify.Listener
}

type apiAppSettings struct {
	dsn      string
	clock    *testClock
	editCfg  func(*config.Config)
	listen   bool
	noSetup  bool
	cacheTTL time.Duration
	extra    func(*echo.Echo)
	rates    *limit.Rates
}

type apiAppOption func(*apiAppSettings)

// onDatabase runs the app on an existing database (a second instance).
func onDatabase(dsn string, clock *testClock) apiAppOption {
	return func(s *apiAppSettings) { s.dsn, s.clock, s.noSetup = dsn, clock, true }
}

// withListener starts the LISTEN/NOTIFY listener, as serve does on PostgreSQL.
func withListener() apiAppOption { return func(s *apiAppSettings) { s.listen = true } }

// withExtraRoutes adds routes after the server's own (benchmarks' baseline).
func withExtraRoutes(fn func(*echo.Echo)) apiAppOption {
	return func(s *apiAppSettings) { s.extra = fn }
}

// withRates gives the app's verifier a rate limiter (one sharing limits
// through Redis, say).
func withRates(r *limit.Rates) apiAppOption { return func(s *apiAppSettings) { s.rates = r } }

// withAPIConfig edits the configuration.
func withAPIConfig(fn func(*config.Config)) apiAppOption {
	return func(s *apiAppSettings) { s.editCfg = fn }
}

func newAPIApp(t testing.TB, opts ...apiAppOption) *apiApp {
	t.Helper()
	set := apiAppSettings{cacheTTL: 30 * time.Second}
	for _, o := range opts {
		o(&set)
	}
	if set.dsn == "" {
		set.dsn = testdb.Postgres(t)
	}
	if set.clock == nil {
		set.clock = &testClock{now: testEpoch}
	}
	ctx := context.Background()
	proxy, viaProxy := verifytest.Start(t, set.dsn)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := store.Open(ctx, viaProxy, store.Options{Now: set.clock.Now, Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	cfg := &config.Config{
		DatabaseURL: set.dsn, DataDir: t.TempDir(), Addr: "127.0.0.1:0",
		SessionSecret: []byte("test-session-secret-0123456789abcdef"), KeyPrefix: "kw",
		LastUsedFlush: 10 * time.Second, CacheTTL: set.cacheTTL, LogFormat: "text",
		// An operator's own resources, as KEYWARD_SCOPES_FILE would list them.
		Resources: []model.Resource{{Name: "invoices", Label: "Invoices"}, {Name: "customers", Label: "Customers"}},
	}
	if set.editCfg != nil {
		set.editCfg(cfg)
	}
	v := verify.New(st, verify.Options{TTL: cfg.CacheTTL, Now: set.clock.Now, Rates: set.rates})
	rec := verify.NewRecorder(st, log)
	srv, err := New(cfg, st, Options{Now: set.clock.Now, Logger: log, Verifier: v, Recorder: rec, Extra: set.extra})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	app := &apiApp{
		testApp: &testApp{srv: srv, store: st, cfg: cfg, clock: set.clock, http: hs, logs: logs, URL: hs.URL},
		proxy:   proxy, dsn: set.dsn,
	}
	if set.listen {
		app.listener = verify.NewListener(set.dsn, v, log)
		lctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = app.listener.Run(lctx); close(done) }()
		t.Cleanup(func() { stop(); <-done })
		deadline := time.Now().Add(5 * time.Second)
		for !app.listener.Connected() {
			if time.Now().After(deadline) {
				t.Fatal("the key change listener did not connect")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Cleanup(func() {
		hs.Close()
		if err := srv.Close(context.Background()); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	if !set.noSetup {
		app.owner, app.team = app.setup(t, "owner@example.com", testPassword, "Acme")
	}
	return app
}

// key creates a key of the team through the store and returns it with its
// raw value. Restricted keys take their scopes from scopes.
func (a *apiApp) key(t testing.TB, teamID int64, set model.PermissionSet, scopes ...string) (model.APIKey, string) {
	t.Helper()
	return a.keyExpiring(t, teamID, nil, set, scopes...)
}

func (a *apiApp) keyExpiring(t testing.TB, teamID int64, exp *time.Time, set model.PermissionSet, scopes ...string) (model.APIKey, string) {
	t.Helper()
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	if scopes == nil {
		scopes = []string{}
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: "test key " + string(set),
		Environment: "live", KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: set, Scopes: scopes, ExpiresAt: exp}
	if err := a.store.CreateKey(context.Background(), &k, model.Actor{Label: "test"}); err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k, raw
}

// apiResponse is a /v1 response with its body read.
type apiResponse struct {
	*http.Response
	Body []byte
}

func (r *apiResponse) wantStatus(t testing.TB, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.Body)
	}
}

// wantError checks an error answer's status and code.
func (r *apiResponse) wantError(t testing.TB, status int, code string) APIError {
	t.Helper()
	r.wantStatus(t, status)
	var e APIError
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("error body %s: %v", r.Body, err)
	}
	if e.Error.Code != code || e.Error.Message == "" || e.Error.RequestID == "" {
		t.Fatalf("%s %s: error %+v, want code %q with a message and request id", r.Request.Method, r.Request.URL.Path, e.Error, code)
	}
	return e
}

// decode reads the JSON body into v.
func (r *apiResponse) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
}

// Header helpers.
func bearer(raw string) http.Header { return http.Header{"Authorization": {"Bearer " + raw}} }
func xAPIKey(raw string) http.Header {
	return http.Header{"X-Api-Key": {raw}}
}

// call sends a request with the given headers and JSON body (nil for none)
// and validates the response against the OpenAPI document.
func (a *apiApp) call(t testing.TB, method, path string, h http.Header, body any) *apiResponse {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			buf, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(buf)
		}
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.http.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := &apiResponse{Response: res, Body: b}
	if strings.HasPrefix(req.URL.Path, "/v1/") {
		validateAgainstOpenAPI(t, req, r)
	}
	return r
}

var openAPI struct {
	once   sync.Once
	router routers.Router
	err    error
}

func openAPIRouter(t testing.TB) routers.Router {
	t.Helper()
	openAPI.once.Do(func() {
		var doc *openapi3.T
		doc, openAPI.err = openapi3.NewLoader().LoadFromData(openapi.JSON)
		if openAPI.err == nil {
			openAPI.router, openAPI.err = legacy.NewRouter(doc)
		}
	})
	if openAPI.err != nil {
		t.Fatalf("OpenAPI document: %v", openAPI.err)
	}
	return openAPI.router
}

// validateAgainstOpenAPI fails t unless the response is what the document
// says: a documented status (only 5xx may fall back to "default"), its
// headers and its body's schema.
func validateAgainstOpenAPI(t testing.TB, req *http.Request, r *apiResponse) {
	t.Helper()
	vreq := req.Clone(context.Background())
	vreq.URL.Scheme, vreq.URL.Host, vreq.Host = "", "", ""
	head := req.Method == http.MethodHead
	route, params, err := openAPIRouter(t).FindRoute(vreq)
	if err != nil {
		// Not a documented route: only the generic 401/404/405 may answer.
		if r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s is not in the OpenAPI document but answered %d", req.Method, req.URL.Path, r.StatusCode)
		}
		return
	}
	if route.Operation.Responses.Status(r.StatusCode) == nil && r.StatusCode < 500 {
		t.Fatalf("%s %s answered %d, which the OpenAPI document does not list (body %s)", req.Method, req.URL.Path, r.StatusCode, r.Body)
	}
	body := r.Body
	if head {
		if len(body) != 0 {
			t.Fatalf("HEAD %s answered a body of %d bytes", req.URL.Path, len(body))
		}
		body = nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route},
		Status:                 r.StatusCode,
		Header:                 r.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s %s → %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.Path, r.StatusCode, err, r.Body)
	}
}
