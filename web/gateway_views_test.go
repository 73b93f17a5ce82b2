package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// TestGatewayRoutesInDashboard: the create form's resource picker and a
// restricted key's details show the gateway paths each resource opens.
func TestGatewayRoutesInDashboard(t *testing.T) {
	app := newTestApp(t, withConfig(func(c *config.Config) {
		c.Resources = []model.Resource{
			{Name: "invoices", Label: "Invoices", Routes: []string{"/v1/invoices", "/v1/invoices/*"}},
			{Name: "reports", Label: "Reports"},
		}
	}))
	_, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)

	page := cl.get(t, "/settings/api-keys/new")
	page.wantStatus(t, http.StatusOK)
	var invoices, reports string
	for _, row := range page.find(t, "table.scopes tbody th") {
		txt := textOf(row)
		switch {
		case strings.HasPrefix(txt, "Invoices"):
			invoices = txt
		case strings.HasPrefix(txt, "Reports"):
			reports = txt
		}
	}
	if !strings.Contains(invoices, "Gateway paths: /v1/invoices /v1/invoices/*") {
		t.Fatalf("the picker's Invoices row reads %q", invoices)
	}
	if reports == "" || strings.Contains(reports, "Gateway") {
		t.Fatalf("the picker's Reports row reads %q", reports)
	}
	if !strings.Contains(page.text(t, "#scope-picker"), "Read opens a resource's paths to GET, HEAD and OPTIONS") {
		t.Fatal("the picker does not say what Read and Write open")
	}

	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: team.ID, Name: "Billing", Environment: "live",
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermRestricted, Scopes: []string{"invoices:read"}}
	if err := app.store.CreateKey(context.Background(), &k, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	show := cl.get(t, "/settings/api-keys/"+k.PublicID)
	show.wantStatus(t, http.StatusOK)
	if txt := show.text(t, "ul.scope-list"); !strings.Contains(txt, "invoices:read") || !strings.Contains(txt, "Gateway paths: /v1/invoices /v1/invoices/*") {
		t.Fatalf("the key's scopes read %q", txt)
	}
}
