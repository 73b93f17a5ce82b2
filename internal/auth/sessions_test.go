package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/sessions"

	"github.com/keyward/keyward/internal/model"
)

// memBackend keeps sessions in a map (the database-backed one is tested
// through the web package against PostgreSQL).
type memBackend struct {
	mu   sync.Mutex
	rows map[string]model.Session
}

func (b *memBackend) CreateSession(_ context.Context, s model.Session) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rows[s.ID] = s
	return nil
}

func (b *memBackend) FindSession(_ context.Context, id string) (model.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.rows[id]
	if !ok {
		return s, model.Errorf(model.ENOTFOUND, "Session not found.")
	}
	return s, nil
}

func (b *memBackend) TouchSession(_ context.Context, id string, data []byte, seen, exp time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.rows[id]
	if !ok {
		return model.Errorf(model.ENOTFOUND, "Session not found.")
	}
	s.Data, s.LastSeenAt, s.ExpiresAt = data, seen, exp
	b.rows[id] = s
	return nil
}

func (b *memBackend) DeleteSession(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.rows, id)
	return nil
}

type sessionHarness struct {
	t       *testing.T
	st      *SessionStore
	backend *memBackend
	now     time.Time
	cookie  *http.Cookie
}

func newSessionHarness(t *testing.T) *sessionHarness {
	h := &sessionHarness{t: t, backend: &memBackend{rows: map[string]model.Session{}}, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	st, err := NewSessionStore(h.backend, []byte("0123456789abcdef0123456789abcdef"), true, func() time.Time { return h.now })
	if err != nil {
		t.Fatal(err)
	}
	h.st = st
	return h
}

// load reads the session as a new request carrying the last cookie would.
func (h *sessionHarness) load() *sessions.Session {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if h.cookie != nil {
		req.AddCookie(h.cookie)
	}
	sess, err := h.st.New(req, CookieSecure)
	if err != nil {
		h.t.Fatal(err)
	}
	return sess
}

// save writes the session and keeps the cookie it set, if any.
func (h *sessionHarness) save(sess *sessions.Session) *http.Cookie {
	h.t.Helper()
	rec := httptest.NewRecorder()
	if err := h.st.Save(httptest.NewRequest(http.MethodGet, "/", nil), rec, sess); err != nil {
		h.t.Fatal(err)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == CookieSecure {
			h.cookie = c
			return c
		}
	}
	return nil
}

func TestSessionStoreSignedIn(t *testing.T) {
	h := newSessionHarness(t)
	sess := h.load()
	if !sess.IsNew || len(sess.Values) != 0 {
		t.Fatalf("first session: %+v", sess)
	}
	sess.Values[KeyUserID] = int64(7)
	sess.Values["team"] = int64(3)
	sess.Values["csrf"] = "tok"
	c := h.save(sess)
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("cookie %+v", c)
	}
	if len(h.backend.rows) != 1 {
		t.Fatalf("%d rows", len(h.backend.rows))
	}
	for id, row := range h.backend.rows {
		if id != TokenHash(sess.ID) || id == sess.ID || row.UserID != 7 {
			t.Fatalf("row %q = %+v; the id must be the token's hash", id, row)
		}
		if !row.ExpiresAt.Equal(h.now.Add(IdleTimeout)) {
			t.Fatalf("expires %v", row.ExpiresAt)
		}
	}

	h.now = h.now.Add(10 * time.Minute)
	got := h.load()
	if got.IsNew || got.Values[KeyUserID] != int64(7) || got.Values["team"] != int64(3) || got.Values["csrf"] != "tok" {
		t.Fatalf("loaded %+v", got.Values)
	}
	if !h.st.NeedsTouch(got) {
		t.Fatal("a session seen 10 minutes ago needs no touch")
	}
	if h.save(got) != nil {
		t.Fatal("touching re-sent the cookie")
	}
	if h.st.NeedsTouch(got) {
		t.Fatal("a session just saved needs a touch")
	}

	// A tampered cookie is no session at all.
	good := *h.cookie
	h.cookie.Value = h.cookie.Value[:len(h.cookie.Value)-2] + "xx"
	if s := h.load(); !s.IsNew || s.Values[KeyUserID] != nil {
		t.Fatal("a tampered cookie loaded a session")
	}
	h.cookie = &good

	// Renew drops the row and the values: the next save is a new token.
	old := got.ID
	if err := h.st.Renew(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	got.Values[KeyUserID] = int64(7)
	h.save(got)
	if got.ID == old || len(h.backend.rows) != 1 {
		t.Fatalf("renewed id %q (old %q), %d rows", got.ID, old, len(h.backend.rows))
	}
	if _, ok := h.backend.rows[TokenHash(old)]; ok {
		t.Fatal("the old session survived Renew")
	}

	// MaxAge < 0 deletes row and cookie.
	got.Options.MaxAge = -1
	c = h.save(got)
	if c == nil || c.MaxAge >= 0 || len(h.backend.rows) != 0 {
		t.Fatalf("delete: cookie %+v, %d rows", c, len(h.backend.rows))
	}
}

func TestSessionStoreTimeouts(t *testing.T) {
	h := newSessionHarness(t)
	sess := h.load()
	sess.Values[KeyUserID] = int64(1)
	h.save(sess)

	h.now = h.now.Add(IdleTimeout - time.Second)
	if s := h.load(); s.IsNew {
		t.Fatal("ended before the idle timeout")
	}
	h.now = h.now.Add(time.Second)
	s := h.load()
	if !s.IsNew || s.Values[KeyEnded] != EndedIdle || len(h.backend.rows) != 0 {
		t.Fatalf("after the idle timeout: new=%v ended=%v rows=%d", s.IsNew, s.Values[KeyEnded], len(h.backend.rows))
	}

	// Kept active, a session still ends 12 hours after it began.
	h.cookie = nil
	sess = h.load()
	sess.Values[KeyUserID] = int64(1)
	h.save(sess)
	start := h.now
	for h.now.Sub(start) < AbsoluteTimeout-20*time.Minute {
		h.now = h.now.Add(20 * time.Minute)
		s := h.load()
		if s.IsNew {
			t.Fatalf("ended %v after sign-in", h.now.Sub(start))
		}
		h.save(s)
	}
	h.now = start.Add(AbsoluteTimeout)
	if s := h.load(); !s.IsNew || s.Values[KeyEnded] != EndedExpired {
		t.Fatalf("after the absolute timeout: new=%v ended=%v", s.IsNew, s.Values[KeyEnded])
	}
}

func TestSessionStoreSignedOutValuesStayInTheCookie(t *testing.T) {
	h := newSessionHarness(t)
	sess := h.load()
	sess.Values["csrf"] = "abc"
	sess.Values["flash"] = "info\nhello"
	if h.save(sess) == nil {
		t.Fatal("no cookie")
	}
	if len(h.backend.rows) != 0 {
		t.Fatal("a signed-out session was written to the database")
	}
	got := h.load()
	if got.IsNew || got.Values["csrf"] != "abc" || got.Values["flash"] != "info\nhello" {
		t.Fatalf("loaded %+v", got.Values)
	}
}

func TestNewSessionStoreNeedsALongSecret(t *testing.T) {
	if _, err := NewSessionStore(&memBackend{}, []byte("short"), true, nil); err == nil {
		t.Fatal("accepted a short secret")
	}
}
