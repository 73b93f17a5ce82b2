package web

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

func TestSetupOnceThen404(t *testing.T) {
	app := newTestApp(t)
	cl := app.client(t)

	// An empty install leads every page to /setup.
	for _, path := range []string{"/", "/login", "/settings/members", "/settings/api-keys"} {
		cl.get(t, path).wantRedirect(t, "/setup")
	}
	res := cl.get(t, "/setup")
	res.wantStatus(t, http.StatusOK)
	if !res.has(t, `form[action="/setup"] input[name=_csrf]`) {
		t.Fatalf("setup form has no CSRF field:\n%s", res.Body)
	}

	// Validation errors re-render the form with the input and messages.
	res = cl.postForm(t, "/setup", url.Values{"email": {"not-an-email"}, "password": {"short"}, "team": {"Acme"}})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if got := attr(res.first(t, "input#email"), "value"); got != "not-an-email" {
		t.Errorf("email input kept %q", got)
	}
	if !res.has(t, "small#password-error") || !res.has(t, "small#email-error") {
		t.Errorf("missing field errors:\n%s", res.Body)
	}
	if n, _ := app.store.CountUsers(context.Background()); n != 0 {
		t.Fatalf("invalid setup created %d users", n)
	}

	res = cl.postForm(t, "/setup", url.Values{"email": {"Owner@Example.com"}, "password": {testPassword}, "team": {"Acme"}})
	res.wantRedirect(t, "/")
	// Signed in as the OWNER: home leads to the keys.
	cl.get(t, "/").wantRedirect(t, "/settings/api-keys")

	u, err := app.store.FindUserByEmail(context.Background(), "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	teams, err := app.store.FindUserTeams(context.Background(), u.ID)
	if err != nil || len(teams) != 1 || teams[0].Role != model.RoleOwner || teams[0].Team.Name != "Acme" {
		t.Fatalf("teams after setup = %+v, %v", teams, err)
	}

	// Once anyone exists, /setup is gone, for everyone.
	cl.get(t, "/setup").wantStatus(t, http.StatusNotFound)
	other := app.client(t)
	other.get(t, "/setup").wantStatus(t, http.StatusNotFound)
	res = other.postForm(t, "/setup", url.Values{"email": {"evil@example.com"}, "password": {testPassword}, "team": {"Evil"}})
	res.wantStatus(t, http.StatusNotFound)
	if n, _ := app.store.CountUsers(context.Background()); n != 1 {
		t.Fatalf("users = %d after a second setup, want 1", n)
	}
	other.get(t, "/").wantRedirect(t, "/login")
}
