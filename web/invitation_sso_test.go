package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testidp"
)

// ssoInvitation starts a keyward with single sign-on and a team named team,
// whose owner invites email with role; it returns the owner's client and
// the invitation's path.
func ssoInvitation(t *testing.T, team, email, role string) (*testApp, *testidp.Provider, *testClient, string) {
	t.Helper()
	app, idp := ssoApp(t, true)
	app.setup(t, "owner@example.com", testPassword, team)
	owner := app.client(t)
	owner.login(t, "owner@example.com", testPassword)
	return app, idp, owner, linkPath(t, invite(t, owner, email, role))
}

// startInvitationSSO presses "Continue with Test IdP" on the invitation
// page and returns the provider URL the browser is sent to.
func startInvitationSSO(t *testing.T, cl *testClient, path string) *url.URL {
	t.Helper()
	res := cl.get(t, path+"/sso")
	res.wantStatus(t, http.StatusSeeOther)
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if token := strings.TrimPrefix(path, "/invitations/"); strings.Contains(u.String(), token) {
		t.Fatalf("the invitation token goes to the provider: %s", u)
	}
	return u
}

// acceptWithSSO accepts the invitation at path as username at the provider
// and returns keyward's answer to the callback.
func acceptWithSSO(t *testing.T, idp *testidp.Provider, cl *testClient, path, username string) *testResponse {
	t.Helper()
	back := idp.SignIn(t, startInvitationSSO(t, cl, path).String(), username)
	return cl.get(t, back.RequestURI())
}

// invitationPending fails t unless the team's one invitation is still open
// and its link still works.
func invitationPending(t *testing.T, app *testApp, team, path string) {
	t.Helper()
	tm, err := app.store.FindTeamByName(context.Background(), team)
	if err != nil {
		t.Fatal(err)
	}
	if invs, err := app.store.FindOpenInvitations(context.Background(), tm.ID); err != nil || len(invs) != 1 {
		t.Fatalf("open invitations %+v %v, want the one", invs, err)
	}
	app.client(t).get(t, path).wantStatus(t, http.StatusOK)
}

func TestInvitationAcceptedWithSSO(t *testing.T) {
	app, idp, owner, path := ssoInvitation(t, "Initech", "ana@example.com", "ADMIN")
	newcomer := app.client(t)
	page := newcomer.get(t, path)
	page.wantStatus(t, http.StatusOK)
	if got := page.text(t, `a.sso-button[href="`+path+`/sso"]`); got != "Continue with Test IdP" || !page.has(t, "input#password") {
		t.Fatalf("invitation page: SSO button %q\n%s", got, page.Body)
	}
	auth := startInvitationSSO(t, newcomer, path)
	if q := auth.Query(); q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorization request lacks PKCE, state or nonce: %s", auth)
	}
	back := idp.SignIn(t, auth.String(), "ana")
	newcomer.get(t, back.RequestURI()).wantRedirect(t, "/")

	u, err := app.store.FindUserByEmail(context.Background(), "ana@example.com")
	if err != nil || u.OIDCSubject == "" || u.PasswordHash != "" {
		t.Fatalf("account made by accepting with SSO: %+v %v", u, err)
	}
	initech, _ := app.store.FindTeamByName(context.Background(), "Initech")
	if m, err := app.store.FindMembership(context.Background(), initech.ID, u.ID); err != nil || m.Role != model.RoleAdmin {
		t.Fatalf("membership %+v %v, want ADMIN of Initech", m, err)
	}
	if id, ok := decodeForTest(t, app, newcomer); !ok || id != u.ID {
		t.Fatalf("signed in as %d (%v), want %d", id, ok, u.ID)
	}
	newcomer.get(t, "/").wantRedirect(t, "/settings/api-keys")
	if got := newcomer.get(t, "/settings/api-keys").text(t, ".notice-success"); !strings.Contains(got, "Welcome to Initech. You joined as Admin.") {
		t.Fatalf("welcome notice %q", got)
	}

	// Used once: the link and its SSO button are gone.
	app.client(t).get(t, path).wantStatus(t, http.StatusNotFound)
	app.client(t).get(t, path+"/sso").wantStatus(t, http.StatusNotFound)
	if invs, _ := app.store.FindOpenInvitations(context.Background(), initech.ID); len(invs) != 0 {
		t.Fatalf("open invitations after acceptance: %+v", invs)
	}
	log := strings.Join(strings.Fields(owner.get(t, "/settings/audit-log").text(t, "table.audit tbody")), " ")
	if !strings.Contains(log, "joined the team as Admin (invited by owner@example.com)") {
		t.Fatalf("audit log lacks the acceptance:\n%s", log)
	}
}

// A provider account with another e-mail, an invitation used or expired
// while the person was at the provider: refused, nobody signed in, and
// (for the mismatch) the invitation still pending.
func TestInvitationSSORefusals(t *testing.T) {
	app, idp, owner, path := ssoInvitation(t, "Initech", "ana@example.com", "MEMBER")

	cl := app.client(t)
	res := acceptWithSSO(t, idp, cl, path, "ben")
	res.wantStatus(t, http.StatusForbidden)
	if got := res.text(t, ".notice-error"); !strings.Contains(got, "This invitation is for ana@example.com") || !strings.Contains(got, "ben@example.com") {
		t.Fatalf("mismatch message %q", got)
	}
	if _, ok := decodeForTest(t, app, cl); ok {
		t.Fatal("signed in with another e-mail than the invited one")
	}
	if _, err := app.store.FindUserByEmail(context.Background(), "ben@example.com"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatal("an account was made for the wrong e-mail")
	}
	invitationPending(t, app, "Initech", path)

	// Used meanwhile (with a password, in another browser).
	cl = app.client(t)
	auth := startInvitationSSO(t, cl, path)
	other := app.client(t)
	other.get(t, path)
	other.postForm(t, path, url.Values{"password": {"the first one wins here"}, "confirm_password": {"the first one wins here"}}).wantRedirect(t, "/")
	back := idp.SignIn(t, auth.String(), "ana")
	cl.get(t, back.RequestURI()).wantStatus(t, http.StatusNotFound)
	if _, ok := decodeForTest(t, app, cl); ok {
		t.Fatal("signed in through a used invitation")
	}
	if u, _ := app.store.FindUserByEmail(context.Background(), "ana@example.com"); u.OIDCSubject != "" {
		t.Fatal("a used invitation linked the account")
	}

	// Expired while at the provider.
	path = linkPath(t, invite(t, owner, "ben@example.com", "MEMBER"))
	app.clock.Advance(model.InvitationLifetime - 2*time.Minute)
	cl = app.client(t)
	auth = startInvitationSSO(t, cl, path)
	app.clock.Advance(3 * time.Minute)
	back = idp.SignIn(t, auth.String(), "ben")
	cl.get(t, back.RequestURI()).wantStatus(t, http.StatusNotFound)
	if _, ok := decodeForTest(t, app, cl); ok {
		t.Fatal("signed in through an expired invitation")
	}
	if _, err := app.store.FindUserByEmail(context.Background(), "ben@example.com"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatal("an expired invitation made an account")
	}
	app.client(t).get(t, path+"/sso").wantStatus(t, http.StatusNotFound)
}

// A team the roles file lists follows the provider's groups, invitations
// included: with no group for it the acceptance is refused and the
// invitation stays pending; with one, the groups' role wins.
func TestInvitationSSOFollowsTheRolesFile(t *testing.T) {
	app, idp, owner, path := ssoInvitation(t, "Acme", "ana@example.com", "MEMBER")
	cl := app.client(t)
	res := acceptWithSSO(t, idp, cl, path, "ana")
	res.wantStatus(t, http.StatusForbidden)
	if got := res.text(t, ".notice-error"); !strings.Contains(got, "follow the groups") {
		t.Fatalf("message %q", got)
	}
	if _, err := app.store.FindUserByEmail(context.Background(), "ana@example.com"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatal("a refused acceptance left an account behind")
	}
	invitationPending(t, app, "Acme", path)

	idp.SetGroups("sub-ana", "acme-admins")
	acceptWithSSO(t, idp, app.client(t), path, "ana").wantRedirect(t, "/")
	acme, _ := app.store.FindTeamByName(context.Background(), "Acme")
	if m, err := app.store.FindMembership(context.Background(), acme.ID, userID(t, app, "ana@example.com")); err != nil || m.Role != model.RoleAdmin {
		t.Fatalf("membership %+v %v, want ADMIN from the groups", m, err)
	}
	log := strings.Join(strings.Fields(owner.get(t, "/settings/audit-log").text(t, "table.audit tbody")), " ")
	for _, want := range []string{"joined the team as Member (invited by owner@example.com)", "changed ana@example.com's role from Member to Admin"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}
}

// With password sign-in off, the invitation page offers only single
// sign-on and a password posted anyway is refused.
func TestInvitationSSOOnly(t *testing.T) {
	app, idp, _, path := ssoInvitation(t, "Initech", "ana@example.com", "MEMBER")
	app.cfg.SSOOnly = true
	cl := app.client(t)
	page := cl.get(t, path)
	if page.has(t, "input#password") || page.has(t, `form[action="`+path+`"]`) || !page.has(t, "a.sso-button") {
		t.Fatalf("SSO-only invitation page:\n%s", page.Body)
	}
	res := cl.postForm(t, path, url.Values{"password": {"a password never used"}, "confirm_password": {"a password never used"}})
	res.wantStatus(t, http.StatusForbidden)
	if !strings.Contains(res.text(t, ".notice-error"), "Password sign-in is turned off") {
		t.Fatalf("refusal:\n%s", res.Body)
	}
	if _, err := app.store.FindUserByEmail(context.Background(), "ana@example.com"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatal("a password POST made an account while password sign-in is off")
	}
	invitationPending(t, app, "Initech", path)
	acceptWithSSO(t, idp, cl, path, "ana").wantRedirect(t, "/")
}
