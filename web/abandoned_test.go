package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

// TestAbandonedRequestIsNoOutage: a client that goes away while its key is
// being looked up cuts the lookup short, which the store reports as the
// database not answering. That is the client's leaving, not an outage: no
// ERROR line, no refusal counted, no outage started, the request logged
// with status 499 (as nginx logs it), on /v1 and on the gateway alike, and
// the key answers as usual next time.
func TestAbandonedRequestIsNoOutage(t *testing.T) {
	t.Parallel()
	g := newGatewayApp(t, newUpstream(t), nil)
	_, raw := g.key(t, g.team.ID, model.PermReadAll)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for _, h := range []struct {
		name string
		h    http.Handler
		path string
	}{
		{"/v1", g.srv.Handler(), "/v1/whoami"},
		{"gateway", g.srv.GatewayHandler(), "/v1/invoices"},
	} {
		req := httptest.NewRequestWithContext(gone, http.MethodGet, h.path, nil)
		req.Header.Set("X-API-Key", raw)
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		if rec.Code != statusClientClosedRequest {
			t.Errorf("%s: a request whose client went away ended with %d, want %d", h.name, rec.Code, statusClientClosedRequest)
		}
	}
	if n := logLines(g.testApp, "level=ERROR"); n != 0 {
		t.Errorf("%d ERROR lines for requests their clients abandoned, want 0:\n%s", n, g.logs.String())
	}
	if n := logLines(g.testApp, "database unreachable"); n != 0 {
		t.Errorf("an abandoned request was taken for a database outage:\n%s", g.logs.String())
	}
	if n := logLines(g.testApp, "msg=request ", "status=499"); n != 2 {
		t.Errorf("%d access log lines with status 499, want 2:\n%s", n, g.logs.String())
	}
	if n := counterValue(t, g.srv.outage.total); n != 0 {
		t.Errorf("keyward_unavailable_refusals_total = %v, want 0", n)
	}
	if res := g.call(t, http.MethodGet, "/v1/whoami", xAPIKey(raw), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("the key after an abandoned request: %d %s", res.StatusCode, res.Body)
	}
}

// TestGatewayOutageLoggedOnce: during a database outage the gateway, like
// /v1, refuses uncached keys with 503 and logs the outage once, each
// refusal at debug level only, and counts the refusals in metrics.
func TestGatewayOutageLoggedOnce(t *testing.T) {
	t.Parallel()
	g := newGatewayApp(t, newUpstream(t), nil)
	_, raw := g.key(t, g.team.ID, model.PermReadAll)
	g.proxy.SetDown(true)
	defer g.proxy.SetDown(false)
	const refused = 5
	for range refused {
		res := g.gwCall(t, http.MethodGet, "/v1/invoices", xAPIKey(raw), nil)
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(res.Body), `"unavailable"`) {
			t.Fatalf("an uncached key through the gateway, database down: %d %s", res.StatusCode, res.Body)
		}
	}
	if n := logLines(g.testApp, "level=ERROR"); n != 1 || logLines(g.testApp, "level=ERROR", "database unreachable") != 1 {
		t.Fatalf("%d ERROR lines during the outage, want the one saying it started:\n%s", n, g.logs.String())
	}
	if n := logLines(g.testApp, "level=DEBUG", "request refused: database unreachable"); n != refused {
		t.Fatalf("%d refusals at debug level, want %d", n, refused)
	}
	if n := counterValue(t, g.srv.outage.total); n != refused {
		t.Fatalf("keyward_unavailable_refusals_total = %v, want %d", n, refused)
	}
}
