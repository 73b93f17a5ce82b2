package web

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
)

// testOP is a real OpenID provider: zitadel/oidc's certified op package
// with the storage of its example server, run in-process. Its users are
// ours; opStorage adds a groups claim and can put the user's claims in the
// ID token (as most providers do) or leave them to the userinfo endpoint.
type testOP struct {
	URL     string
	storage *opStorage
}

type opUsers struct{ byID map[string]*storage.User }

func (u opUsers) GetUserByID(id string) *storage.User { return u.byID[id] }
func (u opUsers) GetUserByUsername(name string) *storage.User {
	for _, x := range u.byID {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u opUsers) ExampleClientID() string { return "keyward" }

type opStorage struct {
	*storage.Storage
	mu sync.Mutex
	// groups per subject; claimsInIDToken puts e-mail and groups in the ID token.
	groups          map[string][]string
	claimsInIDToken bool
}

func (s *opStorage) setGroups(sub string, g ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[sub] = g
}

func (s *opStorage) groupsOf(sub string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.groups[sub]...)
}

type assertingClient struct{ op.Client }

func (assertingClient) IDTokenUserinfoClaimsAssertion() bool { return true }

func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || !s.claimsInIDToken {
		return c, err
	}
	return assertingClient{c}, nil
}

func (s *opStorage) SetUserinfoFromRequest(ctx context.Context, ui *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	ui.AppendClaims("groups", s.groupsOf(req.GetSubject()))
	return nil
}

func (s *opStorage) SetUserinfoFromToken(ctx context.Context, ui *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	ui.AppendClaims("groups", s.groupsOf(subject))
	return nil
}

const opPassword = "provider password"

// newTestOP starts a provider whose client "keyward" (secret "secret") may
// redirect to redirectURI, with users ana (verified), ben (verified) and
// eve (e-mail not verified).
func newTestOP(t *testing.T, redirectURI string, claimsInIDToken bool) *testOP {
	t.Helper()
	users := opUsers{byID: map[string]*storage.User{}}
	for _, u := range []struct {
		id, email string
		verified  bool
	}{{"sub-ana", "ana@example.com", true}, {"sub-ben", "ben@example.com", true}, {"sub-eve", "eve@example.com", false}} {
		users.byID[u.id] = &storage.User{ID: u.id, Username: strings.Split(u.email, "@")[0], Password: opPassword, FirstName: "Test", LastName: u.id,
			Email: u.email, EmailVerified: u.verified, PreferredLanguage: language.English}
	}
	st := &opStorage{
		Storage:         storage.NewStorageWithClients(users, map[string]*storage.Client{"keyward": storage.WebClient("keyward", "secret", redirectURI)}),
		groups:          map[string][]string{},
		claimsInIDToken: claimsInIDToken,
	}
	hs := httptest.NewUnstartedServer(nil)
	issuer := "http://" + hs.Listener.Addr().String()
	hs.Config.Handler = exampleop.SetupServer(issuer, st, nil, false)
	hs.Start()
	t.Cleanup(hs.Close)
	return &testOP{URL: issuer, storage: st}
}

// ssoApp is a keyward server with single sign-on against a test provider.
func ssoApp(t *testing.T, claimsInIDToken bool, opts ...testAppOption) (*testApp, *testOP) {
	t.Helper()
	app := newTestApp(t, opts...)
	idp := newTestOP(t, app.URL+"/auth/oidc/callback", claimsInIDToken)
	app.cfg.OIDC = config.OIDC{Issuer: idp.URL, ClientID: "keyward", ClientSecret: "secret", Name: "Test IdP",
		Roles: &model.SSORoles{Claim: "groups", Teams: []model.SSOTeam{
			{Team: "Acme", Roles: map[string]model.Role{"acme-owners": model.RoleOwner, "acme-admins": model.RoleAdmin, "acme-devs": model.RoleMember}},
			{Team: "Globex", Roles: map[string]model.Role{"globex": model.RoleMember}},
		}}}
	return app, idp
}

var opFormID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// providerSignIn plays the browser at the provider: it opens authURL, signs
// in as username, and returns the URL the provider sends the browser back
// to (keyward's callback), without following it.
func providerSignIn(t *testing.T, app *testApp, authURL, username string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	home, _ := url.Parse(app.URL)
	hc := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == home.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := opFormID.FindSubmatch(body)
	if m == nil {
		t.Fatalf("the provider's sign-in form (status %d):\n%s", res.StatusCode, body)
	}
	loginURL := res.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	res, err = hc.PostForm(loginURL.String(), url.Values{"id": {string(m[1])}, "username": {username}, "password": {opPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil || loc.Host != home.Host {
		t.Fatalf("the provider did not send the browser back to keyward: status %d, Location %v", res.StatusCode, loc)
	}
	return loc
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
func ssoSignIn(t *testing.T, app *testApp, cl *testClient, username string) *testResponse {
	t.Helper()
	back := providerSignIn(t, app, startSSO(t, cl).String(), username)
	return cl.get(t, back.RequestURI())
}

func TestSSOSignInCreatesAndMapsRoles(t *testing.T) {
	app, idp := ssoApp(t, true)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	idp.storage.setGroups("sub-ana", "acme-admins", "unrelated")

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
	back := providerSignIn(t, app, auth.String(), "ana")
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
	idp.storage.setGroups("sub-ana", "acme-devs", "globex")
	ssoSignIn(t, app, app.client(t), "ana").wantRedirect(t, "/settings/members")
	if m, _ := app.store.FindMembership(context.Background(), acme.ID, u.ID); m.Role != model.RoleMember {
		t.Fatalf("after losing acme-admins: role %q, want MEMBER", m.Role)
	}
	globex, err := app.store.FindTeamByName(context.Background(), "Globex")
	if err != nil {
		t.Fatal("Globex was not created for its group")
	}
	idp.storage.setGroups("sub-ana")
	ssoSignIn(t, app, app.client(t), "ana")
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
	idp.storage.setGroups("sub-ben", "acme-owners")
	cl := app.client(t)
	ssoSignIn(t, app, cl, "ben").wantRedirect(t, "/settings/members")
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
	app, _ := ssoApp(t, true)
	app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	res := ssoSignIn(t, app, cl, "eve")
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
	app, _ := ssoApp(t, true)
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
	back := providerSignIn(t, app, startSSO(t, cl).String(), "ana")
	q := back.Query()
	q.Set("state", "forged")
	refused("wrong state", cl, cl.get(t, back.Path+"?"+q.Encode()), http.StatusBadRequest)

	// Replay: the right callback once, then again.
	cl = app.client(t)
	back = providerSignIn(t, app, startSSO(t, cl).String(), "ana")
	cl.get(t, back.RequestURI()).wantRedirect(t, "/settings/members")
	other := app.client(t)
	refused("callback in another browser", other, other.get(t, back.RequestURI()), http.StatusBadRequest)

	// PKCE: a code made for attempt A, presented with attempt B's state
	// (so B's verifier is used), is refused by the provider.
	cl = app.client(t)
	codeA := providerSignIn(t, app, startSSO(t, cl).String(), "ana").Query().Get("code")
	authB := startSSO(t, cl)
	q = url.Values{"code": {codeA}, "state": {authB.Query().Get("state")}}
	refused("code with another verifier", cl, cl.get(t, "/auth/oidc/callback?"+q.Encode()), http.StatusUnauthorized)

	// Nonce: attempt C's authorization request with its nonce swapped.
	cl = app.client(t)
	authC := startSSO(t, cl)
	qc := authC.Query()
	qc.Set("nonce", "not-the-session-nonce")
	authC.RawQuery = qc.Encode()
	back = providerSignIn(t, app, authC.String(), "ana")
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
	app, _ := ssoApp(t, true)
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
	ssoSignIn(t, app, app.client(t), "ana").wantRedirect(t, "/settings/members")
}
