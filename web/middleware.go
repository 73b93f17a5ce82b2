package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

type ctxKey int

const loggerKey ctxKey = iota

// requestID takes a well-formed incoming X-Request-ID (from a proxy) or makes
// one, echoes it on the response and puts a logger carrying it in the
// request's context so that every log line of the request names it.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		id := req.Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		c.Set("request_id", id)
		l := s.log.With("request_id", id)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), loggerKey, l)))
		return next(c)
	}
}

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

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logger returns the request's logger (with its request id).
func (s *Server) logger(c echo.Context) *slog.Logger {
	if l, ok := c.Request().Context().Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return s.log
}

// requestID of the request, for error bodies.
func requestIDOf(c echo.Context) string {
	id, _ := c.Get("request_id").(string)
	return id
}

// accessLog writes one line per request. It logs the route pattern and path,
// never query strings or headers (which may carry keys).
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			status = statusOf(err)
		}
		level := slog.LevelInfo
		if status >= 500 && model.ErrorCode(err) != model.EUNAVAILABLE {
			// A refusal during a database outage stays at info: the
			// outage itself is logged once (web/outage.go).
			level = slog.LevelError
		}
		s.logger(c).LogAttrs(c.Request().Context(), level, "request",
			slog.String("method", c.Request().Method),
			slog.String("route", c.Path()),
			slog.String("path", loggedPath(c.Request().URL.Path)),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("ip", c.RealIP()),
		)
		return err
	}
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

// recoverPanic turns a panic into a 500 through the error pipeline, logging
// the stack.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				buf := make([]byte, 8<<10)
				buf = buf[:runtime.Stack(buf, false)]
				s.logger(c).Error("panic", "panic", fmt.Sprint(r), "stack", string(buf))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// contentSecurityPolicy is DESIGN.md's rule 5: no inline script or style.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// securityHeaders sets the headers of rule 5 on every response, errors included.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.overHTTPS(c.Request()) {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if isAPI(c) {
			// No /v1 answer, error or not, is kept by a cache (DESIGN.md, API contract).
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

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
