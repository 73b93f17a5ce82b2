package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/verify"
)

// gateway is keyward in front of the product's own API (DESIGN.md,
// Gateway): its own Echo instance, served on KEYWARD_GATEWAY_ADDR, that
// checks every request's key against the scopes file's routes and forwards
// it to KEYWARD_UPSTREAM with httputil.ReverseProxy.
type gateway struct {
	echo      *echo.Echo
	routes    *model.RouteTable
	transport *http.Transport
	buffers   *bufferPool
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

// Errors of the gateway, in the /v1 error shape.
var (
	errNoRoute = &gatewayError{code: "no_route", status: http.StatusNotFound,
		msg: "No route of this gateway matches the request's path. Ask the API's operator to describe it in the scopes file."}
	errBadPath = &gatewayError{code: "bad_request", status: http.StatusBadRequest,
		msg: "The request path is not in canonical form (empty, . or .. segments, encoded slashes or backslashes, control characters)."}
	errUpstreamUnavailable = &gatewayError{code: "upstream_unavailable", status: http.StatusBadGateway,
		msg: "The API behind this gateway can't be reached right now. Try again shortly."}
	errUpstreamTimeout = &gatewayError{code: "upstream_timeout", status: http.StatusGatewayTimeout,
		msg: "The API behind this gateway took too long to answer. Try again shortly."}
)

// gatewayError is an error the gateway answers itself: a status, a stable
// code and a message that says nothing of the upstream's internals.
type gatewayError struct {
	code   string
	status int
	msg    string
}

func (e *gatewayError) Error() string   { return e.code + ": " + e.msg }
func (e *gatewayError) APICode() string { return e.code }

// Unwrap gives the error pipeline's statusOf the status.
func (e *gatewayError) Unwrap() error { return &echo.HTTPError{Code: e.status, Message: e.msg} }

// newGateway builds the gateway's handler when an upstream is configured.
func (s *Server) newGateway() {
	if s.cfg.Upstream == nil {
		return
	}
	dialTimeout := min(s.cfg.UpstreamTimeout, 10*time.Second)
	g := &gateway{
		routes: s.cfg.Routes,
		// One pool of connections to the upstream, kept alive between
		// requests; response headers are awaited at most the upstream
		// timeout, bodies (downloads, SSE, WebSocket) as long as they last.
		transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   512,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   dialTimeout,
			ExpectContinueTimeout: time.Second,
			ResponseHeaderTimeout: s.cfg.UpstreamTimeout,
			// Pass Accept-Encoding and compressed bodies through untouched.
			DisableCompression: true,
		},
		buffers: &bufferPool{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_gateway_requests_total",
			Help: "Gateway requests by resource (public, none for no route) and status.",
		}, []string{"resource", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyward_gateway_request_duration_seconds",
			Help:    "Gateway latency to the upstream's response headers, by resource.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 30},
		}, []string{"resource"}),
	}
	s.metrics.reg.MustRegister(g.requests, g.latency)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(s.cfg)
	e.HTTPErrorHandler = s.handleGatewayError
	// Every method and path goes to handleGateway: it runs last in the
	// chain that runs before routing, so Echo's router is never asked.
	e.Pre(s.gatewayStack, g.observe, func(echo.HandlerFunc) echo.HandlerFunc { return s.handleGateway })
	g.echo = e
	s.gw = g
	s.OnClose(func(context.Context) error { g.transport.CloseIdleConnections(); return nil })
}

// GatewayHandler returns the gateway as an http.Handler, or nil when no
// upstream is configured.
func (s *Server) GatewayHandler() http.Handler {
	if s.gw == nil {
		return nil
	}
	return s.gw.echo
}

// ServeGateway serves the gateway on ln until ctx is cancelled, then shuts
// down as Serve does (ServeAll). Connections have no read or write
// deadline: bodies stream for as long as they last (a 1 GiB upload, an SSE
// stream, a WebSocket).
func (s *Server) ServeGateway(ctx context.Context, ln net.Listener, drain time.Duration) error {
	ep, err := s.GatewayEndpoint(ln)
	if err != nil {
		return err
	}
	return s.ServeAll(ctx, Shutdown{Delay: s.cfg.ShutdownDelay, Drain: drain}, ep)
}

// GatewayEndpoint is the gateway on ln, for ServeAll beside other
// listeners. It fails when no upstream is configured.
func (s *Server) GatewayEndpoint(ln net.Listener) (Endpoint, error) {
	if s.gw == nil {
		return Endpoint{}, errors.New("KEYWARD_UPSTREAM: the gateway needs an upstream URL")
	}
	return Endpoint{Name: "gateway", Listener: ln, Handler: s.gw.echo, Streaming: true}, nil
}

// handleGateway serves every gateway request: the path must be canonical
// and match a route (else 400, or 404 no_route); a public route is
// forwarded as it is, any other needs a key (authenticate, the same check
// as /v1) granting the route's resource :read for GET, HEAD and OPTIONS and
// :write for every other method (checkScope, as /v1).
func (s *Server) handleGateway(c echo.Context) error {
	req := c.Request()
	if !model.CanonicalPath(req.URL.Path, req.URL.EscapedPath()) {
		return errBadPath
	}
	route, ok := s.gw.routes.Match(req.URL.Path)
	if !ok {
		return errNoRoute
	}
	c.SetPath(route.Pattern)
	var k *verify.Verified
	if route.Public {
		c.Set(gatewayResourceKey, "public")
	} else {
		c.Set(gatewayResourceKey, route.Resource)
		var err error
		if k, err = s.authenticate(c); err != nil {
			return err
		}
		need := model.AccessWrite
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			need = model.AccessRead
		}
		if err := checkScope(c, k, route.Resource, need); err != nil {
			return err
		}
	}
	return s.forward(c, k)
}

// gatewayResourceKey holds the resource a gateway request was matched to,
// for metrics.
const gatewayResourceKey = "gateway_resource"

// observe counts every gateway request by resource and status, and times it.
func (g *gateway) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			status = statusOf(err)
		}
		res, _ := c.Get(gatewayResourceKey).(string)
		if res == "" {
			res = "none"
		}
		g.requests.WithLabelValues(res, strconv.Itoa(status)).Inc()
		g.latency.WithLabelValues(res).Observe(time.Since(start).Seconds())
		return err
	}
}

// handleGatewayError answers the gateway's own errors in the /v1 error
// shape, always JSON: the gateway stands in front of an API.
func (s *Server) handleGatewayError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if clientGone(c) {
		s.abandoned(c, err)
		return
	}
	status := statusOf(err)
	msg := userMessage(status, err)
	if ge, ok := errors.AsType[*gatewayError](err); ok {
		msg = ge.msg
	}
	switch {
	case model.ErrorCode(err) == model.EUNAVAILABLE:
		// Logged once per outage, not per request (web/outage.go).
		s.outage.refuse(c, err)
	case status >= 500 && status != http.StatusBadGateway && status != http.StatusGatewayTimeout:
		s.logger(c).Error("gateway request failed", "status", status, "err", err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "60")
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(status)
	} else {
		werr = c.JSON(status, APIError{Error: APIErrorBody{Code: apiCode(status, err), Message: msg, RequestID: requestIDOf(c)}})
	}
	if werr != nil {
		s.logger(c).Debug("writing gateway error response", "err", werr)
	}
}

// bufferPool lends ReverseProxy its 32 KiB copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

var _ httputil.BufferPool = (*bufferPool)(nil)
