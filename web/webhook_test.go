package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

var testEncryptionKey = []byte("0123456789abcdef0123456789abcdef")

func withEncryptionKey(c *config.Config) { c.EncryptionKey = testEncryptionKey }

// TestWebhooksDashboard: an owner adds an endpoint (its secret shown once,
// sealed at rest), a bad URL is refused with the form kept, the endpoint
// is disabled, enabled, rotated, tested (the delivery listed) and deleted;
// a member gets 403 and another team's endpoint 404.
func TestWebhooksDashboard(t *testing.T) {
	ctx := context.Background()
	app := newTestApp(t, withConfig(withEncryptionKey))
	_, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)

	page := cl.get(t, "/settings/webhooks")
	page.wantStatus(t, http.StatusOK)
	if !strings.Contains(page.Body, "No endpoints yet") {
		t.Fatal("the empty state is missing")
	}
	for _, typ := range model.EventTypes {
		if !page.has(t, `form input[type=checkbox][name=events][value="`+typ+`"]`) {
			t.Errorf("the event picker does not offer %s", typ)
		}
	}
	bad := cl.postForm(t, "/settings/webhooks", url.Values{"url": {"https://127.0.0.1/hook"}, "description": {"Ops"}, "events": {"api_key.revoked"}})
	bad.wantStatus(t, http.StatusUnprocessableEntity)
	if !strings.Contains(bad.Body, "loopback") || attr(bad.first(t, "#webhook-description"), "value") != "Ops" {
		t.Fatalf("refusal does not explain or keep the input: %s", bad.text(t, "#webhook-add"))
	}
	if eps, _ := app.store.FindEndpoints(ctx, team.ID); len(eps) != 0 {
		t.Fatal("a refused endpoint was stored")
	}
	if r := cl.postForm(t, "/settings/webhooks", url.Values{"url": {"https://203.0.113.10/hook"}, "events": {"nope.event"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown event type: %d", r.StatusCode)
	}

	add := cl.postForm(t, "/settings/webhooks", url.Values{"url": {"https://203.0.113.10/hook"}, "description": {"Ops"}, "events": {"api_key.revoked", "api_key.expiring"}})
	add.wantStatus(t, http.StatusOK)
	secret := attr(add.first(t, "#webhook-secret"), "value")
	if !strings.HasPrefix(secret, "whsec_") || add.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal %q, Cache-Control %q", secret, add.Header.Get("Cache-Control"))
	}
	eps, err := app.store.FindEndpoints(ctx, team.ID)
	if err != nil || len(eps) != 1 {
		t.Fatalf("endpoints %v %v", eps, err)
	}
	ep := eps[0]
	if strings.Contains(ep.Secret, strings.TrimPrefix(secret, "whsec_")) || ep.SecretKeyID == "" || strings.Join(ep.EventTypes, ",") != "api_key.revoked,api_key.expiring" {
		t.Fatalf("stored endpoint %+v", ep)
	}
	if strings.Contains(app.logs.String(), strings.TrimPrefix(secret, "whsec_")) {
		t.Fatal("the secret is in the log")
	}
	if again := cl.get(t, "/settings/webhooks"); strings.Contains(again.Body, secret) || !strings.Contains(again.Body, "https://203.0.113.10/hook") {
		t.Fatal("the list shows the secret again or misses the endpoint")
	}

	path := "/settings/webhooks/" + ep.PublicID
	cl.postForm(t, path+"/disable", nil).wantRedirect(t, path)
	if got, _ := app.store.FindEndpointByID(ctx, team.ID, ep.PublicID); got.Enabled {
		t.Fatal("still enabled")
	}
	cl.postForm(t, path+"/enable", nil).wantRedirect(t, path)
	rot := cl.postForm(t, path+"/rotate", nil)
	rot.wantStatus(t, http.StatusOK)
	if next := attr(rot.first(t, "#webhook-secret"), "value"); !strings.HasPrefix(next, "whsec_") || next == secret || !strings.Contains(rot.Body, "24 hours") {
		t.Fatalf("rotation reveal %q", next)
	}
	cl.postForm(t, path+"/test", nil).wantRedirect(t, path)
	show := cl.get(t, path)
	show.wantStatus(t, http.StatusOK)
	if !strings.Contains(show.text(t, "#deliveries"), "webhook_endpoint.test") || !strings.Contains(show.text(t, "#deliveries"), "Queued") {
		t.Fatalf("deliveries: %s", show.text(t, "#deliveries"))
	}
	ds, _ := app.store.FindDeliveries(ctx, store.DeliveryFilter{TeamID: team.ID, EndpointID: ep.ID})
	cl.postForm(t, path+"/deliveries/"+strconv.FormatInt(ds[0].ID, 10)+"/resend", nil).wantRedirect(t, path)
	if ds2, _ := app.store.FindDeliveries(ctx, store.DeliveryFilter{TeamID: team.ID, EndpointID: ep.ID}); len(ds2) != 2 || ds2[0].EventID != ds[0].EventID {
		t.Fatalf("resend: %+v", ds2)
	}

	// Another team's owner sees 404 for this endpoint and its actions.
	other := app.createUser(t, "other@example.com")
	otherTeam := app.createTeam(t, "Globex")
	app.addMember(t, otherTeam.ID, other.ID, model.RoleOwner)
	ocl := app.client(t)
	ocl.login(t, "other@example.com", testPassword)
	for _, p := range []string{path + "/disable", path + "/delete", path + "/rotate", path + "/test"} {
		if r := ocl.postForm(t, p, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("another team's POST %s: %d", p, r.StatusCode)
		}
	}
	for _, p := range []string{path, path + "/delete"} {
		if r := ocl.get(t, p); r.StatusCode != http.StatusNotFound {
			t.Errorf("another team's GET %s: %d", p, r.StatusCode)
		}
	}
	// A member of the team gets 403.
	app.newMember(t, team.ID, "dev@example.com", model.RoleMember)
	mcl := app.client(t)
	mcl.login(t, "dev@example.com", testPassword)
	if r := mcl.get(t, "/settings/webhooks"); r.StatusCode != http.StatusForbidden {
		t.Errorf("member: %d", r.StatusCode)
	}

	// Delete asks first: a dialog on the endpoint's page, a page of its own
	// without JavaScript; neither deletes anything by being shown.
	page = cl.get(t, path)
	if !page.has(t, `dialog#delete-endpoint form[method=post][action="`+path+`/delete"] button[type=submit].danger`) ||
		!page.has(t, `a[href="`+path+`/delete"][data-open-dialog="#delete-endpoint"]`) {
		t.Fatal("the endpoint page has no delete confirmation dialog")
	}
	confirm := cl.get(t, path+"/delete")
	confirm.wantStatus(t, http.StatusOK)
	if !confirm.has(t, `main form[method=post][action="`+path+`/delete"] input[name=_csrf]`) ||
		!strings.Contains(confirm.text(t, "main"), "can't be undone") {
		t.Fatal("the delete confirmation page lacks its form or its warning")
	}
	if eps, _ := app.store.FindEndpoints(ctx, team.ID); len(eps) != 1 {
		t.Fatal("showing the confirmation deleted the endpoint")
	}
	cl.postForm(t, path+"/delete", nil).wantRedirect(t, "/settings/webhooks")
	if eps, _ := app.store.FindEndpoints(ctx, team.ID); len(eps) != 0 {
		t.Fatal("not deleted")
	}
	var types []string
	evs, _ := app.store.FindEvents(ctx, store.EventFilter{TeamID: team.ID, Limit: 100})
	for _, e := range evs {
		if strings.HasPrefix(e.Type, "webhook_endpoint.") {
			types = append(types, e.Type)
		}
		if strings.Contains(e.Payload, strings.TrimPrefix(secret, "whsec_")) {
			t.Fatal("an event carries the secret")
		}
	}
	want := "webhook_endpoint.deleted,webhook_endpoint.test,webhook_endpoint.secret_rotated,webhook_endpoint.updated,webhook_endpoint.updated,webhook_endpoint.created"
	if strings.Join(types, ",") != want {
		t.Fatalf("events %v, want %s", types, want)
	}
}

// TestWebhooksWithoutEncryptionKey: on PostgreSQL without
// KEYWARD_ENCRYPTION_KEY the page says what is missing and adding refuses.
func TestWebhooksWithoutEncryptionKey(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	if p := cl.get(t, "/settings/webhooks"); !strings.Contains(p.Body, "KEYWARD_ENCRYPTION_KEY") || p.has(t, "#webhook-add") {
		t.Fatal("the page does not explain the missing key")
	}
	r := cl.postForm(t, "/settings/webhooks", url.Values{"url": {"https://203.0.113.10/hook"}})
	if r.StatusCode != http.StatusUnprocessableEntity && r.StatusCode != http.StatusBadRequest {
		t.Fatalf("add without a key: %d", r.StatusCode)
	}
}

// TestWebhooksAPI: /v1/webhook-endpoints with webhooks:read|write, the
// secret returned once, strict bodies, another team's id 404, and every
// answer as the OpenAPI document says.
func TestWebhooksAPI(t *testing.T) {
	app := newAPIApp(t, withAPIConfig(withEncryptionKey))
	_, writer := app.key(t, app.team.ID, model.PermRestricted, "webhooks:write")
	_, reader := app.key(t, app.team.ID, model.PermRestricted, "webhooks:read")
	_, keysOnly := app.key(t, app.team.ID, model.PermRestricted, "api_keys:write")

	app.call(t, "GET", "/v1/webhook-endpoints", bearer(keysOnly), nil).wantError(t, http.StatusForbidden, "insufficient_scope")
	app.call(t, "POST", "/v1/webhook-endpoints", bearer(reader), map[string]any{"url": "https://203.0.113.10/hook"}).wantError(t, http.StatusForbidden, "insufficient_scope")
	r := app.call(t, "POST", "/v1/webhook-endpoints", bearer(writer), map[string]any{"url": "https://10.0.0.1/hook"})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("private URL: %d %s", r.StatusCode, r.Body)
	}
	r = app.call(t, "POST", "/v1/webhook-endpoints", bearer(writer), `{"url":"https://203.0.113.10/hook","secret":"whsec_mine"}`)
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown field: %d", r.StatusCode)
	}
	r = app.call(t, "POST", "/v1/webhook-endpoints", bearer(writer), map[string]any{"url": "https://203.0.113.10/hook", "description": "Ops", "events": []string{"api_key.*"}})
	r.wantStatus(t, http.StatusCreated)
	var created struct {
		ID, Secret string
		Events     []string
		Enabled    bool
	}
	r.decode(t, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || !created.Enabled || strings.Join(created.Events, ",") != "api_key.*" {
		t.Fatalf("created %+v", created)
	}
	list := app.call(t, "GET", "/v1/webhook-endpoints", bearer(reader), nil)
	list.wantStatus(t, http.StatusOK)
	if strings.Contains(string(list.Body), created.Secret) || !strings.Contains(string(list.Body), created.ID) {
		t.Fatalf("list %s", list.Body)
	}
	app.call(t, "GET", "/v1/webhook-endpoints/"+created.ID, bearer(reader), nil).wantStatus(t, http.StatusOK)
	p := app.call(t, "PATCH", "/v1/webhook-endpoints/"+created.ID, bearer(writer), map[string]any{"enabled": false, "events": []string{"member.added"}})
	p.wantStatus(t, http.StatusOK)
	if !strings.Contains(string(p.Body), `"enabled":false`) || !strings.Contains(string(p.Body), "member.added") {
		t.Fatalf("patch %s", p.Body)
	}
	app.call(t, "POST", "/v1/webhook-endpoints/"+created.ID+"/test", bearer(writer), nil).wantStatus(t, http.StatusAccepted)
	d := app.call(t, "GET", "/v1/webhook-endpoints/"+created.ID+"/deliveries", bearer(reader), nil)
	d.wantStatus(t, http.StatusOK)
	if !strings.Contains(string(d.Body), "webhook_endpoint.test") {
		t.Fatalf("deliveries %s", d.Body)
	}
	// Another team's endpoint id answers 404.
	other := app.createTeam(t, "Globex")
	_, otherKey := app.key(t, other.ID, model.PermWriteAll)
	app.call(t, "GET", "/v1/webhook-endpoints/"+created.ID, bearer(otherKey), nil).wantError(t, http.StatusNotFound, "not_found")
	app.call(t, "DELETE", "/v1/webhook-endpoints/"+created.ID, bearer(otherKey), nil).wantError(t, http.StatusNotFound, "not_found")
	app.call(t, "DELETE", "/v1/webhook-endpoints/"+created.ID, bearer(writer), nil).wantStatus(t, http.StatusNoContent)
	app.call(t, "GET", "/v1/webhook-endpoints/"+created.ID, bearer(reader), nil).wantError(t, http.StatusNotFound, "not_found")
}

// TestAccountReminders: each person turns e-mail reminders off and on in
// Settings → Account; without SMTP the API keys page shows the reminders.
func TestAccountReminders(t *testing.T) {
	ctx := context.Background()
	app := newTestApp(t)
	u, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	page := cl.get(t, "/settings/account")
	page.wantStatus(t, http.StatusOK)
	if !hasAttr(page.first(t, "#reminders"), "checked") {
		t.Fatal("reminders start off")
	}
	cl.postForm(t, "/settings/account", url.Values{"reminders": {"off"}}).wantRedirect(t, "/settings/account")
	rs, _ := app.store.FindRecipients(ctx, team.ID)
	if len(rs) != 1 || rs[0].UserID != u.ID || !rs[0].RemindersOff {
		t.Fatalf("recipients %+v", rs)
	}
	if hasAttr(cl.get(t, "/settings/account").first(t, "#reminders"), "checked") {
		t.Fatal("the page still shows reminders on")
	}
	cl.postForm(t, "/settings/account", url.Values{"reminders": {"off", "on"}}).wantRedirect(t, "/settings/account")
	if rs, _ := app.store.FindRecipients(ctx, team.ID); rs[0].RemindersOff {
		t.Fatal("reminders stay off")
	}

	exp := app.clock.Now().Add(72 * time.Hour)
	k := model.APIKey{PublicID: "key_soon0000000000000000000", TeamID: team.ID, Name: "Soon", Environment: "live",
		KeyHash: "00", Hint: "kw_live_aaaa…bbbb", PermissionSet: model.PermReadAll, ExpiresAt: &exp}
	if err := app.store.CreateKey(ctx, &k, model.UserActor(u, "")); err != nil {
		t.Fatal(err)
	}
	keys := cl.get(t, "/settings/api-keys")
	if !strings.Contains(keys.Body, "1 key expires within 7 days: roll it or set a later expiry") {
		t.Fatal("no reminder notice on the API keys page without SMTP")
	}
	// A second expiring key, and one that expired: the notices count them.
	past := app.clock.Now().Add(-48 * time.Hour)
	for i, at := range []*time.Time{&exp, &past, &past} {
		k := model.APIKey{PublicID: fmt.Sprintf("key_more%019d", i), TeamID: team.ID, Name: "More", Environment: "live",
			KeyHash: fmt.Sprintf("%02d", i+1), Hint: "kw_live_aaaa…bbbb", PermissionSet: model.PermReadAll, ExpiresAt: at}
		if err := app.store.CreateKey(ctx, &k, model.UserActor(u, "")); err != nil {
			t.Fatal(err)
		}
	}
	keys = cl.get(t, "/settings/api-keys")
	for _, want := range []string{"2 keys expire within 7 days: roll them or set", "2 keys expired in the last 7 days: calls using them are refused."} {
		if !strings.Contains(keys.Body, want) {
			t.Errorf("the API keys page lacks %q", want)
		}
	}
}

// TestKeyDetailsListEventsAndDeliveries: a key's page lists its events and
// where each was delivered.
func TestKeyDetailsListEventsAndDeliveries(t *testing.T) {
	ctx := context.Background()
	app := newTestApp(t)
	u, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	ep := model.WebhookEndpoint{TeamID: team.ID, URL: "https://203.0.113.10/hook", EventTypes: []string{"api_key.*"}}
	if err := app.store.CreateEndpoint(ctx, &ep, store.EndpointSecret{Sealed: "x", KeyID: "x"}, model.UserActor(u, "")); err != nil {
		t.Fatal(err)
	}
	k := model.APIKey{PublicID: "key_events000000000000000000", TeamID: team.ID, Name: "Billing", Environment: "live",
		KeyHash: "01", Hint: "kw_live_aaaa…bbbb", PermissionSet: model.PermReadAll}
	if err := app.store.CreateKey(ctx, &k, model.UserActor(u, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := app.store.DispatchEvents(ctx, 100, nil); err != nil {
		t.Fatal(err)
	}
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	page := cl.get(t, "/settings/api-keys/"+k.PublicID)
	page.wantStatus(t, http.StatusOK)
	got := page.text(t, "#key-events")
	if !strings.Contains(got, "api_key.created") || !strings.Contains(got, "https://203.0.113.10/hook") || !strings.Contains(got, "Queued") {
		t.Fatalf("the key's events: %q", got)
	}
}
