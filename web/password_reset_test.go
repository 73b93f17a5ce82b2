package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/model"
)

// An owner sends a member a reset link (shown once without e-mail); the
// member sets a new password through it, which ends all their sessions.
func TestMemberPasswordResetLink(t *testing.T) {
	f := newMembersFixture(t)
	admin := f.signedIn(t, "admin@example.com")
	memberSession := f.signedIn(t, "member@example.com")
	memberID := strconv.FormatInt(f.member.ID, 10)

	res := admin.postForm(t, "/settings/members/"+memberID+"/password-reset", nil)
	res.wantStatus(t, http.StatusOK)
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Error("the response with the link is cacheable")
	}
	path := linkPath(t, attr(res.first(t, "input#one-time-link"), "value"))
	if !strings.HasPrefix(path, "/password/reset/") {
		t.Fatalf("reset link path %q", path)
	}
	token := strings.TrimPrefix(path, "/password/reset/")

	// Until it is used nothing changes.
	memberSession.get(t, "/").wantStatus(t, http.StatusOK)

	visitor := f.app.client(t)
	page := visitor.get(t, path)
	page.wantStatus(t, http.StatusOK)
	if !strings.Contains(page.text(t, "p.lead"), "member@example.com") {
		t.Fatalf("reset page does not name the account:\n%s", page.Body)
	}
	// The policy applies: the e-mail name is refused.
	res = visitor.postForm(t, path, url.Values{"password": {"member is my password"}, "confirm_password": {"member is my password"}})
	res.wantStatus(t, http.StatusUnprocessableEntity)
	if !strings.Contains(res.text(t, "small#password-error"), "e-mail name") {
		t.Fatalf("policy message: %q", res.text(t, "small.error"))
	}
	visitor.postForm(t, path, url.Values{"password": {"a fresh passphrase now"}, "confirm_password": {"a fresh passphrase now"}}).wantRedirect(t, "/login")

	// Every session of the member ended; the new password works, the old one not.
	memberSession.get(t, "/").wantRedirect(t, "/login")
	if code := tryLogin(t, f.app, "member@example.com", testPassword); code != http.StatusUnauthorized {
		t.Fatalf("the old password: status %d, want 401", code)
	}
	f.app.client(t).login(t, "member@example.com", "a fresh passphrase now")

	// Once only.
	f.app.client(t).get(t, path).wantStatus(t, http.StatusNotFound)
	f.app.client(t).postForm(t, path, url.Values{"password": {"yet another passphrase"}, "confirm_password": {"yet another passphrase"}}).wantStatus(t, http.StatusNotFound)
	if strings.Contains(f.app.logs.String(), token) {
		t.Error("the reset token was logged")
	}
	log := f.signedIn(t, "owner@example.com").get(t, "/settings/audit-log").text(t, "table.audit tbody")
	for _, want := range []string{"admin@example.com sent member@example.com a password reset link", "member@example.com reset their password with a link"} {
		if !strings.Contains(strings.Join(strings.Fields(log), " "), want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}
}

func TestPasswordResetLinkExpiresAfterAnHour(t *testing.T) {
	f := newMembersFixture(t)
	owner := f.signedIn(t, "owner@example.com")
	res := owner.postForm(t, "/settings/members/"+strconv.FormatInt(f.admin.ID, 10)+"/password-reset", nil)
	path := linkPath(t, attr(res.first(t, "input#one-time-link"), "value"))
	f.app.clock.Advance(model.PasswordResetLifetime)
	f.app.client(t).get(t, path).wantStatus(t, http.StatusNotFound)
	f.app.client(t).postForm(t, path, url.Values{"password": {"too late for this one"}, "confirm_password": {"too late for this one"}}).wantStatus(t, http.StatusNotFound)
	f.app.client(t).login(t, "admin@example.com", testPassword)
}

func TestPasswordResetLinkScope(t *testing.T) {
	f := newMembersFixture(t)
	owner := f.signedIn(t, "owner@example.com")
	// Another team's member: 404; one's own: refused; nothing recorded.
	owner.postForm(t, "/settings/members/"+strconv.FormatInt(f.outside.ID, 10)+"/password-reset", nil).wantStatus(t, http.StatusNotFound)
	self := ownerMembership(t, f)
	if res := owner.postForm(t, "/settings/members/"+strconv.FormatInt(self.ID, 10)+"/password-reset", nil); res.StatusCode < 400 || res.StatusCode >= 500 {
		t.Fatalf("resetting one's own password from Members: status %d", res.StatusCode)
	}
	if n := countRows(t, f.app, "password_resets"); n != 0 {
		t.Fatalf("%d reset links recorded, want 0", n)
	}
}

// "Forgot password?" answers the same for known and unknown addresses and,
// with no e-mail configured, makes no link at all.
func TestForgotPasswordIsNoOracle(t *testing.T) {
	f := newMembersFixture(t)
	if !f.app.client(t).get(t, "/login").has(t, `a[href="/password/forgot"]`) {
		t.Fatal("the sign-in page has no Forgot password link")
	}
	answer := func(email string) (int, string) {
		res := f.app.client(t).postForm(t, "/password/forgot", url.Values{"email": {email}})
		return res.StatusCode, strings.ReplaceAll(res.text(t, "main"), email, "EMAIL")
	}
	c1, b1 := answer("member@example.com")
	c2, b2 := answer("nobody@example.com")
	if c1 != http.StatusOK || c1 != c2 || b1 != b2 {
		t.Fatalf("known: %d %q\nunknown: %d %q", c1, b1, c2, b2)
	}
	f.app.srv.acc.background.Wait()
	if n := countRows(t, f.app, "password_resets"); n != 0 {
		t.Fatalf("%d reset links recorded without e-mail, want 0", n)
	}
	f.app.client(t).postForm(t, "/password/forgot", url.Values{"email": {"not an address"}}).wantStatus(t, http.StatusUnprocessableEntity)
}

// An account whose password was generated for it must choose its own
// before it can do anything else.
func TestGeneratedPasswordMustBeChanged(t *testing.T) {
	app := newTestApp(t)
	_, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	u, err := app.store.CreateUserWithGeneratedPassword(context.Background(), "ops@example.com", app.hash(t, "generated-pass-word-1"))
	if err != nil {
		t.Fatal(err)
	}
	app.addMember(t, team.ID, u.ID, model.RoleAdmin)
	cl := app.client(t)
	cl.login(t, "ops@example.com", "generated-pass-word-1")
	cl.get(t, "/settings/api-keys").wantRedirect(t, "/account/password")
	cl.htmxGet(t, "/settings/members").wantStatus(t, http.StatusUnauthorized)
	page := cl.get(t, "/account/password")
	page.wantStatus(t, http.StatusOK)
	if !strings.Contains(page.text(t, ".notice-warn"), "Choose your own") {
		t.Fatalf("no notice on the password page:\n%s", page.Body)
	}
	cl.postForm(t, "/account/password", passwordForm("generated-pass-word-1", newTestPassword, newTestPassword)).wantRedirect(t, "/")
	cl.get(t, "/settings/api-keys").wantStatus(t, http.StatusOK)
	got, _ := app.store.FindUserByID(context.Background(), u.ID)
	if got.MustChangePassword || !auth.CheckPassword(got.PasswordHash, newTestPassword) {
		t.Fatal("the flag or the password was not updated")
	}
}

// countRows counts the rows of a table, straight from the database.
func countRows(t *testing.T, app *testApp, table string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), app.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
