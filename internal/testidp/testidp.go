// Package testidp runs a real OpenID provider for keyward's tests:
// zitadel/oidc's certified op package with the storage of its example
// server, in-process on a loopback port. Its users are the tests' own, and
// it adds a groups claim, which it can put in the ID token (as most
// providers do) or leave to the userinfo endpoint. It is test support and is
// never compiled into keyward.
package testidp

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
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Client id and secret of keyward at the provider, and every user's password.
const (
	ClientID     = "keyward"
	ClientSecret = "secret"
	Password     = "provider password"
)

// User is one person at the provider; Subject is their stable id.
type User struct {
	Subject, Username, Email string
	EmailVerified            bool
}

// Users are the provider's people: ana and ben (verified e-mail), eve (not
// verified).
var Users = []User{
	{"sub-ana", "ana", "ana@example.com", true},
	{"sub-ben", "ben", "ben@example.com", true},
	{"sub-eve", "eve", "eve@example.com", false},
}

// Provider is a running OpenID provider.
type Provider struct {
	// URL is the issuer.
	URL string
	st  *opStorage
}

// SetGroups sets the groups claim of subject.
func (p *Provider) SetGroups(subject string, groups ...string) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	p.st.groups[subject] = groups
}

// Start runs a provider whose client ClientID may redirect to redirectURI.
// With claimsInIDToken the ID token carries e-mail and groups; otherwise
// they come only from the userinfo endpoint. It stops when t ends.
func Start(t testing.TB, redirectURI string, claimsInIDToken bool) *Provider {
	t.Helper()
	users := opUsers{byID: map[string]*storage.User{}}
	for _, u := range Users {
		users.byID[u.Subject] = &storage.User{ID: u.Subject, Username: u.Username, Password: Password, FirstName: "Test", LastName: u.Username,
			Email: u.Email, EmailVerified: u.EmailVerified, PreferredLanguage: language.English}
	}
	st := &opStorage{
		Storage:         storage.NewStorageWithClients(users, map[string]*storage.Client{ClientID: storage.WebClient(ClientID, ClientSecret, redirectURI)}),
		groups:          map[string][]string{},
		claimsInIDToken: claimsInIDToken,
	}
	hs := httptest.NewUnstartedServer(nil)
	issuer := "http://" + hs.Listener.Addr().String()
	hs.Config.Handler = exampleop.SetupServer(issuer, st, nil, false)
	hs.Start()
	t.Cleanup(hs.Close)
	return &Provider{URL: issuer, st: st}
}

var formID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// SignIn plays the browser at the provider: it opens authURL, signs in as
// username, and returns the URL the provider sends the browser back to on
// the relying party's host, without following it.
func (p *Provider) SignIn(t testing.TB, authURL, username string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	issuer, _ := url.Parse(p.URL)
	hc := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host != issuer.Host {
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
	m := formID.FindSubmatch(body)
	if m == nil {
		t.Fatalf("the provider's sign-in form (status %d):\n%s", res.StatusCode, body)
	}
	login := issuer.ResolveReference(&url.URL{Path: "/login/username"})
	res, err = hc.PostForm(login.String(), url.Values{"id": {string(m[1])}, "username": {username}, "password": {Password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := res.Location()
	if err != nil || loc.Host == issuer.Host {
		t.Fatalf("the provider did not send the browser back: status %d, Location %v", res.StatusCode, loc)
	}
	return loc
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
func (u opUsers) ExampleClientID() string { return ClientID }

type opStorage struct {
	*storage.Storage
	mu              sync.Mutex
	groups          map[string][]string
	claimsInIDToken bool
}

func (s *opStorage) groupsOf(sub string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.groups[sub]...)
}

// assertingClient asks for the userinfo claims in the ID token.
type assertingClient struct{ op.Client }

func (assertingClient) IDTokenUserinfoClaimsAssertion() bool { return true }

func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || !s.claimsInIDToken {
		return c, err
	}
	return assertingClient{c}, nil
}

func (s *opStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	ui.AppendClaims("groups", s.groupsOf(req.GetSubject()))
	return nil
}

func (s *opStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	ui.AppendClaims("groups", s.groupsOf(subject))
	return nil
}

// Username returns the provider username of an e-mail of Users.
func Username(email string) string { return strings.Split(email, "@")[0] }
