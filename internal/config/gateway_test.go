package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGatewaySettings(t *testing.T) {
	c, err := load(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.GatewayAddr != "" || c.Upstream != nil || c.UpstreamTimeout != 30*time.Second || c.GatewaySecret != nil {
		t.Fatalf("gateway defaults: %+v", c)
	}
	c, err = load(t, map[string]string{"KEYWARD_GATEWAY_ADDR": ":8081", "KEYWARD_UPSTREAM": "http://127.0.0.1:9000/api/",
		"KEYWARD_UPSTREAM_TIMEOUT": "2s", "KEYWARD_GATEWAY_SECRET": strings.Repeat("g", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if c.GatewayAddr != ":8081" || c.Upstream.String() != "http://127.0.0.1:9000/api" || c.UpstreamTimeout != 2*time.Second || len(c.GatewaySecret) != 32 {
		t.Fatalf("gateway settings: %+v", c)
	}
}

func TestGatewayBadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KEYWARD_GATEWAY_ADDR": ":8081"}, "KEYWARD_UPSTREAM: required"},
		{map[string]string{"KEYWARD_GATEWAY_ADDR": ":8081", "KEYWARD_UPSTREAM": "127.0.0.1:9000"}, "KEYWARD_UPSTREAM="},
		{map[string]string{"KEYWARD_UPSTREAM": "ftp://files.example.com"}, "KEYWARD_UPSTREAM="},
		{map[string]string{"KEYWARD_UPSTREAM": "http://"}, "KEYWARD_UPSTREAM="},
		{map[string]string{"KEYWARD_UPSTREAM": "http://user:pw@api.example.com"}, "KEYWARD_UPSTREAM="},
		{map[string]string{"KEYWARD_UPSTREAM": "http://api.example.com/?a=1"}, "KEYWARD_UPSTREAM="},
		{map[string]string{"KEYWARD_GATEWAY_ADDR": "localhost", "KEYWARD_UPSTREAM": "http://a"}, "KEYWARD_GATEWAY_ADDR"},
		{map[string]string{"KEYWARD_UPSTREAM_TIMEOUT": "forever"}, "KEYWARD_UPSTREAM_TIMEOUT"},
		{map[string]string{"KEYWARD_UPSTREAM_TIMEOUT": "0s"}, "KEYWARD_UPSTREAM_TIMEOUT"},
		{map[string]string{"KEYWARD_GATEWAY_SECRET": "short"}, "KEYWARD_GATEWAY_SECRET"},
	} {
		_, err := load(t, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%v: the error shows the upstream's password: %v", tc.env, err)
		}
	}
}

func TestScopesFileRoutes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`resources:
  - name: invoices
    label: Invoices
    routes: ["/v1/invoices", "/v1/invoices/*"]
  - name: customers
    routes:
      - /v1/customers
      - /v1/customers/*
  - name: reports
public: ["/healthz", "/v1/status"]
`), 0o600)
	c, err := load(t, map[string]string{"KEYWARD_SCOPES_FILE": good})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Resources[1].Routes; len(got) != 2 || got[1] != "/v1/customers/*" {
		t.Fatalf("customers routes %v", got)
	}
	for path, want := range map[string]string{"/v1/invoices/inv_1": "invoices", "/v1/customers": "customers", "/v1/status": ""} {
		r, ok := c.Routes.Match(path)
		if !ok || r.Resource != want || r.Public != (want == "") {
			t.Errorf("%s → %+v, %v; want %q", path, r, ok, want)
		}
	}
	if r, _ := c.Routes.Match("/v1/customers/c1"); r.Line != 8 {
		t.Errorf("/v1/customers/* is on line 8, the table says %d", r.Line)
	}
	if _, ok := c.Routes.Match("/v1/reports"); ok {
		t.Error("a resource without routes opens no path")
	}

	for name, tc := range map[string]struct{ body, want string }{
		"overlap": {"resources:\n  - name: invoices\n    routes: [\"/v1/invoices\"]\n  - name: customers\n    routes:\n      - /v1/invoices\n",
			`line 6: route "/v1/invoices" of resource customers is already listed at line 3 for resource invoices`},
		"public overlap": {"resources:\n  - name: invoices\n    routes: [\"/v1/invoices/*\"]\npublic:\n  - /healthz\n  - /v1/invoices/*\n",
			"line 6: route \"/v1/invoices/*\" of public is already listed at line 3"},
		"malformed":     {"resources:\n  - name: invoices\n    routes:\n      - /v1/invoices\n      - v1/invoices/*\n", "line 5: route pattern \"v1/invoices/*\" must start with /"},
		"wildcard":      {"public: [\"/static/a*\"]\nresources:\n  - name: invoices\n", "line 1: route pattern \"/static/a*\": * must be a whole segment"},
		"not a list":    {"resources:\n  - name: invoices\n    routes: /v1/invoices\n", "line 3: routes of invoices must be a list"},
		"not a string":  {"resources:\n  - name: invoices\n    routes:\n      - {path: /v1}\n", "line 4: routes of invoices must list path patterns as strings"},
		"public scalar": {"resources:\n  - name: invoices\npublic: /healthz\n", "line 3: public must be a list"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		os.WriteFile(p, []byte(tc.body), 0o600)
		_, err := load(t, map[string]string{"KEYWARD_SCOPES_FILE": p})
		if err == nil || !strings.Contains(err.Error(), "KEYWARD_SCOPES_FILE") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}
