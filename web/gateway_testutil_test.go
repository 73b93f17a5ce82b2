package web

// The gateway's test harness: a real keyward server (apiApp: PostgreSQL,
// the verify path, the recorder) whose gateway listener forwards to a real
// upstream, an httptest server that records every request it receives.
//
//	up := newUpstream(t)
//	g := newGatewayApp(t, up)
//	_, raw := g.key(t, g.team.ID, model.PermReadAll)
//	res := g.gwCall(t, "GET", "/v1/invoices", xAPIKey(raw), nil)
//	got := up.last(t)                  // what the upstream received

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
)

// gatewayRoutes is the scopes file's routes in the tests: invoices and
// customers as in the README's sample, payments below invoices, and public
// health and status paths and a public prefix.
var gatewayRoutes = []model.Route{
	{Pattern: "/v1/invoices", Resource: "invoices"},
	{Pattern: "/v1/invoices/*", Resource: "invoices"},
	{Pattern: "/v1/invoices/*/payments", Resource: "payments"},
	{Pattern: "/v1/customers", Resource: "customers"},
	{Pattern: "/v1/customers/*", Resource: "customers"},
	{Pattern: "/healthz", Public: true},
	{Pattern: "/v1/status", Public: true},
	{Pattern: "/docs/*", Public: true},
}

// received is what the upstream got.
type received struct {
	Method, Path, RawPath, RawQuery, Host, RemoteAddr string
	Header                                            http.Header
	BodyLen                                           int64
}

// upstream is a real HTTP server standing for the product's API. Handlers
// added with handle answer their path; every other request is recorded and
// answered 200 with a small JSON body.
type upstream struct {
	srv *httptest.Server
	mux *http.ServeMux
	mu  sync.Mutex
	got []received
	// conns counts the TCP connections the upstream accepted.
	conns atomic.Int64
}

func newUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{mux: http.NewServeMux()}
	u.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.got = append(u.got, received{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
			Host: r.Host, RemoteAddr: r.RemoteAddr, Header: r.Header.Clone(), BodyLen: n})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", "sample")
		_, _ = io.WriteString(w, `{"object":"list","data":[]}`)
	})
	u.srv = httptest.NewUnstartedServer(u.mux)
	u.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.srv.Start()
	t.Cleanup(u.srv.Close)
	return u
}

// handle answers path with h instead of the recorder.
func (u *upstream) handle(pattern string, h http.HandlerFunc) { u.mux.HandleFunc(pattern, h) }

// requests returns everything the upstream received so far.
func (u *upstream) requests() []received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]received(nil), u.got...)
}

// last returns the latest request the upstream received.
func (u *upstream) last(t testing.TB) received {
	t.Helper()
	got := u.requests()
	if len(got) == 0 {
		t.Fatal("the upstream received nothing")
	}
	return got[len(got)-1]
}

// url is the upstream's base URL.
func (u *upstream) url(t testing.TB) *url.URL {
	t.Helper()
	p, err := url.Parse(u.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gatewayApp is a keyward server with its gateway served on its own
// listener, as KEYWARD_GATEWAY_ADDR does.
type gatewayApp struct {
	*apiApp
	gw *httptest.Server
	// GW is the gateway's base URL.
	GW string
	// gwConns counts the TCP connections the gateway accepted.
	gwConns atomic.Int64
}

// withGatewayConfig sets the gateway's settings before the server is built.
func withGatewayConfig(up *url.URL, edit func(*config.Config)) apiAppOption {
	return withAPIConfig(func(c *config.Config) {
		c.Resources = []model.Resource{{Name: "invoices", Label: "Invoices"}, {Name: "customers", Label: "Customers"},
			{Name: "payments", Label: "Payments"}}
		routes, err := model.NewRouteTable(gatewayRoutes)
		if err != nil {
			panic(err)
		}
		c.Routes, c.Upstream, c.UpstreamTimeout = routes, up, 5*time.Second
		if edit != nil {
			edit(c)
		}
	})
}

// newGatewayApp starts keyward with its gateway in front of up.
func newGatewayApp(t testing.TB, up *upstream, edit func(*config.Config), opts ...apiAppOption) *gatewayApp {
	t.Helper()
	app := newAPIApp(t, append([]apiAppOption{withGatewayConfig(up.url(t), edit)}, opts...)...)
	g := &gatewayApp{apiApp: app}
	h := app.srv.GatewayHandler()
	if h == nil {
		t.Fatal("no gateway handler although an upstream is configured")
	}
	g.gw = httptest.NewUnstartedServer(h)
	g.gw.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			g.gwConns.Add(1)
		}
	}
	g.gw.Start()
	t.Cleanup(g.gw.Close)
	g.GW = g.gw.URL
	return g
}

// gwCall sends a request through the gateway and reads the answer.
func (g *gatewayApp) gwCall(t testing.TB, method, path string, h http.Header, body []byte) *apiResponse {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, g.GW+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	res, err := g.gw.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &apiResponse{Response: res, Body: b}
}
