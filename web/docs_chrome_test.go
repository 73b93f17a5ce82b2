package web

import (
	"net/http"
	"strings"
	"testing"
)

// GET /docs is public; a signed-in visitor sees it in the normal chrome
// (team, account menu, settings), and that page is not kept by caches.
func TestDocsShowsTheSignedInChrome(t *testing.T) {
	app := newTestApp(t)
	app.setup(t, "owner@example.com", testPassword, "Acme")

	anon := app.client(t).get(t, "/docs")
	anon.wantStatus(t, http.StatusOK)
	if anon.has(t, "details.user-menu") || anon.has(t, "nav.sidebar") {
		t.Fatalf("a signed-out visitor sees the account menu or settings:\n%s", anon.Body)
	}
	if len(anon.find(t, "article.card")) == 0 {
		t.Fatalf("no reference on the page:\n%s", anon.Body)
	}

	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	page := cl.get(t, "/docs")
	page.wantStatus(t, http.StatusOK)
	if got := page.text(t, "details.user-menu summary"); !strings.Contains(got, "owner@example.com") {
		t.Fatalf("the account menu shows %q, want the signed-in e-mail", got)
	}
	if got := page.text(t, "header.topbar .team-name"); got != "Acme" {
		t.Fatalf("the top bar names the team %q, want Acme", got)
	}
	if !page.has(t, `nav.sidebar a[href="/settings/api-keys"]`) {
		t.Fatal("an owner sees no settings links on /docs")
	}
	// The reference is linked from the sidebar (current here) and the
	// account menu of every dashboard page.
	if !page.has(t, `nav.sidebar a[href="/docs"][aria-current=page]`) {
		t.Fatal("the sidebar does not mark API reference current on /docs")
	}
	keys := cl.get(t, "/settings/api-keys")
	if keys.text(t, `nav.sidebar a[href="/docs"]`) != "API reference" || keys.text(t, `details.user-menu a[href="/docs"]`) != "API reference" {
		t.Fatal("the key list links no API reference from the sidebar and the account menu")
	}
	if !page.has(t, `details.user-menu form[action="/logout"] input[name=_csrf]`) {
		t.Fatal("the sign-out form on /docs lacks its CSRF field")
	}
	if got := page.Header.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("a signed-in /docs has Cache-Control %q, want no-store", got)
	}
}
