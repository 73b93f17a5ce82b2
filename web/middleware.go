package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// requestIDs makes request ids: a random prefix per process and a counter,
// so that ids are unique across instances and restarts without a call to
// crypto/rand on every request (an id names a request; it is no secret).
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (g *requestIDs) next() string {
	var b [40]byte
	buf := append(b[:0], g.prefix...)
	return string(strconv.AppendUint(buf, g.n.Add(1), 36))
}

// stack is the global middleware of every request, in one closure. Echo
// v4 builds the closures of global middleware anew for each request, so a
// chain of eight middleware functions cost eight allocations before any
// work; the steps below are plain method calls instead. In order:
//
//  1. the request id (X-Request-ID), named by every log line of the request;
//  2. the security headers of DESIGN.md's rule 5;
//  3. around the rest: the metrics and the access log line;
//  4. panic recovery: a panic is a 500 through the error pipeline;
//  5. a wrong method's 405 (web/methods.go), the body limit for requests
//     with a body, and the refusal of control characters
//     (web/input_check.go);
//  6. compression (web/compress.go), but not for assets, which come
//     compressed;
//  7. for the dashboard only: its session and CSRF check (/v1, assets and
//     the probes have neither).
func (s *Server) stack(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return s.serve(c, next) }
}

func (s *Server) serve(c echo.Context, next echo.HandlerFunc) error {
	start := time.Now()
	s.setRequestID(c)
	machine := machineTraffic(c.Request().URL.Path)
	hs := s.secHeaders
	if machine {
		hs = s.apiHeaders
	}
	h := c.Response().Header()
	for _, x := range hs {
		h[x.key] = x.val
	}
	if s.overHTTPS(c.Request()) {
		// Only over TLS, to us or to a trusted proxy that says so: over
		// plain HTTP a browser ignores it, and a client cannot claim it.
		h[hstsHeader.key] = hstsHeader.val
	}
	err := s.guarded(c, next, machine)
	status := c.Response().Status
	if err != nil {
		status = errorStatus(c, err)
	}
	took := time.Since(start)
	s.metrics.observe(c, status, took)
	s.logAccess(c, machine, status, took, err)
	return err
}

// gatewayStack is the gateway listener's middleware, in one closure: the
// request id, the access log (all gateway traffic is machine traffic, as
// KEYWARD_ACCESS_LOG says) and panic recovery. The gateway's own headers
// and metrics are its handler's (web/gateway.go).
func (s *Server) gatewayStack(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		start := time.Now()
		s.setRequestID(c)
		defer func() {
			if r := recover(); r != nil {
				err = s.recovered(c, r)
			}
			status := c.Response().Status
			if err != nil {
				status = errorStatus(c, err)
			}
			s.logAccess(c, true, status, time.Since(start), err)
		}()
		return next(c)
	}
}

// setRequestID takes a well-formed incoming X-Request-ID (from a proxy) or
// makes one, and sets it on the response, where requestIDOf finds it.
func (s *Server) setRequestID(c echo.Context) {
	// Looked up under the canonical name: Header.Get would canonicalise
	// echo.HeaderXRequestID ("X-Request-ID") into a new string each time.
	var id string
	if v := c.Request().Header[headerXRequestID]; len(v) > 0 {
		id = v[0]
	}
	if !validRequestID(id) {
		id = s.ids.next()
	}
	c.Response().Header()[echo.HeaderXRequestID] = []string{id}
}

// headerXRequestID is X-Request-ID in Go's canonical form, as net/http
// files the request's header.
const headerXRequestID = "X-Request-Id"

// recovered turns a recovered panic into a 500 through the error pipeline,
// logging the stack (http.ErrAbortHandler goes on up, as net/http wants).
func (s *Server) recovered(c echo.Context, r any) error {
	if r == http.ErrAbortHandler {
		panic(r)
	}
	buf := make([]byte, 8<<10)
	buf = buf[:runtime.Stack(buf, false)]
	s.logger(c).Error("panic", "panic", fmt.Sprint(r), "stack", string(buf))
	return fmt.Errorf("panic: %v", r)
}

// guarded runs steps 4 to 7 of the stack and next, as plain calls: each
// step is a check that answers or lets the request on, so that a request
// costs no closure but the ones a step needs (the body limit, and the
// dashboard's session and CSRF check).
func (s *Server) guarded(c echo.Context, next echo.HandlerFunc, machine bool) (err error) {
	var cw *compressWriter
	defer func() {
		if cw != nil {
			cw.release(c.Response())
		}
		if r := recover(); r != nil {
			err = s.recovered(c, r)
		}
	}()
	cw = s.compressing(c, machine)
	// A wrong method is 405 with Allow, before any sign-in or key check
	// (web/methods.go).
	if err := s.wrongMethod(c); err != nil {
		return err
	}
	if usesSession(c) {
		next = s.loadSession(s.csrfProtect(next))
	}
	if r := c.Request(); r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		// The body limit wraps the rest: the control character check
		// reads form and JSON bodies through it.
		return s.bodyLimit(func(c echo.Context) error { return s.checkedNext(c, next) })(c)
	}
	return s.checkedNext(c, next)
}

// checkedNext refuses control characters in the request's input
// (web/input_check.go), then runs next.
func (s *Server) checkedNext(c echo.Context, next echo.HandlerFunc) error {
	if err := s.controlChars(c); err != nil {
		return err
	}
	return next(c)
}

// header is a response header with its value, built once.
type header struct {
	key string
	val []string
}

// securityHeaderSet is what pages carry: DESIGN.md's rule 5 (HSTS apart:
// see hstsHeader), and X-Frame-Options and Cross-Origin-Opener-Policy for
// the browsers and windows that read those. Every response gets the same
// slices: net/http only reads them, and an Add elsewhere copies (their
// capacity is their length).
func securityHeaderSet() []header {
	return append(ruleFiveHeaders(),
		header{"X-Frame-Options", []string{"DENY"}},
		header{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
	)
}

// ruleFiveHeaders are the headers of DESIGN.md's rule 5 that every
// response carries, HSTS apart.
func ruleFiveHeaders() []header {
	return []header{
		{"Content-Security-Policy", []string{contentSecurityPolicy}},
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"Referrer-Policy", []string{"same-origin"}},
	}
}

// apiHeaderSet is what answers to programs carry (the /v1 API and the
// probes): rule 5's headers, errors included, and no-store, since no /v1
// answer is kept by a cache (DESIGN.md's API contract). Not
// X-Frame-Options or Cross-Origin-Opener-Policy: they act on documents a
// browser shows, a JSON answer is none, and the CSP's frame-ancestors
// 'none' already keeps every answer out of frames. Two fields fewer keep
// the header map of a refused key (WWW-Authenticate) and of a limited key
// (the two RateLimit fields) within the eight entries Go's maps hold
// before they grow, an allocation of about 2 KB per answer (and as much
// again for net/http's copy) that a flood of bad keys would pay on every
// request. HSTS as for pages.
func apiHeaderSet() []header {
	return append(ruleFiveHeaders(), header{"Cache-Control", []string{"no-store"}})
}

// hstsHeader is sent only on requests that came over HTTPS (overHTTPS).
var hstsHeader = header{"Strict-Transport-Security", []string{"max-age=63072000; includeSubDomains"}}

// Echo context key of the request's logger.
const loggerKey = "logger"

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// logger returns the request's logger, which names its request id. It is
// made on first use: most API requests log nothing.
func (s *Server) logger(c echo.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey).(*slog.Logger); ok {
		return l
	}
	id := requestIDOf(c)
	if id == "" {
		return s.log
	}
	l := s.log.With("request_id", id)
	c.Set(loggerKey, l)
	return l
}

// requestIDOf is the request's id (the stack set it on the response), for
// error bodies and log lines.
func requestIDOf(c echo.Context) string {
	if v := c.Response().Header()[echo.HeaderXRequestID]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Access log modes (KEYWARD_ACCESS_LOG).
const (
	AccessLogAll    = "all"
	AccessLogErrors = "errors"
	AccessLogOff    = "off"
	// DefaultAccessLogSlow is the slow-request threshold when the config
	// names none.
	DefaultAccessLogSlow = 500 * time.Millisecond
)

// logAccess writes the request's access log line if the policy keeps it
// (see logsAccess), and counts it in metrics if not. It logs the route
// pattern and path, never query strings or headers (which may carry keys).
func (s *Server) logAccess(c echo.Context, machine bool, status int, took time.Duration, err error) {
	if !s.logsAccess(machine, status, took) {
		s.metrics.accessSkipped.Inc()
		return
	}
	if machine && status >= 400 && status < 500 && s.cfg.AccessLog != AccessLogAll {
		ok, first := s.clientErrors.take(time.Now().Unix())
		if !ok {
			s.metrics.accessSkipped.Inc()
			s.metrics.accessSuppressed.Inc()
			if first {
				s.log.Warn("access log: more client errors in one second than KEYWARD_ACCESS_LOG_CLIENT_ERRORS allows; the rest of this second's are counted in keyward_access_log_suppressed_total, not logged",
					"per_second", s.clientErrors.perSecond, "suppressed_before", s.clientErrors.suppressed.Load()-1)
			}
			return
		}
	}
	level := slog.LevelInfo
	if status >= 500 && model.ErrorCode(err) != model.EUNAVAILABLE {
		// A refusal during a database outage stays at info: the outage
		// itself is logged once (web/outage.go).
		level = slog.LevelError
	}
	// The request id as the first attribute, as s.logger(c) would have it,
	// without making the request a logger of its own for one line.
	s.log.LogAttrs(c.Request().Context(), level, "request",
		slog.String("request_id", requestIDOf(c)),
		slog.String("method", c.Request().Method),
		slog.String("route", c.Path()),
		slog.String("path", loggedPath(c.Request().URL.Path)),
		slog.Int("status", status),
		slog.Duration("duration", took),
		slog.String("ip", c.RealIP()),
	)
}

// DefaultAccessLogClientErrors is the cap on 4xx access log lines per
// second when the config names none.
const DefaultAccessLogClientErrors = 100

// lineBudget caps the lines of one kind written per second (a window per
// Unix second). Its lock is taken only for the lines it caps (4xx
// answers), which come at most as fast as the requests themselves.
type lineBudget struct {
	perSecond int64 // 0: no cap
	mu        sync.Mutex
	window    int64 // the current window's Unix second
	used      int64 // lines written in it
	over      int64 // lines refused in it
	// suppressed counts every line refused since start.
	suppressed atomic.Int64
}

func newLineBudget(perSecond int) *lineBudget {
	switch {
	case perSecond == 0:
		perSecond = DefaultAccessLogClientErrors
	case perSecond < 0:
		perSecond = 0
	}
	return &lineBudget{perSecond: int64(perSecond)}
}

// take reports whether a line may be written in the second now; first is
// set for the first line refused in a window (which is worth a notice). A
// now older than the current window counts in the current window.
func (b *lineBudget) take(now int64) (ok, first bool) {
	if b.perSecond == 0 {
		return true, false
	}
	b.mu.Lock()
	if now > b.window {
		b.window, b.used, b.over = now, 0, 0
	}
	b.used++
	if b.used <= b.perSecond {
		b.mu.Unlock()
		return true, false
	}
	b.over++
	first = b.over == 1
	b.mu.Unlock()
	b.suppressed.Add(1)
	return false, first
}

// logsAccess is the access log policy: every dashboard request is logged;
// machine traffic (/v1, the operations probes, the gateway) as
// KEYWARD_ACCESS_LOG says:
// all of it, only errors (any answer but 2xx) and requests slower than
// KEYWARD_ACCESS_LOG_SLOW, or none.
func (s *Server) logsAccess(machine bool, status int, took time.Duration) bool {
	if !machine {
		return true
	}
	switch s.cfg.AccessLog {
	case AccessLogAll:
		return true
	case AccessLogOff:
		return false
	}
	slow := s.cfg.AccessLogSlow
	if slow <= 0 {
		slow = DefaultAccessLogSlow
	}
	return status < 200 || status >= 300 || took >= slow
}

// machineTraffic reports whether path is served to programs rather than
// people: the /v1 API and the operations probes.
func machineTraffic(p string) bool {
	switch p {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return strings.HasPrefix(p, "/v1/") || p == "/v1"
}

// loggedPath is a request path as logs may show it: a segment that looks
// like an API key (pasted where an id belongs) is replaced, since raw keys
// are never logged, and so are the tokens of invitation and reset links.
func loggedPath(p string) string {
	// Invitation and password reset links carry their secret in the path.
	for _, prefix := range []string{"/invitations/", "/password/reset/"} {
		if strings.HasPrefix(p, prefix) && len(p) > len(prefix) {
			return prefix + "[redacted]"
		}
	}
	if !strings.Contains(p, "_live_") && !strings.Contains(p, "_test_") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.Contains(s, "_live_") || strings.Contains(s, "_test_") {
			segs[i] = "[redacted]"
		}
	}
	return strings.Join(segs, "/")
}

// contentSecurityPolicy is DESIGN.md's rule 5: no inline script or style.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// overHTTPS reports whether r came over TLS: to this server, or to a
// trusted proxy (KEYWARD_TRUSTED_PROXIES) that says so with
// X-Forwarded-Proto. HSTS is only sent then: over plain HTTP a browser
// ignores it, and a client that is not behind a proxy cannot claim it.
func (s *Server) overHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(s.cfg.TrustedProxies) == 0 || !strings.EqualFold(strings.TrimSpace(r.Header.Get(echo.HeaderXForwardedProto)), "https") {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	peer := ap.Addr().Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// noStore marks a response uncacheable (the one-time reveal, API responses
// with raw keys, pages behind sign-in).
func noStore(c echo.Context) {
	c.Response().Header().Set("Cache-Control", "no-store")
}

func isHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/v1/") || p == "/v1"
}
