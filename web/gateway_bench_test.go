package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

// The gateway's hot path, served in-process, to a real upstream over
// loopback: compare BenchmarkGatewayGet (key checked, scope matched,
// forwarded) with BenchmarkBareReverseProxy (a bare httputil.ReverseProxy
// to the same upstream, as a plain proxy such as Caddy does).

func BenchmarkGatewayGet(b *testing.B) {
	up := newUpstream(b)
	g := newGatewayApp(b, up, nil)
	g.srv.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	_, raw := g.key(b, g.team.ID, model.PermRestricted, "invoices:read")
	benchGetTo(b, g.srv.GatewayHandler(), "/v1/invoices", xAPIKey(raw))
}

func BenchmarkBareReverseProxy(b *testing.B) {
	up := newUpstream(b)
	p := httputil.NewSingleHostReverseProxy(up.url(b))
	p.Transport = &http.Transport{MaxIdleConnsPerHost: 512}
	benchGetTo(b, p, "/v1/invoices", http.Header{})
}

func benchGetTo(b *testing.B, h http.Handler, path string, header http.Header) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "192.0.2.1:1234"
		req.Header = header.Clone()
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", path, w.Code, w.Body)
			}
		}
	})
}
