package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/config"
)

// testMetricsToken is a KEYWARD_METRICS_TOKEN for tests.
const testMetricsToken = "metrics-token-0123456789abcdef" // #nosec G101 -- a test fixture

// metricsGet fetches /metrics from h with the given Authorization value.
func metricsGet(t *testing.T, h http.Handler, path, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// /metrics tells sign-in failures, key creations and process details: it is
// served only with KEYWARD_METRICS_TOKEN as a bearer token, or on the
// separate KEYWARD_METRICS_ADDR listener; with neither it is not served.
func TestMetricsAreNotPublic(t *testing.T) {
	isMetrics := func(rec *httptest.ResponseRecorder) bool {
		return rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), "keyward_http_requests_total") &&
			strings.Contains(rec.Body.String(), "go_goroutines")
	}

	t.Run("neither set", func(t *testing.T) {
		app := newTestApp(t)
		app.client(t).get(t, "/healthz").wantStatus(t, http.StatusOK)
		for _, auth := range []string{"", "Bearer ", "Bearer " + testMetricsToken} {
			res := metricsGet(t, app.srv.Handler(), "/metrics", auth)
			if res.Code != http.StatusNotFound || strings.Contains(res.Body.String(), "keyward_http") {
				t.Fatalf("/metrics with no token configured, Authorization %q: %d", auth, res.Code)
			}
		}
	})

	t.Run("token", func(t *testing.T) {
		app := newTestApp(t, withConfig(func(c *config.Config) { c.MetricsToken = testMetricsToken }))
		app.client(t).get(t, "/healthz").wantStatus(t, http.StatusOK)
		for _, auth := range []string{"", "Bearer ", "Bearer wrong-token-0123456789abcdef", "Basic " + testMetricsToken,
			"Bearer " + testMetricsToken + "x", testMetricsToken} {
			res := metricsGet(t, app.srv.Handler(), "/metrics", auth)
			if res.Code != http.StatusUnauthorized || strings.Contains(res.Body.String(), "keyward_http") ||
				res.Header().Get("WWW-Authenticate") == "" {
				t.Fatalf("/metrics with Authorization %q: %d", auth, res.Code)
			}
		}
		for _, auth := range []string{"Bearer " + testMetricsToken, "bearer  " + testMetricsToken + " "} {
			if res := metricsGet(t, app.srv.Handler(), "/metrics", auth); !isMetrics(res) {
				t.Fatalf("/metrics with the token (%q): %d %.200s", auth, res.Code, res.Body)
			}
		}
		// The token is not the key to anything else, nor a query parameter.
		if res := metricsGet(t, app.srv.Handler(), "/metrics?token="+testMetricsToken, ""); res.Code != http.StatusUnauthorized {
			t.Fatalf("/metrics with the token in the query: %d", res.Code)
		}
	})

	t.Run("own listener", func(t *testing.T) {
		app := newTestApp(t, withConfig(func(c *config.Config) { c.MetricsAddr = "127.0.0.1:0" }))
		app.client(t).get(t, "/healthz").wantStatus(t, http.StatusOK)
		if res := metricsGet(t, app.srv.Handler(), "/metrics", ""); res.Code != http.StatusNotFound {
			t.Fatalf("/metrics on the main listener with KEYWARD_METRICS_ADDR only: %d", res.Code)
		}
		ln := httptest.NewServer(app.srv.MetricsHandler())
		t.Cleanup(ln.Close)
		res, err := ln.Client().Get(ln.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("/metrics on its own listener: %d", res.StatusCode)
		}
		if rec := metricsGet(t, app.srv.MetricsHandler(), "/metrics", ""); !isMetrics(rec) {
			t.Fatalf("/metrics on its own listener: %d", rec.Code)
		}
		// The metrics listener serves nothing else.
		for _, p := range []string{"/", "/healthz", "/v1/whoami", "/metrics/x"} {
			if rec := metricsGet(t, app.srv.MetricsHandler(), p, ""); rec.Code != http.StatusNotFound {
				t.Fatalf("%s on the metrics listener: %d", p, rec.Code)
			}
		}
	})

	t.Run("own listener with a token", func(t *testing.T) {
		app := newTestApp(t, withConfig(func(c *config.Config) { c.MetricsAddr, c.MetricsToken = "127.0.0.1:0", testMetricsToken }))
		app.client(t).get(t, "/healthz").wantStatus(t, http.StatusOK)
		if rec := metricsGet(t, app.srv.MetricsHandler(), "/metrics", ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("the metrics listener without the configured token: %d", rec.Code)
		}
		if rec := metricsGet(t, app.srv.MetricsHandler(), "/metrics", "Bearer "+testMetricsToken); !isMetrics(rec) {
			t.Fatalf("the metrics listener with the token: %d", rec.Code)
		}
	})
}
