package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// handleKeyCreate serves POST /settings/api-keys. A valid form creates the
// key and answers the one-time reveal, uncacheable and kept out of htmx's
// history; the table is told to refresh (HX-Trigger keys-changed). An
// invalid one answers the form again (422) with the input and the messages.
//
// The raw key lives in this response only: never in a redirect, a flash, the
// session, a log line or the database.
func (s *Server) handleKeyCreate(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return model.Wrap(model.EINVALID, err, "The form could not be read.")
	}
	now := s.now().UTC()
	d := parseKeyForm(form, s.catalog, now, false)
	team := teamID(c)
	k, raw, err := NewKey(s.catalog, s.cfg.KeyPrefix, team, d.Input, now)
	if err := d.merge(err); err != nil {
		if model.ErrorCode(err) != model.EINVALID {
			return err
		}
		return s.renderKeyForm(c, http.StatusUnprocessableEntity, views.KeyForm{
			Values: d.Values, Errors: model.ErrorFields(err), Resources: s.catalog.Resources(),
			CSRF: csrfToken(c), FormToken: validFormToken(form.Get("form_token")), Now: now,
		})
	}

	// One rendered form creates at most one key, however often it is sent.
	tk := formTokenKey{team: team, user: currentPrincipal(c).User.ID, token: validFormToken(form.Get("form_token"))}
	use, fresh := s.keyForms.claim(tk, now)
	if !fresh {
		return s.answerReplayedCreate(c, tk, use)
	}
	if err := s.store.CreateKey(c.Request().Context(), &k, actor(c)); err != nil {
		s.keyForms.finish(tk, use, "", "")
		if model.ErrorCode(err) == model.EINVALID {
			// The team's maximum key lifetime refused the expiry.
			return s.renderKeyForm(c, http.StatusUnprocessableEntity, views.KeyForm{
				Values: d.Values, Errors: model.ErrorFields(err), Resources: s.catalog.Resources(),
				CSRF: csrfToken(c), FormToken: validFormToken(form.Get("form_token")), Now: now,
			})
		}
		return err
	}
	s.keyForms.finish(tk, use, k.PublicID, k.Name)

	noStore(c)
	r := s.keyReveal(c, k, raw, now)
	if isHTMX(c) {
		c.Response().Header().Set("HX-Trigger", "keys-changed")
		r.Dialog = true
		return render(c, http.StatusOK, views.KeyRevealDialog(r))
	}
	return render(c, http.StatusOK, views.KeyRevealPage(s.chrome(c, "api-keys"), r))
}

// answerReplayedCreate answers a create form sent again: it waits briefly
// for the first submit to finish, then names the key it created. The raw
// key is not shown again (it was never kept); if the first submit failed,
// the replay goes ahead as a create of its own.
func (s *Server) answerReplayedCreate(c echo.Context, tk formTokenKey, use *formTokenUse) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Second)
	defer cancel()
	select {
	case <-use.done:
	case <-ctx.Done():
		return model.Errorf(model.ECONFLICT, "This form is being submitted already. Wait a moment, then look for the key in the list.")
	}
	if use.keyID == "" {
		// The first submit failed and released the token: try once more.
		if _, fresh := s.keyForms.peek(tk); fresh {
			return s.handleKeyCreate(c)
		}
		return model.Errorf(model.ECONFLICT, "This form is being submitted already. Wait a moment, then look for the key in the list.")
	}
	noStore(c)
	msg := "This form was already sent, and the key “" + views.Isolate(use.keyName) + "” was created then. Its value was shown only once, in answer to the first submit. If you couldn't copy it, revoke that key and create a new one."
	if isHTMX(c) {
		c.Response().Header().Set("HX-Trigger", "keys-changed")
		return render(c, http.StatusOK, views.DialogsClosed("warn", msg))
	}
	if err := s.flash(c, "warn", msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, views.KeyURL(use.keyID))
}

// Create-form tokens: each rendered create form carries a random
// form_token; the first submit claims it, so a replay (a double click
// without JavaScript, a resubmitted page) creates nothing more. Tokens are
// remembered in memory per team and user for formTokenTTL; htmx disables
// the submit button while a request runs, which covers the common case on
// every instance.

// formTokenTTL is how long a used token is remembered.
const formTokenTTL = 15 * time.Minute

// maxFormTokens bounds the memory the tokens take.
const maxFormTokens = 10_000

type formTokenKey struct {
	team, user int64
	token      string
}

// formTokenUse is a claimed token: done closes when the create finished,
// with keyID set if it created a key.
type formTokenUse struct {
	at      time.Time
	done    chan struct{}
	keyID   string
	keyName string
}

type formTokens struct {
	mu   sync.Mutex
	used map[formTokenKey]*formTokenUse
}

func newFormTokens() *formTokens {
	return &formTokens{used: map[formTokenKey]*formTokenUse{}}
}

// claim takes the token for a create. fresh is false when the token was
// used already; use is then the earlier claim. An empty token (a client
// that sent none) is always fresh and never remembered.
func (f *formTokens) claim(k formTokenKey, now time.Time) (use *formTokenUse, fresh bool) {
	use = &formTokenUse{at: now, done: make(chan struct{})}
	if k.token == "" {
		return use, true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if prev, ok := f.used[k]; ok && now.Sub(prev.at) < formTokenTTL {
		return prev, false
	}
	if len(f.used) >= maxFormTokens {
		for key, u := range f.used {
			if now.Sub(u.at) >= formTokenTTL {
				delete(f.used, key)
			}
		}
	}
	if len(f.used) < maxFormTokens {
		f.used[k] = use
	}
	return use, true
}

// peek reports whether the token is free to claim.
func (f *formTokens) peek(k formTokenKey) (*formTokenUse, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.used[k]
	return u, !ok
}

// finish records the outcome of a claimed create. A failed create (keyID
// "") releases the token so that the form can be corrected and sent again.
func (f *formTokens) finish(k formTokenKey, use *formTokenUse, keyID, keyName string) {
	f.mu.Lock()
	use.keyID, use.keyName = keyID, keyName
	if keyID == "" && f.used[k] == use {
		delete(f.used, k)
	}
	f.mu.Unlock()
	close(use.done)
}

// newFormToken returns a random create-form token.
func newFormToken() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return base64.RawURLEncoding.EncodeToString(b)
}

// validFormToken returns t if it looks like a token newFormToken made, else "".
func validFormToken(t string) string {
	if len(t) != 24 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(t); err != nil {
		return ""
	}
	return t
}
