package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/verify"
)

// Headers the upstream gets about the key that was checked.
const (
	headerKeyID       = "X-Keyward-Key-Id"
	headerTeamID      = "X-Keyward-Team-Id"
	headerEnvironment = "X-Keyward-Environment"
	headerScopes      = "X-Keyward-Scopes"
	headerSignature   = "X-Keyward-Signature"
)

// forward sends the request to the upstream and streams the answer back.
// k is the checked key, nil on a public route. ReverseProxy removes the
// hop-by-hop headers (RFC 9110, section 7.6.1), passes WebSocket upgrades
// through, flushes server-sent events as they come, and streams bodies
// both ways with pooled buffers; rewrite decides what the upstream sees.
func (s *Server) forward(c echo.Context, k *verify.Verified) error {
	var proxyErr error
	resp := c.Response()
	p := httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { s.rewrite(pr, c, k) },
		Transport:  s.gw.transport,
		BufferPool: s.gw.buffers,
		ModifyResponse: func(r *http.Response) error {
			// keyward's own request id is already on the answer.
			r.Header.Del(echo.HeaderXRequestID)
			if r.StatusCode == http.StatusSwitchingProtocols {
				// An upgrade is written on the hijacked connection, not
				// through WriteHeader.
				resp.Status = r.StatusCode
			}
			return nil
		},
		ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) { proxyErr = err },
	}
	p.ServeHTTP(&gatewayWriter{ResponseWriter: resp.Writer, resp: resp}, c.Request())
	if proxyErr != nil {
		return s.upstreamError(c, proxyErr)
	}
	return nil
}

// upstreamError turns a failed round trip into 504 upstream_timeout (no
// response headers within KEYWARD_UPSTREAM_TIMEOUT) or 502
// upstream_unavailable (refused, unreachable, reset), logging the cause for
// operators; the client learns nothing of the upstream.
func (s *Server) upstreamError(c echo.Context, err error) error {
	if clientGone(c) {
		// The client went away; there is no one to answer (the error
		// pipeline logs the request as abandoned).
		return errUpstreamUnavailable
	}
	var ne net.Error
	var op *net.OpError
	timeout := errors.As(err, &ne) && ne.Timeout() && !(errors.As(err, &op) && op.Op == "dial")
	if timeout || errors.Is(err, context.DeadlineExceeded) {
		s.logger(c).Warn("upstream timed out", "err", err)
		return errUpstreamTimeout
	}
	s.logger(c).Warn("upstream unavailable", "err", err)
	return errUpstreamUnavailable
}

// rewrite builds the upstream request: the upstream's URL, no credential
// (X-API-Key, Authorization, ?key=), none of the client's X-Keyward-*
// headers, the checked key's identity (signed when KEYWARD_GATEWAY_SECRET
// is set), X-Request-ID and X-Forwarded-*. It runs after ReverseProxy has
// removed the hop-by-hop headers, so that a client's Connection header
// cannot name the identity headers away.
func (s *Server) rewrite(pr *httputil.ProxyRequest, c echo.Context, k *verify.Verified) {
	pr.SetURL(s.cfg.Upstream)
	out := pr.Out
	out.URL.RawQuery = withoutKeyParam(pr.In.URL.RawQuery)
	h := out.Header
	h.Del(headerAPIKey)
	h.Del(echo.HeaderAuthorization)
	for name := range h {
		if isKeywardHeader(name) {
			delete(h, name)
		}
	}
	h.Set(echo.HeaderXRequestID, requestIDOf(c))
	s.setForwarded(pr)
	if k == nil {
		return
	}
	teamID := strconv.FormatInt(k.TeamID(), 10)
	h.Set(headerKeyID, k.PublicID())
	h.Set(headerTeamID, teamID)
	h.Set(headerEnvironment, k.Environment())
	h.Set(headerScopes, strings.Join(k.Scopes(), ","))
	if len(s.cfg.GatewaySecret) > 0 {
		h.Set(headerSignature, gatewaySignature(s.cfg.GatewaySecret, s.now().Unix(), out.Method, out.URL.EscapedPath(), k.PublicID(), teamID))
	}
}

// gatewaySignature is X-Keyward-Signature: t=<unix>,v1=<hex HMAC-SHA256
// over "t.method.path.key_id.team_id">, where path is the request path as
// the upstream receives it, escaped, without the query.
func gatewaySignature(secret []byte, t int64, method, path, keyID, teamID string) string {
	ts := strconv.FormatInt(t, 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "." + method + "." + path + "." + keyID + "." + teamID))
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// isKeywardHeader reports whether a header name is X-Keyward-… in any case,
// with dashes or underscores (which some servers read as dashes).
func isKeywardHeader(name string) bool {
	const prefix = "x-keyward-"
	if len(name) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		b := name[i] | 0x20
		if prefix[i] == '-' {
			if name[i] != '-' && name[i] != '_' {
				return false
			}
		} else if b != prefix[i] {
			return false
		}
	}
	return true
}

// withoutKeyParam removes every key= parameter from a raw query, keeping
// the rest exactly as sent.
func withoutKeyParam(raw string) string {
	if raw == "" || !strings.Contains(raw, "key") {
		return raw
	}
	var b strings.Builder
	for part := range strings.SplitSeq(raw, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil && n == "key" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	return b.String()
}

// setForwarded sets X-Forwarded-For, -Proto and -Host. A client's own
// values (and X-Real-IP) are kept, and the peer appended to
// X-Forwarded-For, only when the peer is a trusted proxy
// (KEYWARD_TRUSTED_PROXIES); from anyone else they are replaced (X-Real-IP
// removed).
func (s *Server) setForwarded(pr *httputil.ProxyRequest) {
	in, h := pr.In, pr.Out.Header
	peer, _, err := net.SplitHostPort(in.RemoteAddr)
	if err != nil {
		peer = in.RemoteAddr
	}
	trusted := false
	if a, err := netip.ParseAddr(peer); err == nil {
		a = a.Unmap()
		for _, p := range s.cfg.TrustedProxies {
			if p.Contains(a) {
				trusted = true
				break
			}
		}
	}
	xff, proto, host := peer, "http", in.Host
	if in.TLS != nil {
		proto = "https"
	}
	if trusted {
		if prior := strings.Join(in.Header.Values("X-Forwarded-For"), ", "); prior != "" {
			xff = prior + ", " + peer
		}
		if v := in.Header.Get("X-Forwarded-Proto"); v != "" {
			proto = v
		}
		if v := in.Header.Get("X-Forwarded-Host"); v != "" {
			host = v
		}
	}
	if !trusted {
		// Some servers take X-Real-IP as the client: only a trusted proxy
		// may say who the client is.
		h.Del("X-Real-Ip")
	}
	h.Set("X-Forwarded-For", xff)
	h.Set("X-Forwarded-Proto", proto)
	h.Set("X-Forwarded-Host", host)
}

// gatewayWriter passes the upstream's answer to the client and tells Echo
// its status (for the access log and metrics). Echo's own writer takes a
// 1xx informational answer (103 Early Hints) as the final one; this one
// does not. Flush and Hijack reach the connection through Unwrap.
type gatewayWriter struct {
	http.ResponseWriter
	resp *echo.Response
}

func (w *gatewayWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.resp.Status, w.resp.Committed = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *gatewayWriter) Write(b []byte) (int, error) {
	w.resp.Committed = true
	n, err := w.ResponseWriter.Write(b)
	w.resp.Size += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController find Flush and Hijack.
func (w *gatewayWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
