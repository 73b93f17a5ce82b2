package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// The API's hot path, served in-process by the full middleware stack:
// compare BenchmarkAPIWhoamiCached with BenchmarkBareEchoHandler (a handler
// that only writes "ok", behind the same global middleware, without a
// session like every /v1 route). DESIGN.md asks
// for at least 0.6× the bare throughput.

func benchServer(b *testing.B) (*apiApp, string) {
	b.Helper()
	app := newAPIApp(b, withExtraRoutes(func(e *echo.Echo) {
		e.GET("/v1/bench-bare", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	}))
	app.srv.log = slog.New(slog.NewJSONHandler(io.Discard, nil)) // logging cost as in production, to nowhere
	_, raw := app.key(b, app.team.ID, model.PermRestricted, "api_keys:read")
	return app, raw
}

func benchGet(b *testing.B, h http.Handler, path string, header http.Header, want int) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "192.0.2.1:1234"
		req.Header = header.Clone()
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != want {
				b.Fatalf("%s: %d %s", path, w.Code, w.Body)
			}
		}
	})
}

func BenchmarkBareEchoHandler(b *testing.B) {
	app, _ := benchServer(b)
	benchGet(b, app.srv.Handler(), "/v1/bench-bare", http.Header{}, http.StatusOK)
}

func BenchmarkAPIWhoamiCached(b *testing.B) {
	app, raw := benchServer(b)
	benchGet(b, app.srv.Handler(), "/v1/whoami", bearer(raw), http.StatusOK)
}

func BenchmarkAPIScopeRefused(b *testing.B) {
	app, raw := benchServer(b)
	benchGet(b, app.srv.Handler(), "/v1/members", bearer(raw), http.StatusForbidden)
}

// BenchmarkAPIMiddleware measures apiAuth and requireScope alone, around a
// handler that does nothing.
func BenchmarkAPIMiddleware(b *testing.B) {
	app, raw := benchServer(b)
	h := app.srv.apiAuth(requireScope("api_keys:read")(func(c echo.Context) error { return nil }))
	e := app.srv.echo
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/v1/api-keys", nil)
		req.RemoteAddr = "192.0.2.1:1234"
		req.Header = bearer(raw)
		w := httptest.NewRecorder()
		c := e.NewContext(req, w)
		for pb.Next() {
			c.Reset(req, w)
			if err := h(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAPIUnknownKey is the flood of DESIGN.md's performance targets
// in-process: well-formed keys that do not exist, each from an address of
// its own (so that the failure limiter never answers), after each was seen
// once (answered from the "not found" cache).
func BenchmarkAPIUnknownKey(b *testing.B) {
	app, _ := benchServer(b)
	h := app.srv.Handler()
	const n = 2000
	unknown := make([]string, n)
	for i := range unknown {
		raw, err := keys.Generate("kw", "live")
		if err != nil {
			b.Fatal(err)
		}
		unknown[i] = raw
	}
	call := func(i int) int {
		req := httptest.NewRequest(http.MethodGet, "/v1/whoami", nil)
		req.RemoteAddr = "10." + strconv.Itoa(i/65536%256) + "." + strconv.Itoa(i/256%256) + "." + strconv.Itoa(i%256) + ":1234"
		req.Header.Set("X-API-Key", unknown[i%n])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for i := range n {
		if code := call(i); code != http.StatusUnauthorized {
			b.Fatalf("unknown key: %d", code)
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if code := call(int(next.Add(1))); code != http.StatusUnauthorized {
				b.Fatalf("unknown key: %d", code)
			}
		}
	})
}

// BenchmarkAPIWhoamiRestricted is cached whoami with a key restricted as
// make bench's restricted targets have it: a ten-entry IP allowlist whose
// last entry matches, a rate limit and a quota the load never reaches.
func BenchmarkAPIWhoamiRestricted(b *testing.B) {
	app, _ := benchServer(b)
	_, raw := app.restrictedKey(b, model.Restrictions{
		AllowedIPs: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
			"198.18.0.0/15", "203.0.113.0/24", "2001:db8::/32", "fd00::/8", "::1", "192.0.2.0/24"},
		RateLimit: &model.RateLimit{Limit: 1_000_000_000, Period: model.RatePerSecond},
		Quota:     &model.Quota{Remaining: 1_000_000_000_000},
	})
	benchGet(b, app.srv.Handler(), "/v1/whoami", bearer(raw), http.StatusOK)
}

// BenchmarkAPIVerifyCached is POST /v1/keys/verify as other backends call
// it: the caller's key and the key checked both cached, with a scope.
func BenchmarkAPIVerifyCached(b *testing.B) {
	app, raw := benchServer(b)
	_, checked := app.key(b, app.team.ID, model.PermReadAll)
	body := []byte(`{"key":"` + checked + `","scope":"api_keys:read"}`)
	h := app.srv.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		header := bearer(raw)
		header.Set("Content-Type", "application/json")
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/v1/keys/verify", bytes.NewReader(body))
			req.RemoteAddr = "192.0.2.1:1234"
			req.Header = header
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK || !bytes.HasPrefix(w.Body.Bytes(), []byte(`{"valid":true`)) {
				b.Fatalf("verify: %d %s", w.Code, w.Body)
			}
		}
	})
}
