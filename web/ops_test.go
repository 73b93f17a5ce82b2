package web

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/config"
)

func TestHealthAndReadiness(t *testing.T) {
	app := newTestApp(t)
	cl := app.client(t)
	cl.get(t, "/healthz").wantStatus(t, http.StatusOK)
	res := cl.get(t, "/readyz")
	res.wantStatus(t, http.StatusOK)
	if !strings.Contains(res.Body, `"ready"`) {
		t.Fatalf("readyz body %q", res.Body)
	}
	app.srv.ready.Store(false)
	res = cl.get(t, "/readyz")
	res.wantStatus(t, http.StatusServiceUnavailable)
	if !strings.Contains(res.Body, "shutting down") {
		t.Fatalf("readyz body %q", res.Body)
	}
}

func TestRequestIDAndMetrics(t *testing.T) {
	app := newTestApp(t, withConfig(func(c *config.Config) { c.MetricsToken = testMetricsToken }))
	cl := app.client(t)
	res := cl.get(t, "/healthz")
	id := res.Header.Get("X-Request-ID")
	if len(id) < 16 {
		t.Fatalf("X-Request-ID %q", id)
	}
	// A well-formed id from a proxy is kept; a hostile one is replaced.
	req := cl.newRequest(t, http.MethodGet, "/login", nil)
	req.Header.Set("X-Request-ID", "edge-1234")
	if got := cl.do(t, req).Header.Get("X-Request-ID"); got != "edge-1234" {
		t.Fatalf("proxy request id not kept: %q", got)
	}
	req = cl.newRequest(t, http.MethodGet, "/healthz", nil)
	req.Header.Set("X-Request-ID", "bad id\" injected=1")
	if got := cl.do(t, req).Header.Get("X-Request-ID"); strings.Contains(got, " ") || got == "" {
		t.Fatalf("hostile request id echoed: %q", got)
	}
	cl.get(t, "/no/such/page").wantStatus(t, http.StatusNotFound)
	req = cl.newRequest(t, http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	m := cl.do(t, req)
	m.wantStatus(t, http.StatusOK)
	for _, want := range []string{
		`keyward_http_requests_total{method="GET",route="/healthz",status="200"}`,
		`keyward_http_request_duration_seconds_bucket{method="GET",route="/healthz"`,
		`route="/*",status="404"`,
	} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m.Body, "/no/such/page") {
		t.Error("raw paths must not become metric labels")
	}
	if !strings.Contains(app.logs.String(), "request_id=edge-1234") {
		t.Error("log lines must carry the request id")
	}
}

func TestNotFoundPageIsStyledAndSafe(t *testing.T) {
	app := newTestApp(t)
	res := app.client(t).get(t, "/nope?<script>")
	res.wantStatus(t, http.StatusNotFound)
	if !res.has(t, ".error-page") || !strings.Contains(res.Body, "/static/app.") {
		t.Fatalf("404 page is not the styled error page: %s", res.Body)
	}
	if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("security headers missing on the error page")
	}
}

func TestPanicIsRecovered(t *testing.T) {
	app := newTestApp(t, withOptions(func(o *Options) {
		o.Extra = func(e *echo.Echo) {
			e.GET("/test/panic", func(echo.Context) error { panic("boom") })
		}
	}))
	res := app.client(t).get(t, "/test/panic")
	res.wantStatus(t, http.StatusInternalServerError)
	if strings.Contains(res.Body, "boom") {
		t.Fatal("panic details leaked to the client")
	}
	if !strings.Contains(app.logs.String(), "boom") {
		t.Fatal("panic not logged")
	}
	app.client(t).get(t, "/healthz").wantStatus(t, http.StatusOK)
}

func TestOversizedHeadersGet431(t *testing.T) {
	app := newTestApp(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.srv.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", MaxHeaderBytes+4096))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", res.StatusCode)
	}
}

// Serve drains in-flight requests when its context ends: none is lost.
func TestServeDrainsInFlightRequests(t *testing.T) {
	var started sync.WaitGroup
	release := make(chan struct{})
	app := newTestApp(t, withOptions(func(o *Options) {
		o.Extra = func(e *echo.Echo) {
			e.GET("/test/slow", func(c echo.Context) error {
				started.Done()
				<-release
				return c.String(http.StatusOK, "done")
			})
		}
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- app.srv.Serve(ctx, ln, 10*time.Second) }()

	const n = 8
	started.Add(n)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Get("http://" + ln.Addr().String() + "/test/slow")
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK && string(b) == "done" {
				ok.Add(1)
			}
		}()
	}
	started.Wait()
	cancel() // as SIGTERM does
	time.Sleep(100 * time.Millisecond)
	if app.srv.ready.Load() {
		t.Error("a draining server must report not ready")
	}
	close(release)
	wg.Wait()
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("serve: %v", err)
	}
	if ok.Load() != n {
		t.Fatalf("%d of %d in-flight requests completed", ok.Load(), n)
	}
}
