package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/views"
)

// accounts is the state of sign-in: the session store, the sign-in limiter
// and whether the install has users yet.
type accounts struct {
	sessions *auth.SessionStore
	cookie   string
	limiter  *loginLimiter
	// hasUsers is set once a user exists; users are never all deleted, so it
	// never goes back and the check stops costing a query.
	hasUsers atomic.Bool
	// background counts account work that outlives its request (a password
	// reset e-mail); Close waits for it.
	background sync.WaitGroup
}

// Session value keys (besides auth.KeyUserID).
const (
	sessTeamID = "team"  // int64: the current team
	sessCSRF   = "csrf"  // string: the CSRF token of this session
	sessFlash  = "flash" // string: "kind\nmessage", shown once
)

const sessionContextKey = "session"

func (s *Server) newAccounts() (*accounts, error) {
	secret := s.cfg.SessionSecret
	if len(secret) < 32 {
		// Only reachable when a caller builds a config by hand without
		// EnsureSessionSecret: sessions then last as long as the process.
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		secret = []byte(hex.EncodeToString(b))
		s.log.Warn("no session secret configured: using a random one; sessions end when the process stops")
	}
	st, err := auth.NewSessionStore(s.store, secret, s.cfg.CookieSecure, s.now)
	if err != nil {
		return nil, err
	}
	acc := &accounts{sessions: st, cookie: auth.CookieName(s.cfg.CookieSecure), limiter: newLoginLimiter()}
	s.OnClose(func(context.Context) error { acc.background.Wait(); return nil })
	return acc, nil
}

// usesSession reports whether a request belongs to the dashboard, which has
// sessions and CSRF checks. The /v1 API authenticates by key and never reads
// cookies; assets and probes need neither.
func usesSession(c echo.Context) bool {
	p := c.Request().URL.Path
	switch {
	case isAPI(c), strings.HasPrefix(p, "/static/"),
		p == "/healthz", p == "/readyz", p == "/metrics", p == "/openapi.json":
		return false
	}
	return true
}

// loadSession puts the request's session in the context. A session that
// timed out becomes a notice on the sign-in page; a signed-in session's
// last-seen time is refreshed at most once a minute.
func (s *Server) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !usesSession(c) {
			return next(c)
		}
		c.Set(assetURLsKey, s.assets.urls)
		sess, err := s.acc.sessions.Get(c.Request(), s.acc.cookie)
		if err != nil {
			return err
		}
		c.Set(sessionContextKey, sess)
		if ended, ok := sess.Values[auth.KeyEnded].(string); ok {
			delete(sess.Values, auth.KeyEnded)
			msg := "Your session ended after 30 minutes without activity. Sign in again to continue."
			if ended == auth.EndedExpired {
				msg = "Your session ended: sessions last at most 12 hours. Sign in again to continue."
			}
			setFlash(sess, "info", msg)
			if err := s.saveSession(c); err != nil {
				return err
			}
		} else if s.acc.sessions.NeedsTouch(sess) {
			if err := s.saveSession(c); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// currentSession returns the request's session, or nil outside the dashboard.
func currentSession(c echo.Context) *sessions.Session {
	sess, _ := c.Get(sessionContextKey).(*sessions.Session)
	return sess
}

// saveSession writes the request's session (before the response is written:
// it may set the cookie).
func (s *Server) saveSession(c echo.Context) error {
	sess := currentSession(c)
	if sess == nil {
		return nil
	}
	return sess.Save(c.Request(), c.Response())
}

// sessionUserID returns the signed-in user's id from the session, if any.
func sessionUserID(c echo.Context) (int64, bool) {
	sess := currentSession(c)
	if sess == nil {
		return 0, false
	}
	id, ok := sess.Values[auth.KeyUserID].(int64)
	return id, ok
}

// signIn starts a new session for the user in team (a new token, a new
// CSRF token: nothing of the session before sign-in carries over).
func (s *Server) signIn(c echo.Context, userID, teamID int64) error {
	sess := currentSession(c)
	if sess == nil {
		return echo.ErrInternalServerError
	}
	if err := s.acc.sessions.Renew(c.Request().Context(), sess); err != nil {
		return err
	}
	sess.Values[auth.KeyUserID] = userID
	sess.Values[sessTeamID] = teamID
	sess.Values[sessCSRF] = newCSRFToken()
	c.Set(csrfContextKey, sess.Values[sessCSRF])
	return s.saveSession(c)
}

// signOut ends the session for good (its row is deleted) and leaves a
// signed-out cookie carrying the notice for the sign-in page.
func (s *Server) signOut(c echo.Context, kind, msg string) error {
	sess := currentSession(c)
	if sess == nil {
		return nil
	}
	if err := s.acc.sessions.Renew(c.Request().Context(), sess); err != nil {
		return err
	}
	if msg != "" {
		setFlash(sess, kind, msg)
	}
	return s.saveSession(c)
}

func setFlash(sess *sessions.Session, kind, msg string) {
	sess.Values[sessFlash] = kind + "\n" + msg
}

// flash keeps a one-time notice in the session for the next page. Never put
// a secret in it.
func (s *Server) flash(c echo.Context, kind, msg string) error {
	sess := currentSession(c)
	if sess == nil {
		return nil
	}
	setFlash(sess, kind, msg)
	return s.saveSession(c)
}

// popFlash returns the pending notice, if any, and forgets it.
func (s *Server) popFlash(c echo.Context) *views.Flash {
	sess := currentSession(c)
	if sess == nil {
		return nil
	}
	v, ok := sess.Values[sessFlash].(string)
	if !ok {
		return nil
	}
	delete(sess.Values, sessFlash)
	if err := s.saveSession(c); err != nil {
		s.logger(c).Warn("clearing the flash message", "err", err)
	}
	kind, msg, _ := strings.Cut(v, "\n")
	return &views.Flash{Kind: kind, Message: msg}
}
