package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
)

// The reveal's quick start adds a call of the product's API through the
// gateway when one runs: the first fixed path of a resource the new key
// may read, on the gateway's port of the page's host.
func TestRevealQuickStartThroughTheGateway(t *testing.T) {
	app := newTestApp(t, withConfig(func(c *config.Config) {
		c.GatewayAddr = ":8081"
		c.Resources = []model.Resource{
			{Name: "invoices", Label: "Invoices", Routes: []string{"/v1/invoices/*", "/v1/invoices"}},
			{Name: "reports", Label: "Reports"},
		}
	}))
	app.setup(t, "owner@example.com", testPassword, "Acme")
	fx := &keysFixture{app: app, cl: app.client(t)}
	fx.cl.login(t, "owner@example.com", testPassword)
	host := strings.TrimPrefix(app.URL, "http://")
	hostname := host[:strings.LastIndexByte(host, ':')]

	for _, tc := range []struct {
		name string
		form []string
		want string // the gateway path; "": no call through the gateway
	}{
		{"read all", []string{"permission", "read_all"}, "/v1/invoices"},
		{"invoices read", []string{"permission", "restricted", "access.invoices", "read"}, "/v1/invoices"},
		{"reports only", []string{"permission", "restricted", "access.reports", "write"}, ""},
	} {
		res := fx.cl.postForm(t, "/settings/api-keys", keyForm(tc.form...))
		res.wantStatus(t, http.StatusOK)
		raw := attr(res.first(t, "input#new-key"), "value")
		if got := res.text(t, "#quick-start-cmd"); got != `curl -H "X-API-Key: `+raw+`" `+app.URL+"/v1/whoami" {
			t.Errorf("%s: the quick start reads %q", tc.name, got)
		}
		if tc.want == "" {
			if res.has(t, "#quick-start-gateway-cmd") {
				t.Errorf("%s: a gateway call for a key that can GET none of its paths", tc.name)
			}
			continue
		}
		want := `curl -H "X-API-Key: ` + raw + `" http://` + hostname + ":8081" + tc.want
		if got := res.text(t, "#quick-start-gateway-cmd"); got != want {
			t.Errorf("%s: the gateway call reads %q, want %q", tc.name, got, want)
		}
	}
}

func TestGatewayURL(t *testing.T) {
	for _, tc := range []struct{ addr, page, want string }{
		{":8081", "keys.example.com", "http://keys.example.com:8081"},
		{":8081", "keys.example.com:8080", "http://keys.example.com:8081"},
		{"0.0.0.0:9000", "127.0.0.1:8080", "http://127.0.0.1:9000"},
		{"[::]:9000", "[::1]:8080", "http://[::1]:9000"},
		{"10.0.0.5:8081", "keys.example.com", "http://10.0.0.5:8081"},
		{"gateway.internal:8081", "keys.example.com", "http://gateway.internal:8081"},
	} {
		if got := gatewayURL(tc.addr, tc.page); got != tc.want {
			t.Errorf("gatewayURL(%q, %q) = %q, want %q", tc.addr, tc.page, got, tc.want)
		}
	}
}
