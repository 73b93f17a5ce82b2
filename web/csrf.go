package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
)

// CSRF: every session (signed in or not) has a random token, kept in the
// session itself: in the database row once signed in, in the signed cookie
// before. Forms send it as _csrf, htmx as the X-CSRF-Token header (app.js
// reads it from the page's csrf-token meta tag). Unsafe requests must carry
// it, must not come from another site (Sec-Fetch-Site) and must not name a
// foreign Origin. The /v1 API has no session and is not checked.

const (
	csrfFormField = "_csrf"
	csrfHeader    = "X-CSRF-Token"
)

func newCSRFToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return base64.RawURLEncoding.EncodeToString(b)
}

// errCSRF is what a request that fails the CSRF checks gets: 403 and
// nothing changes.
var errCSRF = model.Errorf(model.EFORBIDDEN,
	"This form has expired or did not come from keyward. Reload the page and try again.")

// csrfProtect gives the request its CSRF token and refuses unsafe requests
// without it.
func (s *Server) csrfProtect(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess := currentSession(c)
		if sess == nil {
			return next(c)
		}
		token, _ := sess.Values[sessCSRF].(string)
		if token == "" {
			token = newCSRFToken()
			sess.Values[sessCSRF] = token
			if err := s.saveSession(c); err != nil {
				return err
			}
		}
		c.Set(csrfContextKey, token)
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if reason := csrfProblem(c, token); reason != "" {
			s.logger(c).Warn("request refused by the CSRF check", "reason", reason,
				"method", c.Request().Method, "path", loggedPath(c.Request().URL.Path), "ip", c.RealIP())
			return errCSRF
		}
		return next(c)
	}
}

// csrfProblem returns why an unsafe request fails the checks, or "".
func csrfProblem(c echo.Context, token string) string {
	r := c.Request()
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return "cross-site request"
	}
	if o := r.Header.Get(echo.HeaderOrigin); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.Host != r.Host {
			return "foreign origin"
		}
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		// The body only: a token in the query string would end up in logs,
		// history and Referer headers, so it counts for nothing.
		got = r.PostFormValue(csrfFormField)
	}
	if got == "" {
		return "missing token"
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		return "wrong token"
	}
	return ""
}
