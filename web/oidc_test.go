package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testidp"
)

// ssoApp is a keyward server with single sign-on against a test provider.
func ssoApp(t *testing.T, claimsInIDToken bool, opts ...testAppOption) (*testApp, *testidp.Provider) {
	t.Helper()
	app := newTestApp(t, opts...)
	idp := testidp.Start(t, app.URL+"/auth/oidc/callback", claimsInIDToken)
	app.cfg.OIDC = config.OIDC{Issuer: idp.URL, ClientID: testidp.ClientID, ClientSecret: testidp.ClientSecret, Name: "Test IdP",
		Roles: &model.SSORoles{Claim: "groups", Teams: []model.SSOTeam{
			{Team: "Acme", Roles: map[string]model.Role{"acme-owners": model.RoleOwner, "acme-admins": model.RoleAdmin, "acme-devs": model.RoleMember}},
			{Team: "Globex", Roles: map[string]model.Role{"globex": model.RoleMember}},
		}}}
	return app, idp
}

// startSSO asks keyward to start single sign-on and returns the provider URL.
func startSSO(t *testing.T, cl *testClient) *url.URL {
	t.Helper()
	res := cl.get(t, "/auth/oidc/login?next=/settings/members")
	res.wantStatus(t, http.StatusSeeOther)
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// ssoSignIn signs cl in as username through the provider.
func ssoSignIn(t *testing.T, idp *testidp.Provider, cl *testClient, username string) *testResponse {
	t.Helper()
	back := idp.SignIn(t, startSSO(t, cl).String(), username)
	return cl.get(t, back.RequestURI())
}

func TestSSOSignInCreatesAndMapsRoles(t *testing.T) {
	app, idp := ssoApp(t, true)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	idp.SetGroups("sub-ana", "acme-admins", "unrelated")

	cl := app.client(t)
	login := cl.get(t, "/login")
	if got := login.text(t, "a.sso-button"); got != "Sign in with Test IdP" || !login.has(t, `form[action="/login"]`) {
		t.Fatalf("sign-in page: button %q\n%s", got, login.Body)
	}
	auth := startSSO(t, cl)
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorization request lacks PKCE, state or nonce: %s", auth)
	}
	back := idp.SignIn(t, auth.String(), "ana")
	cl.get(t, back.RequestURI()).wantRedirect(t, "/settings/members")
	cl.get(t, "/settings/members").wantStatus(t, http.StatusOK)

	u, err := app.store.FindUserByEmail(context.Background(), "ana@example.com")
	if err != nil || u.PasswordHash != "" || u.OIDCSubject == "" {
		t.Fatalf("account made by SSO: %+v %v", u, err)
	}
	acme, _ := app.store.FindTeamByName(context.Background(), "Acme")
	if m, err := app.store.FindMembership(context.Background(), acme.ID, u.ID); err != nil || m.Role != model.RoleAdmin {
		t.Fatalf("Acme membership %+v %v, want ADMIN", m, err)
	}
	if _, err := app.store.FindTeamByName(context.Background(), "Globex"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatal("a team no group maps to was created")
	}

	// Groups change at the provider: the next sign-in demotes, then removes.
	idp.SetGroups("sub-ana", "acme-devs", "globex")
	ssoSignIn(t, idp, app.client(t), "ana").wantRedirect(t, "/settings/members")
	if m, _ := app.store.FindMembership(context.Background(), acme.ID, u.ID); m.Role != model.RoleMember {
		t.Fatalf("after losing acme-admins: role %q, want MEMBER", m.Role)
	}
	globex, err := app.store.FindTeamByName(context.Background(), "Globex")
	if err != nil {
		t.Fatal("Globex was not created for its group")
	}
	idp.SetGroups("sub-ana")
	ssoSignIn(t, idp, app.client(t), "ana")
	for _, team := range []int64{acme.ID, globex.ID} {
		if _, err := app.store.FindMembership(context.Background(), team, u.ID); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("still a member of team %d after leaving every group", team)
		}
	}
	// The earlier session lost Acme at once (roles are read per request).
	cl.get(t, "/settings/members").wantStatus(t, http.StatusForbidden)
	log := app.client(t)
	log.login(t, "owner@example.com", testPassword)
	text := strings.Join(strings.Fields(log.get(t, "/settings/audit-log").text(t, "table.audit tbody")), " ")
	for _, want := range []string{"single sign-on (Test IdP) added ana@example.com as Admin", "changed ana@example.com's role from Admin to Member", "removed ana@example.com from the team"} {
		if !strings.Contains(text, want) {
			t.Errorf("audit log lacks %q:\n%s", want, text)
		}
	}
}

// An existing password account is matched by verified e-mail and linked;
// the password keeps working. Claims come from the userinfo endpoint here.
func TestSSOLinksExistingAccountByVerifiedEmail(t *testing.T) {
	app, idp := ssoApp(t, false)
	_, team := app.setup(t, "ben@example.com", testPassword, "Acme")
	idp.SetGroups("sub-ben", "acme-owners")
	cl := app.client(t)
	ssoSignIn(t, idp, cl, "ben").wantRedirect(t, "/settings/members")
	u, _ := app.store.FindUserByEmail(context.Background(), "ben@example.com")
	if u.OIDCSubject == "" || u.PasswordHash == "" {
		t.Fatalf("linked account %+v", u)
	}
	if m, _ := app.store.FindMembership(context.Background(), team.ID, u.ID); m.Role != model.RoleOwner {
		t.Fatalf("role %q", m.Role)
	}
	app.client(t).login(t, "ben@example.com", testPassword)
	if got := cl.get(t, "/settings/members").text(t, "table.members .sign-in-method"); got != "Password and Single sign-on" {
		t.Fatalf("Members shows the sign-in method %q", got)
	}
}

func TestSSORefusesUnverifiedEmail(t *testing.T) {
	app, idp := ssoApp(t, true)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	res := ssoSignIn(t, idp, cl, "eve")
	res.wantStatus(t, http.StatusForbidden)
	if !strings.Contains(res.text(t, ".notice-error"), "not verified") {
		t.Fatalf("message: %q", res.text(t, ".notice-error"))
	}
	if _, err := app.store.FindUserByEmail(context.Background(), "eve@example.com"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatal("an account was made for an unverified e-mail")
	}
	if _, ok := decodeForTest(t, app, cl); ok {
		t.Fatal("signed in with an unverified e-mail")
	}
}

// A callback with another state, a replayed callback, a code from another
// attempt (the PKCE verifier does not match) and an ID token with another
// nonce are all refused, and nobody is signed in.
func TestSSORefusesForgedCallbacks(t *testing.T) {
	app, idp := ssoApp(t, true)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	refused := func(name string, cl *testClient, res *testResponse, status int) {
		t.Helper()
		if res.StatusCode != status {
			t.Fatalf("%s: status %d, want %d\n%s", name, res.StatusCode, status, res.Body)
		}
		if _, ok := decodeForTest(t, app, cl); ok {
			t.Fatalf("%s: signed in", name)
		}
	}

	// Wrong state.
	cl := app.client(t)
	back := idp.SignIn(t, startSSO(t, cl).String(), "ana")
	q := back.Query()
	q.Set("state", "forged")
	refused("wrong state", cl, cl.get(t, back.Path+"?"+q.Encode()), http.StatusBadRequest)

	// Replay: the right callback once, then again.
	cl = app.client(t)
	back = idp.SignIn(t, startSSO(t, cl).String(), "ana")
	cl.get(t, back.RequestURI()).wantRedirect(t, "/settings/members")
	other := app.client(t)
	refused("callback in another browser", other, other.get(t, back.RequestURI()), http.StatusBadRequest)

	// PKCE: a code made for attempt A, presented with attempt B's state
	// (so B's verifier is used), is refused by the provider.
	cl = app.client(t)
	codeA := idp.SignIn(t, startSSO(t, cl).String(), "ana").Query().Get("code")
	authB := startSSO(t, cl)
	q = url.Values{"code": {codeA}, "state": {authB.Query().Get("state")}}
	refused("code with another verifier", cl, cl.get(t, "/auth/oidc/callback?"+q.Encode()), http.StatusUnauthorized)

	// Nonce: attempt C's authorization request with its nonce swapped.
	cl = app.client(t)
	authC := startSSO(t, cl)
	qc := authC.Query()
	qc.Set("nonce", "not-the-session-nonce")
	authC.RawQuery = qc.Encode()
	back = idp.SignIn(t, authC.String(), "ana")
	refused("wrong nonce", cl, cl.get(t, back.RequestURI()), http.StatusUnauthorized)

	// A callback nobody started.
	cl = app.client(t)
	refused("unsolicited", cl, cl.get(t, "/auth/oidc/callback?code=x&state=y"), http.StatusBadRequest)
	if _, err := app.store.FindUserByEmail(context.Background(), "ana@example.com"); err != nil {
		t.Fatal("the one good sign-in made no account")
	}
}

// With password sign-in off, the sign-in page offers only single sign-on
// and password attempts are refused.
func TestSSOOnly(t *testing.T) {
	app, idp := ssoApp(t, true)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	app.cfg.SSOOnly = true
	cl := app.client(t)
	page := cl.get(t, "/login")
	if page.has(t, `form[action="/login"]`) || !page.has(t, "a.sso-button") || page.has(t, `a[href="/password/forgot"]`) {
		t.Fatalf("SSO-only sign-in page:\n%s", page.Body)
	}
	cl.postForm(t, "/login", url.Values{"email": {"owner@example.com"}, "password": {testPassword}}).wantStatus(t, http.StatusForbidden)
	if _, ok := decodeForTest(t, app, cl); ok {
		t.Fatal("signed in with a password while password sign-in is off")
	}
	cl.get(t, "/password/forgot").wantStatus(t, http.StatusNotFound)
	ssoSignIn(t, idp, app.client(t), "ana").wantRedirect(t, "/settings/members")
}

// The code keyward asks for is bound to its PKCE challenge: the provider
// refuses to exchange it without the verifier, even with keyward's client
// secret, and the same code with the verifier keyward kept still signs in.
func TestSSOCodeNeedsThePKCEVerifier(t *testing.T) {
	app, idp := ssoApp(t, true)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	back := idp.SignIn(t, startSSO(t, cl).String(), "ana")
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, idp.URL)
	if err != nil {
		t.Fatal(err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	conf := oauth2.Config{ClientID: testidp.ClientID, ClientSecret: testidp.ClientSecret, Endpoint: ep, RedirectURL: app.URL + "/auth/oidc/callback"}
	_, err = conf.Exchange(ctx, back.Query().Get("code"))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_request" || !strings.Contains(re.ErrorDescription, "code_verifier") {
		t.Fatalf("exchange without a verifier: %v, want invalid_request for the missing code_verifier", err)
	}
	cl.get(t, back.RequestURI()).wantRedirect(t, "/settings/members")
}
