package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/notify"
	"github.com/keyward/keyward/internal/secretbox"
	"github.com/keyward/keyward/internal/store"
)

// clock is a settable clock shared by a store and a worker.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t *testing.T, dsn string, c *clock) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{Now: c.Now})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i * 7)
	}
	b, err := secretbox.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture is a team with an owner on a store.
type fixture struct {
	st    *store.Store
	clock *clock
	box   *secretbox.Box
	owner model.User
	team  model.Team
	actor model.Actor
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	st := openStore(t, dsn, c)
	u, team, err := st.Setup(context.Background(), "owner@example.com", "hash", "Acme", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, clock: c, box: newBox(t), owner: u, team: team, actor: model.UserActor(u, "192.0.2.1")}
}

// addEndpoint stores an endpoint for url (no URL check: tests reach
// loopback receivers) and returns it with its raw secret.
func (f *fixture) addEndpoint(t *testing.T, url string, events ...string) (model.WebhookEndpoint, string) {
	t.Helper()
	secret, err := notify.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	sealed, kid, err := f.box.Seal(secret)
	if err != nil {
		t.Fatal(err)
	}
	ep := model.WebhookEndpoint{TeamID: f.team.ID, URL: url, EventTypes: events}
	if err := f.st.CreateEndpoint(context.Background(), &ep, store.EndpointSecret{Sealed: sealed, KeyID: kid}, f.actor); err != nil {
		t.Fatal(err)
	}
	return ep, secret
}

// createKey creates a key and returns its raw value.
func (f *fixture) createKey(t *testing.T, name string, expires *time.Time) (model.APIKey, string) {
	t.Helper()
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: f.team.ID, Name: name, Environment: "live",
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll, ExpiresAt: expires}
	if err := f.st.CreateKey(context.Background(), &k, f.actor); err != nil {
		t.Fatal(err)
	}
	return k, raw
}

// worker returns a worker on the fixture's clock and box. Test receivers
// listen on loopback, so private targets are allowed unless o says
// otherwise through denyPrivate.
func (f *fixture) worker(t *testing.T, o notify.Options, denyPrivate bool) *notify.Worker {
	t.Helper()
	o.Now = f.clock.Now
	if o.Box == nil {
		o.Box = f.box
	}
	o.AllowPrivate = !denyPrivate
	w, err := notify.NewWorker(f.st, o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// received is one webhook as a receiver got it.
type received struct {
	ID, Timestamp, Signature string
	Body                     []byte
	Verified                 bool
}

// receiver is a real HTTP server that verifies each webhook with its own
// implementation of the Standard Webhooks scheme (not the sender's code).
type receiver struct {
	*httptest.Server
	secrets []string
	mu      sync.Mutex
	got     []received
	byID    map[string]int
	// fail answers 503 to the first fail requests.
	fail int
	// hold, when set, blocks each request until it is closed.
	hold chan struct{}
	ch   chan received
}

func newReceiver(t *testing.T, secrets ...string) *receiver {
	r := &receiver{secrets: secrets, byID: map[string]int{}, ch: make(chan received, 10000)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		if r.hold != nil {
			select {
			case <-r.hold:
			default:
				close(r.hold)
			}
		}
		r.Close()
	})
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if r.hold != nil {
		select {
		case <-r.hold:
		case <-req.Context().Done():
			return
		}
	}
	body, _ := io.ReadAll(req.Body)
	rc := received{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"),
		Signature: req.Header.Get("webhook-signature"), Body: body}
	rc.Verified = len(r.secrets) > 0
	for _, s := range r.secrets {
		if !verifySignature(s, rc.ID, rc.Timestamp, body, rc.Signature) {
			rc.Verified = false
		}
	}
	r.mu.Lock()
	failing := r.fail > 0
	if failing {
		r.fail--
	}
	r.got = append(r.got, rc)
	if !failing {
		r.byID[rc.ID]++
	}
	r.mu.Unlock()
	if failing {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	r.ch <- rc
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.byID))
	for k, v := range r.byID {
		out[k] = v
	}
	return out
}

// verifySignature is a second, independent implementation of Standard
// Webhooks verification: HMAC-SHA256 with the base64-decoded secret after
// whsec_, over "id.timestamp.body", compared with any v1 signature of the
// space-separated list.
func verifySignature(secret, id, ts string, body []byte, header string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || id == "" || ts == "" {
		return false
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, part := range strings.Split(header, " ") {
		version, sig, ok := strings.Cut(part, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func deliveries(t *testing.T, st *store.Store, teamID, endpointID int64) []model.Delivery {
	t.Helper()
	ds, err := st.FindDeliveries(context.Background(), store.DeliveryFilter{TeamID: teamID, EndpointID: endpointID, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// envelope decodes a webhook body.
func envelope(t *testing.T, b []byte) (typ string, data map[string]any) {
	t.Helper()
	var e struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	if _, err := time.Parse(time.RFC3339Nano, e.Timestamp); err != nil {
		t.Errorf("envelope timestamp %q: %v", e.Timestamp, err)
	}
	return e.Type, e.Data
}

// smtpServer is a real SMTP server (emersion/go-smtp) that keeps what it
// receives.
type smtpServer struct {
	Addr string
	mu   sync.Mutex
	msgs []sentMail
	// refuse holds the addresses RCPT TO answers 550 for.
	refuse map[string]bool
}

// refuseRcpt makes the server refuse mail to addrs (and only to them);
// with none it accepts every address again.
func (s *smtpServer) refuseRcpt(addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = map[string]bool{}
	for _, a := range addrs {
		s.refuse[a] = true
	}
}

type sentMail struct {
	From    string
	To      []string
	Subject string
	Text    string
	HTML    string
	Raw     string
}

type smtpSession struct {
	srv  *smtpServer
	from string
	to   []string
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	refused := s.srv.refuse[to]
	s.srv.mu.Unlock()
	if refused {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	}
	s.to = append(s.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := parseMail(string(raw))
	m.From, m.To = s.from, append([]string(nil), s.to...)
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, m)
	s.srv.mu.Unlock()
	return nil
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	srv := &smtpServer{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: srv}, nil }))
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Addr = ln.Addr().String()
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return srv
}

func (s *smtpServer) messages() []sentMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sentMail(nil), s.msgs...)
}

// parseMail decodes a message's subject and its text and HTML parts.
func parseMail(raw string) sentMail {
	m := sentMail{Raw: raw}
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return m
	}
	dec := new(mime.WordDecoder)
	m.Subject, _ = dec.DecodeHeader(msg.Header.Get("Subject"))
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "multipart/") {
		m.Text = decodePart(msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return m
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			break
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		body := decodePart(p.Header.Get("Content-Transfer-Encoding"), p)
		switch ct {
		case "text/plain":
			m.Text = body
		case "text/html":
			m.HTML = body
		}
	}
	return m
}

func decodePart(enc string, r io.Reader) string {
	switch strings.ToLower(enc) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, _ := io.ReadAll(r)
	return string(b)
}
