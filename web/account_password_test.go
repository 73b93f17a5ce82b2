package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

const newTestPassword = "a brand new passphrase"

// passwordHash reads the user's stored password hash.
func passwordHash(t *testing.T, app *testApp, userID int64) string {
	t.Helper()
	u, err := app.store.FindUserByID(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return u.PasswordHash
}

// passwordForm is the change-password form.
func passwordForm(current, next, confirm string) url.Values {
	return url.Values{"current_password": {current}, "new_password": {next}, "confirm_password": {confirm}}
}

// tryLogin posts the sign-in form from a new browser and returns the status.
func tryLogin(t *testing.T, app *testApp, email, password string) int {
	t.Helper()
	return app.client(t).postForm(t, "/login", url.Values{"email": {email}, "password": {password}}).StatusCode
}

func TestChangePasswordFormForEveryRole(t *testing.T) {
	app := newTestApp(t)
	_, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	app.newMember(t, team.ID, "mia@example.com", model.RoleMember)

	for _, email := range []string{"owner@example.com", "mia@example.com"} {
		cl := app.client(t)
		cl.login(t, email, testPassword)
		res := cl.get(t, "/account/password")
		res.wantStatus(t, http.StatusOK)
		form := `form[action="/account/password"]`
		if v := attr(res.first(t, form+" input[name=_csrf]"), "value"); v == "" {
			t.Errorf("%s: the form has no CSRF token", email)
		}
		for _, name := range []string{"current_password", "new_password", "confirm_password"} {
			in := res.first(t, form+" input[name="+name+"]")
			if attr(in, "type") != "password" || attr(in, "value") != "" {
				t.Errorf("%s: field %s: type %q value %q, want an empty password field", email, name, attr(in, "type"), attr(in, "value"))
			}
		}
		// The user menu links to it, above Sign out.
		items := res.find(t, "details.user-menu li")
		var labels []string
		for _, li := range items {
			labels = append(labels, textOf(li))
		}
		joined := strings.Join(labels, " | ")
		if !res.has(t, `details.user-menu a[href="/account/password"]`) ||
			!strings.Contains(joined, "Change password | Sign out") {
			t.Errorf("%s: user menu = %q, want Change password just above Sign out", email, joined)
		}
	}

	// Signed out: to the sign-in page.
	app.client(t).get(t, "/account/password").wantRedirect(t, "/login?next=%2Faccount%2Fpassword")
}

func TestChangePasswordValidation(t *testing.T) {
	app := newTestApp(t)
	owner, _ := app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	before := passwordHash(t, app, owner.ID)

	cases := []struct {
		name  string
		form  url.Values
		field string
		msg   string
	}{
		{"wrong current", passwordForm("not my password", newTestPassword, newTestPassword), "current_password", "not your current password"},
		{"missing current", passwordForm("", newTestPassword, newTestPassword), "current_password", "current password"},
		{"too short", passwordForm(testPassword, "short pw", "short pw"), "new_password", "at least 12 characters"},
		{"mismatch", passwordForm(testPassword, newTestPassword, newTestPassword+"!"), "confirm_password", "do not match"},
		{"same as current", passwordForm(testPassword, testPassword, testPassword), "new_password", "differs from the current"},
	}
	for _, tc := range cases {
		res := cl.postForm(t, "/account/password", tc.form)
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", tc.name, res.StatusCode)
			continue
		}
		id := strings.ReplaceAll(tc.field, "_", "-")
		if got := res.text(t, "#"+id+"-error"); !strings.Contains(got, tc.msg) {
			t.Errorf("%s: message by %s = %q, want it to mention %q", tc.name, tc.field, got, tc.msg)
		}
		if attr(res.first(t, "input#"+id), "aria-invalid") != "true" {
			t.Errorf("%s: %s is not marked invalid", tc.name, tc.field)
		}
		// Nothing typed comes back.
		for _, pw := range tc.form {
			if pw[0] != "" && strings.Contains(res.Body, pw[0]) {
				t.Errorf("%s: the page echoes a password typed (%q)", tc.name, pw[0])
			}
		}
		if got := passwordHash(t, app, owner.ID); got != before {
			t.Fatalf("%s: the password hash changed", tc.name)
		}
	}
	if strings.Contains(app.logs.String(), "not my password") || strings.Contains(app.logs.String(), newTestPassword) {
		t.Errorf("a password was logged")
	}
	// Still signed in, old password still good.
	cl.get(t, "/").wantRedirect(t, "/settings/api-keys")
	if code := tryLogin(t, app, "owner@example.com", testPassword); code != http.StatusSeeOther {
		t.Errorf("sign-in with the unchanged password: status %d, want 303", code)
	}
}

func TestChangePasswordEndsOtherSessionsAndRenewsThisOne(t *testing.T) {
	app := newTestApp(t)
	_, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	mia := app.newMember(t, team.ID, "mia@example.com", model.RoleMember)

	cl := app.client(t)
	cl.login(t, "mia@example.com", testPassword)
	other := app.client(t)
	other.login(t, "mia@example.com", testPassword)
	other.get(t, "/").wantStatus(t, http.StatusOK)
	bystander := app.client(t)
	bystander.login(t, "owner@example.com", testPassword)

	cl.get(t, "/account/password").wantStatus(t, http.StatusOK)
	oldCookie := cl.sessionCookie()
	before := passwordHash(t, app, mia.UserID)

	res := cl.postForm(t, "/account/password", passwordForm(testPassword, newTestPassword, newTestPassword))
	res.wantRedirect(t, "/")
	cl.csrf = ""
	if passwordHash(t, app, mia.UserID) == before {
		t.Fatal("the password hash did not change")
	}

	// The change is in the team's audit log, with who and from where.
	evs, err := app.store.FindAuditEvents(context.Background(), store.AuditFilter{TeamID: team.ID, Actions: []string{model.ActionPasswordChanged}})
	if err != nil || len(evs) != 1 || evs[0].ActorLabel != "mia@example.com" || evs[0].IP == "" {
		t.Fatalf("password change audit events: %+v %v", evs, err)
	}

	// This browser: still signed in, with a new session id, and the notice.
	newCookie := cl.sessionCookie()
	if newCookie == nil || newCookie.Value == oldCookie.Value {
		t.Fatal("the session cookie did not change after the password change")
	}
	if uid, ok := decodeForTest(t, app, cl); !ok || uid != mia.UserID {
		t.Fatalf("this browser is not signed in as mia after the change (uid %d, %v)", uid, ok)
	}
	home := cl.get(t, "/")
	home.wantStatus(t, http.StatusOK)
	if got := home.text(t, "#flash .notice-success"); got != passwordChangedMessage {
		t.Errorf("notice = %q, want %q", got, passwordChangedMessage)
	}
	// The new session works for state changes too (its new CSRF token).
	cl.postForm(t, "/account/password", passwordForm("wrong one!!", "another passphrase", "another passphrase")).
		wantStatus(t, http.StatusUnprocessableEntity)

	// The other browser and the old cookie of this one are signed out.
	other.get(t, "/").wantRedirect(t, "/login")
	replay := app.client(t)
	replay.setCookie(oldCookie)
	replay.get(t, "/").wantRedirect(t, "/login")
	// Another user's session is untouched.
	bystander.get(t, "/").wantRedirect(t, "/settings/api-keys")

	// Only the new password signs in.
	if code := tryLogin(t, app, "mia@example.com", testPassword); code != http.StatusUnauthorized {
		t.Errorf("sign-in with the old password: status %d, want 401", code)
	}
	if code := tryLogin(t, app, "mia@example.com", newTestPassword); code != http.StatusSeeOther {
		t.Errorf("sign-in with the new password: status %d, want 303", code)
	}
}

func TestChangePasswordNeedsCSRF(t *testing.T) {
	app := newTestApp(t)
	owner, _ := app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	other := app.client(t)
	other.login(t, "owner@example.com", testPassword)
	before := passwordHash(t, app, owner.ID)
	cookie := cl.sessionCookie().Value

	form := passwordForm(testPassword, newTestPassword, newTestPassword)
	cl.rawPost(t, "/account/password", form, nil).wantStatus(t, http.StatusForbidden)
	cl.rawPost(t, "/account/password", withField(form, "_csrf", "forged"), nil).wantStatus(t, http.StatusForbidden)

	if passwordHash(t, app, owner.ID) != before {
		t.Fatal("a request without a CSRF token changed the password")
	}
	if cl.sessionCookie().Value != cookie {
		t.Error("a refused request changed the session cookie")
	}
	cl.get(t, "/").wantRedirect(t, "/settings/api-keys")
	other.get(t, "/").wantRedirect(t, "/settings/api-keys")
}

func TestChangePasswordSharesTheSignInLimit(t *testing.T) {
	app := newTestApp(t)
	owner, _ := app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	before := passwordHash(t, app, owner.ID)

	for i := range loginFreeFailures + 1 {
		res := cl.postForm(t, "/account/password", passwordForm("guess number "+string(rune('a'+i)), newTestPassword, newTestPassword))
		res.wantStatus(t, http.StatusUnprocessableEntity)
	}
	// Even the right password is refused now, and so is signing in.
	res := cl.postForm(t, "/account/password", passwordForm(testPassword, newTestPassword, newTestPassword))
	res.wantStatus(t, http.StatusTooManyRequests)
	if res.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After on 429")
	}
	if got := res.text(t, ".notice-error"); !strings.Contains(got, "Too many attempts") {
		t.Errorf("notice = %q", got)
	}
	if passwordHash(t, app, owner.ID) != before {
		t.Fatal("the password changed past the limit")
	}
	if code := tryLogin(t, app, "OWNER@example.com", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("sign-in after failed password changes: status %d, want 429", code)
	}
}
