package auth

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/keyward/keyward/internal/model"
)

// Session lifetimes (DESIGN.md, security rule 2).
const (
	IdleTimeout     = 30 * time.Minute
	AbsoluteTimeout = 12 * time.Hour
	// touchEvery limits last-seen writes to one per minute per session.
	touchEvery = time.Minute
)

// Session value keys the store itself understands.
const (
	// KeyUserID (int64) marks a signed-in session; only those are kept in
	// the database.
	KeyUserID = "uid"
)

// Why a session was refused, left in the fresh session's values under
// KeyEnded so the sign-in page can say so.
const (
	KeyEnded     = "ended"
	EndedIdle    = "idle"
	EndedExpired = "expired"
)

// Cookie names: the __Host- prefix pins a Secure cookie to this host and path /.
const (
	CookieSecure   = "__Host-keyward"
	CookieInsecure = "keyward_session"
)

// CookieName returns the session cookie's name for a Secure or plain cookie.
func CookieName(secure bool) string {
	if secure {
		return CookieSecure
	}
	return CookieInsecure
}

// SessionBackend is what the store needs from the database (internal/store
// implements it). Ids are token hashes.
type SessionBackend interface {
	CreateSession(ctx context.Context, sess model.Session) error
	FindSession(ctx context.Context, id string) (model.Session, error)
	TouchSession(ctx context.Context, id string, data []byte, lastSeen, expires time.Time) error
	DeleteSession(ctx context.Context, id string) error
}

// SessionStore is a gorilla/sessions Store. A signed-in session (one with
// KeyUserID) lives in the database: the cookie carries only a signed random
// token and the row is keyed by the token's SHA-256, so signing out or
// removing the row ends the session for real. Before sign-in, the few values
// a visitor needs (a CSRF token, a notice) travel in the signed cookie itself
// and nothing is written to the database.
//
// Idle and absolute timeouts are checked on the server with Now.
type SessionStore struct {
	backend SessionBackend
	codecs  []securecookie.Codec
	// Options are the cookie attributes of new sessions.
	Options  *sessions.Options
	Now      func() time.Time
	Idle     time.Duration
	Absolute time.Duration
}

// metaKey keys values the store keeps for itself; they are never persisted.
type metaKey int

const (
	metaCreated metaKey = iota
	metaSeen
)

// cookieValue is what the signed cookie holds.
type cookieValue struct {
	Token  string            // signed-in: the token whose hash keys the row
	Values map[string]string // signed-out: values kept in the cookie
}

// NewSessionStore returns a store signing cookies with keys derived from
// secret (HKDF-SHA256: one key to sign, one to encrypt).
func NewSessionStore(backend SessionBackend, secret []byte, secure bool, now func() time.Time) (*SessionStore, error) {
	if len(secret) < 32 {
		return nil, errors.New("auth: the session secret must be at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	hashKey, err := hkdf.Key(sha256.New, secret, nil, "keyward session cookie signing", 32)
	if err != nil {
		return nil, err
	}
	blockKey, err := hkdf.Key(sha256.New, secret, nil, "keyward session cookie encryption", 32)
	if err != nil {
		return nil, err
	}
	codec := securecookie.New(hashKey, blockKey)
	// The codec's own age check runs on the wall clock; the server-side
	// check with Now is the one that counts.
	codec.MaxAge(int(AbsoluteTimeout / time.Second))
	codec.MaxLength(4096)
	return &SessionStore{
		backend: backend,
		codecs:  []securecookie.Codec{codec},
		Options: &sessions.Options{
			Path:     "/",
			MaxAge:   0, // a browser-session cookie; the server enforces lifetimes
			Secure:   secure,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		},
		Now:      now,
		Idle:     IdleTimeout,
		Absolute: AbsoluteTimeout,
	}, nil
}

// Get returns the request's session, cached for the request.
func (st *SessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(st, name)
}

func (st *SessionStore) fresh(name string) *sessions.Session {
	sess := sessions.NewSession(st, name)
	opts := *st.Options
	sess.Options = &opts
	sess.IsNew = true
	return sess
}

// New loads the session named by the request's cookie, or returns a fresh
// one when there is none, it does not verify, it is unknown or it has timed
// out (then KeyEnded says why). It returns an error only when the database
// cannot be read.
func (st *SessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := st.fresh(name)
	ck, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	var cv cookieValue
	if err := securecookie.DecodeMulti(name, ck.Value, &cv, st.codecs...); err != nil {
		return sess, nil
	}
	if cv.Token == "" {
		for k, v := range cv.Values {
			sess.Values[k] = v
		}
		sess.IsNew = false
		return sess, nil
	}
	id := TokenHash(cv.Token)
	row, err := st.backend.FindSession(r.Context(), id)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return sess, nil
	}
	if err != nil {
		return sess, err
	}
	now := st.Now()
	if ended := st.ended(row, now); ended != "" {
		if err := st.backend.DeleteSession(r.Context(), id); err != nil {
			return sess, err
		}
		sess.Values[KeyEnded] = ended
		return sess, nil
	}
	values, err := decodeValues(row.Data)
	if err != nil {
		// A row we cannot read is as good as no session.
		return sess, nil
	}
	for k, v := range values {
		sess.Values[k] = v
	}
	sess.Values[KeyUserID] = row.UserID
	sess.Values[metaCreated] = row.CreatedAt
	sess.Values[metaSeen] = row.LastSeenAt
	sess.ID = cv.Token
	sess.IsNew = false
	return sess, nil
}

func (st *SessionStore) ended(row model.Session, now time.Time) string {
	switch {
	case !now.Before(row.CreatedAt.Add(st.Absolute)):
		return EndedExpired
	case !now.Before(row.LastSeenAt.Add(st.Idle)), !now.Before(row.ExpiresAt):
		return EndedIdle
	}
	return ""
}

// Save writes the session: a MaxAge below zero deletes it (row and cookie);
// a signed-in session without an id gets a new random token and row; a
// signed-in one with an id has its data and last-seen time updated; a
// signed-out one is written into the cookie.
func (st *SessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := st.backend.DeleteSession(ctx, TokenHash(sess.ID)); err != nil {
				return err
			}
		}
		sess.ID = ""
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	uid, signedIn := sess.Values[KeyUserID].(int64)
	if !signedIn {
		return st.writeCookie(w, sess, cookieValue{Values: stringValues(sess.Values)})
	}
	data, err := encodeValues(sess.Values)
	if err != nil {
		return err
	}
	now := st.Now().UTC()
	if sess.ID == "" {
		token, err := newToken()
		if err != nil {
			return err
		}
		row := model.Session{ID: TokenHash(token), UserID: uid, Data: data, CreatedAt: now, LastSeenAt: now,
			ExpiresAt: st.expiry(now, now)}
		if err := st.backend.CreateSession(ctx, row); err != nil {
			return err
		}
		sess.ID = token
		sess.Values[metaCreated] = now
		sess.Values[metaSeen] = now
		return st.writeCookie(w, sess, cookieValue{Token: token})
	}
	created, _ := sess.Values[metaCreated].(time.Time)
	if err := st.backend.TouchSession(ctx, TokenHash(sess.ID), data, now, st.expiry(created, now)); err != nil {
		return err
	}
	sess.Values[metaSeen] = now
	return nil
}

// expiry is when a session created at created and last seen at seen ends.
func (st *SessionStore) expiry(created, seen time.Time) time.Time {
	idle, abs := seen.Add(st.Idle), created.Add(st.Absolute)
	if abs.Before(idle) {
		return abs
	}
	return idle
}

// NeedsTouch reports whether a signed-in session's last-seen time is old
// enough to be worth writing again, so that busy sessions do not write on
// every request.
func (st *SessionStore) NeedsTouch(sess *sessions.Session) bool {
	seen, ok := sess.Values[metaSeen].(time.Time)
	return ok && sess.ID != "" && st.Now().Sub(seen) >= touchEvery
}

// Renew prepares sess for sign-in: it deletes the stored session, if any,
// and clears the id and values, so that the next Save issues a new token
// (no session fixation).
func (st *SessionStore) Renew(ctx context.Context, sess *sessions.Session) error {
	if sess.ID != "" {
		if err := st.backend.DeleteSession(ctx, TokenHash(sess.ID)); err != nil {
			return err
		}
	}
	sess.ID = ""
	sess.IsNew = true
	clear(sess.Values)
	opts := *st.Options
	sess.Options = &opts
	return nil
}

func (st *SessionStore) writeCookie(w http.ResponseWriter, sess *sessions.Session, cv cookieValue) error {
	enc, err := securecookie.EncodeMulti(sess.Name(), cv, st.codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), enc, sess.Options))
	return nil
}

// TokenHash is the stored id of a session token: hex SHA-256.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// persisted are the session values kept in a row: string keys with string,
// int64 or bool values.
type persisted map[string]any

func encodeValues(vals map[any]any) ([]byte, error) {
	out := persisted{}
	for k, v := range vals {
		ks, ok := k.(string)
		if !ok || ks == KeyUserID {
			continue
		}
		switch v.(type) {
		case string, int64, bool:
			out[ks] = v
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeValues(data []byte) (persisted, error) {
	out := persisted{}
	if len(data) == 0 {
		return out, nil
	}
	err := gob.NewDecoder(bytes.NewReader(data)).Decode(&out)
	return out, err
}

func stringValues(vals map[any]any) map[string]string {
	out := map[string]string{}
	for k, v := range vals {
		ks, ok1 := k.(string)
		vs, ok2 := v.(string)
		if ok1 && ok2 {
			out[ks] = vs
		}
	}
	return out
}
