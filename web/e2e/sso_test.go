//go:build e2e

package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testidp"
)

// TestSSOSignIn signs in with single sign-on in Chromium against a real
// OpenID provider: the sign-in page offers "Sign in with Test IdP", the
// provider's own form takes the password, and keyward lands the person in
// the team the roles file gives their group, as Admin. Then ana accepts an
// invitation to another team with "Continue with Test IdP" and lands in it.
func TestSSOSignIn(t *testing.T) {
	srv := startServer(t)
	srv.setup(t)
	idp := testidp.Start(t, srv.URL+"/auth/oidc/callback", true)
	idp.SetGroups("sub-ben", "payments-admins")
	srv.cfg.OIDC = config.OIDC{Issuer: idp.URL, ClientID: testidp.ClientID, ClientSecret: testidp.ClientSecret, Name: "Test IdP",
		Roles: &model.SSORoles{Claim: "groups", Teams: []model.SSOTeam{{Team: teamName, Roles: map[string]model.Role{"payments-admins": model.RoleAdmin}}}}}

	tb := newTab(t, srv)
	tb.expectConsole("favicon.ico") // the provider's page asks for one it does not have
	tb.open("/login")
	tb.waitPage("/login")
	if got := tb.text("a.sso-button"); got != "Sign in with Test IdP" {
		tb.fatalf("the SSO button says %q", got)
	}
	tb.axe("the sign-in page with single sign-on")
	tb.shot("login-sso-desktop-light")
	tb.click("a.sso-button")
	tb.waitJS("the provider's sign-in form", `location.pathname === "/login/username" && !!document.querySelector("#username")`)
	tb.typeInto("#username", "ben")
	tb.typeInto("#password", testidp.Password)
	tb.click(`button[type=submit]`)
	tb.waitPage("/settings/api-keys")
	if got := tb.text("details.user-menu > summary"); !strings.Contains(got, "ben@example.com") {
		tb.errorf("the account menu shows %q, want ben@example.com", got)
	}
	tb.open("/settings/members")
	tb.waitPage("/settings/members")
	if got := tb.text(`table.members tbody`); !strings.Contains(got, "Single sign-on") {
		tb.errorf("Members shows the sign-in methods %q, want Single sign-on among them", got)
	}

	// An invitation accepted with single sign-on.
	ctx := context.Background()
	ops, err := srv.store.CreateTeam(ctx, "Ops", model.Actor{Label: ownerEmail})
	if err != nil {
		t.Fatal(err)
	}
	token, tokenHash := auth.NewLinkToken()
	if _, err := srv.store.CreateInvitation(ctx, ops.ID, "ana@example.com", model.RoleMember, tokenHash, srv.clock.Now().Add(model.InvitationLifetime), model.Actor{Label: ownerEmail}); err != nil {
		t.Fatal(err)
	}
	tb.signOut()
	tb.open("/invitations/" + token)
	tb.waitPage("/invitations/")
	if got := tb.text("a.sso-button"); got != "Continue with Test IdP" {
		tb.fatalf("the invitation's SSO button says %q", got)
	}
	tb.axe("the invitation page with single sign-on")
	tb.shot("invitation-sso-desktop-light")
	tb.click("a.sso-button")
	tb.waitJS("the provider's sign-in form", `location.pathname === "/login/username" && !!document.querySelector("#username")`)
	tb.typeInto("#username", "ana")
	tb.typeInto("#password", testidp.Password)
	tb.click(`button[type=submit]`)
	tb.waitJS("the member's home page", `location.href === `+strconv.Quote(srv.URL+"/")+` && document.readyState === "complete"`)
	if got := tb.text(".notice-success"); !strings.Contains(got, "Welcome to Ops. You joined as Member.") {
		tb.errorf("after accepting with SSO the page says %q", got)
	}
}
