package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// sessOIDC holds a sign-in in progress: state, nonce, PKCE verifier, the
// page to go to afterwards, when it started and the token of the invitation
// it accepts ("" for a plain sign-in), joined by newlines.
const sessOIDC = "oidc"

// oidcAttemptTTL bounds how long a started single sign-on may take.
const oidcAttemptTTL = 10 * time.Minute

// ssoProvider is the OpenID provider, discovered on first use and kept;
// a failed discovery is tried again on the next sign-in.
type ssoProvider struct {
	mu sync.Mutex
	p  *oidc.Provider
	// groupsScope: the provider lists a "groups" scope, which some
	// providers (Dex, for one) need before they send the groups claim.
	groupsScope bool
}

func (s *Server) oidcProvider(ctx context.Context) (*oidc.Provider, bool, error) {
	s.sso.mu.Lock()
	defer s.sso.mu.Unlock()
	if s.sso.p != nil {
		return s.sso.p, s.sso.groupsScope, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, s.cfg.OIDC.Issuer)
	if err != nil {
		return nil, false, model.Wrap(model.EUNAVAILABLE, err, "The single sign-on provider did not answer. Try again in a moment, or sign in with your password.")
	}
	var meta struct {
		Scopes []string `json:"scopes_supported"`
	}
	_ = p.Claims(&meta)
	s.sso.p, s.sso.groupsScope = p, slices.Contains(meta.Scopes, "groups")
	return p, s.sso.groupsScope, nil
}

func (s *Server) oauth2Config(c echo.Context, p *oidc.Provider, groups bool) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID, "email", "profile"}
	if groups && s.cfg.OIDC.Roles != nil {
		scopes = append(scopes, "groups")
	}
	return &oauth2.Config{
		ClientID: s.cfg.OIDC.ClientID, ClientSecret: s.cfg.OIDC.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: s.linkURL(c, "/auth/oidc/callback"), Scopes: scopes,
	}
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand.Read does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// handleOIDCLogin serves GET /auth/oidc/login: it starts single sign-on
// and sends the browser to the provider (startOIDC).
func (s *Server) handleOIDCLogin(c echo.Context) error {
	if !s.cfg.OIDC.Enabled() {
		return echo.ErrNotFound
	}
	noStore(c)
	return s.startOIDC(c, safeNext(c.QueryParam("next")), "")
}

// startOIDC starts single sign-on (authorization code flow with PKCE) and
// sends the browser to the provider. State, nonce, verifier, the page to go
// to afterwards and the invitation being accepted (if any) stay in the
// session, which before sign-in is its signed, encrypted cookie; only
// state, nonce and the verifier's challenge go to the provider.
func (s *Server) startOIDC(c echo.Context, next, invitation string) error {
	p, groups, err := s.oidcProvider(c.Request().Context())
	if err != nil {
		return s.ssoFailed(c, http.StatusServiceUnavailable, model.ErrorMessage(err), err)
	}
	sess := currentSession(c)
	if sess == nil {
		return echo.ErrInternalServerError
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	sess.Values[sessOIDC] = strings.Join([]string{state, nonce, verifier, next, strconv.FormatInt(s.now().Unix(), 10), invitation}, "\n")
	if err := s.saveSession(c); err != nil {
		return err
	}
	url := s.oauth2Config(c, p, groups).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	return c.Redirect(http.StatusSeeOther, url)
}

// ssoClaims are the claims keyward reads from the ID token (or, when the
// token carries no e-mail, from the userinfo endpoint).
type ssoClaims struct {
	Email         string `json:"email"`
	EmailVerified any    `json:"email_verified"`
}

// verified reads email_verified, which some providers send as a string.
func (cl ssoClaims) verified() bool {
	switch v := cl.EmailVerified.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// handleOIDCCallback serves GET /auth/oidc/callback: it checks the state
// against the session (once), exchanges the code with the PKCE verifier,
// verifies the ID token and its nonce, requires a verified e-mail, matches
// or creates the account, applies the roles file and signs the user in; a
// sign-on started from an invitation accepts it (acceptInvitationSSO).
func (s *Server) handleOIDCCallback(c echo.Context) error {
	if !s.cfg.OIDC.Enabled() {
		return echo.ErrNotFound
	}
	noStore(c)
	ctx := c.Request().Context()
	sess := currentSession(c)
	if sess == nil {
		return echo.ErrInternalServerError
	}
	pending, _ := sess.Values[sessOIDC].(string)
	delete(sess.Values, sessOIDC) // one callback per sign-in attempt
	if err := s.saveSession(c); err != nil {
		return err
	}
	parts := strings.Split(pending, "\n")
	if len(parts) != 6 {
		return s.ssoFailed(c, http.StatusBadRequest, "This sign-in was not started here, or was already used. Start again.", nil)
	}
	state, nonce, verifier, next, invitation := parts[0], parts[1], parts[2], parts[3], parts[5]
	started, _ := strconv.ParseInt(parts[4], 10, 64)
	if subtle.ConstantTimeCompare([]byte(c.QueryParam("state")), []byte(state)) != 1 {
		return s.ssoFailed(c, http.StatusBadRequest, "This sign-in was not started here, or was already used. Start again.", nil)
	}
	if s.now().Sub(time.Unix(started, 0)) > oidcAttemptTTL {
		return s.ssoFailed(c, http.StatusBadRequest, "This sign-in took too long. Start again.", nil)
	}
	if e := c.QueryParam("error"); e != "" {
		return s.ssoFailed(c, http.StatusUnauthorized, "The sign-in provider did not sign you in ("+printable(e, 64)+").", nil)
	}
	p, groupsScope, err := s.oidcProvider(ctx)
	if err != nil {
		return s.ssoFailed(c, http.StatusServiceUnavailable, model.ErrorMessage(err), err)
	}
	conf := s.oauth2Config(c, p, groupsScope)
	xctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tok, err := conf.Exchange(xctx, c.QueryParam("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return s.ssoFailed(c, http.StatusUnauthorized, "The sign-in provider did not accept the sign-in. Start again.", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: s.cfg.OIDC.ClientID, Now: s.now}).Verify(xctx, rawID)
	if err != nil {
		return s.ssoFailed(c, http.StatusUnauthorized, "The sign-in provider's answer could not be verified. Start again.", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return s.ssoFailed(c, http.StatusUnauthorized, "The sign-in provider's answer could not be verified. Start again.", nil)
	}
	var claims ssoClaims
	all := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return s.ssoFailed(c, http.StatusUnauthorized, "The sign-in provider's answer could not be read.", err)
	}
	_ = idt.Claims(&all)
	if claims.Email == "" {
		// Some providers put the e-mail only behind the userinfo endpoint.
		ui, err := p.UserInfo(xctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != idt.Subject {
			return s.ssoFailed(c, http.StatusUnauthorized, "The sign-in provider did not say who you are.", err)
		}
		_ = ui.Claims(&claims)
		all = map[string]any{}
		_ = ui.Claims(&all)
	}
	if claims.Email == "" || !claims.verified() {
		return s.ssoFailed(c, http.StatusForbidden, "Your sign-in provider has not verified your e-mail address, so keyward cannot match it to an account. Verify it there and try again.", nil)
	}
	var desired map[string]model.Role
	if roles := s.cfg.OIDC.Roles; roles != nil {
		desired = roles.Desired(stringList(all[roles.Claim]))
	}
	actor := model.Actor{Label: "single sign-on (" + s.cfg.OIDC.Name + ")", IP: c.RealIP()}
	if invitation != "" {
		return s.acceptInvitationSSO(c, invitation, claims.Email, idt.Issuer+" "+idt.Subject, desired, actor)
	}
	u, notes, err := s.store.SSOSignIn(ctx, claims.Email, idt.Issuer+" "+idt.Subject, desired, actor)
	if model.ErrorCode(err) == model.EFORBIDDEN {
		return s.ssoFailed(c, http.StatusForbidden, model.ErrorMessage(err), nil)
	}
	if err != nil {
		return err
	}
	for _, n := range notes {
		s.logger(c).Warn("single sign-on roles", "note", n, "user_id", u.ID)
	}
	s.acc.hasUsers.Store(true)
	s.logger(c).Info("single sign-on accepted", "user_id", u.ID, "ip", c.RealIP())
	return s.finishSignIn(c, u, 0, next, "")
}

// ssoFailed answers a failed single sign-on with the sign-in page and a
// message; the cause, if any, goes to the log.
func (s *Server) ssoFailed(c echo.Context, status int, msg string, cause error) error {
	l := s.logger(c).With("ip", c.RealIP(), "status", status)
	if cause != nil {
		l = l.With("err", cause)
	}
	l.Warn("single sign-on failed", "reason", msg)
	return render(c, status, views.LoginPage(s.loginForm(c, "", &views.Flash{Kind: "error", Message: msg})))
}

// stringList reads a claim that is a list of strings (or one string).
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// printable keeps the first n printable ASCII characters of s, for quoting
// what another server said.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		}
	}
	return b.String()
}
