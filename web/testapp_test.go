package web

// The shared test harness of package web: every handler test runs the real
// server, through Echo and real HTTP, against a fresh PostgreSQL database.
//
//	app := newTestApp(t)                        // fresh DB, migrated, served by httptest
//	owner, team := app.setup(t, "owner@example.com", testPassword, "Acme")
//	bob := app.newMember(t, team.ID, "bob@example.com", model.RoleMember)
//	cl := app.client(t)                         // cookie jar, redirects not followed
//	cl.login(t, "owner@example.com", testPassword)
//	res := cl.get(t, "/settings/members")       // *testResponse: status, headers, body
//	res.wantStatus(t, http.StatusOK)
//	rows := res.find(t, "table.keys tbody tr")  // tiny CSS-like selector over the HTML
//	res = cl.postForm(t, "/settings/members", url.Values{"email": {"x@example.com"}, "role": {"ADMIN"}})
//	app.clock.Advance(31 * time.Minute)         // the server's clock (sessions, expiry)
//
// postForm and htmx add the client's current CSRF token on their own (form
// field _csrf, or header X-CSRF-Token for htmx): the token is read from the
// csrf-token meta tag of every page the client receives, and fetched from a
// page when the client has none yet. rawPost sends exactly what it is given.
//
// Options: withConfig(func(*config.Config)) edits the configuration before the
// server is built; withSecureCookies serves over TLS with Secure cookies (the
// cookie is then __Host-keyward). app.logs holds everything the server logged.
//
// Passwords: testPassword is a valid password (10+ characters) for fixtures.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/keyward/keyward/internal/auth"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// testPassword is a valid password for fixtures.
const testPassword = "correct horse battery"

// testEpoch is where the test clock starts.
var testEpoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// testClock is the server's clock in tests; it only moves when told.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set sets the clock.
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testApp is a running server with its store and clock.
type testApp struct {
	srv   *Server
	store *store.Store
	cfg   *config.Config
	clock *testClock
	http  *httptest.Server
	logs  *syncBuffer
	// URL is the server's base URL, without a trailing slash.
	URL string
}

type testAppSettings struct {
	secure  bool
	editCfg []func(*config.Config)
	editOpt []func(*Options)
}

// testAppOption changes how newTestApp builds the server.
type testAppOption func(*testAppSettings)

// withConfig edits the configuration before the server is built.
func withConfig(fn func(*config.Config)) testAppOption {
	return func(s *testAppSettings) { s.editCfg = append(s.editCfg, fn) }
}

// withOptions edits the server's Options before it is built.
func withOptions(fn func(*Options)) testAppOption {
	return func(s *testAppSettings) { s.editOpt = append(s.editOpt, fn) }
}

// withSecureCookies serves over TLS with KEYWARD_COOKIE_SECURE on.
func withSecureCookies() testAppOption {
	return func(s *testAppSettings) { s.secure = true }
}

// newTestApp starts a server on a fresh, migrated PostgreSQL database.
// Everything is closed and dropped when t ends.
func newTestApp(t testing.TB, opts ...testAppOption) *testApp {
	t.Helper()
	var set testAppSettings
	for _, o := range opts {
		o(&set)
	}
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	clock := &testClock{now: testEpoch}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := store.Open(ctx, dsn, store.Options{Now: clock.Now, Logger: log})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	cfg := &config.Config{
		DatabaseURL:   dsn,
		DataDir:       t.TempDir(),
		Addr:          "127.0.0.1:0",
		SessionSecret: []byte("test-session-secret-0123456789abcdef"),
		KeyPrefix:     "kw",
		CookieSecure:  set.secure,
		LastUsedFlush: 10 * time.Second,
		CacheTTL:      30 * time.Second,
		LogFormat:     "text",
	}
	for _, fn := range set.editCfg {
		fn(cfg)
	}
	o := Options{Now: clock.Now, Logger: log}
	for _, fn := range set.editOpt {
		fn(&o)
	}
	srv, err := New(cfg, st, o)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	var hs *httptest.Server
	if set.secure {
		hs = httptest.NewTLSServer(srv.Handler())
	} else {
		hs = httptest.NewServer(srv.Handler())
	}
	t.Cleanup(func() {
		hs.Close()
		if err := srv.Close(context.Background()); err != nil {
			t.Errorf("closing the server: %v", err)
		}
	})
	return &testApp{srv: srv, store: st, cfg: cfg, clock: clock, http: hs, logs: logs, URL: hs.URL}
}

// setup creates the first user as OWNER of a new team, directly in the store.
func (a *testApp) setup(t testing.TB, email, password, team string) (model.User, model.Team) {
	t.Helper()
	u, tm, err := a.store.Setup(context.Background(), email, a.hash(t, password), team, "127.0.0.1")
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	return u, tm
}

func (a *testApp) hash(t testing.TB, password string) string {
	t.Helper()
	h, err := auth.HashPassword(password)
	if err != nil {
		t.Fatalf("hash password: %v", err)
	}
	return h
}

// createUser creates a user (in no team) with password testPassword.
func (a *testApp) createUser(t testing.TB, email string) model.User {
	t.Helper()
	u, err := a.store.CreateUser(context.Background(), email, a.hash(t, testPassword))
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// createTeam creates a team.
func (a *testApp) createTeam(t testing.TB, name string) model.Team {
	t.Helper()
	tm, err := a.store.CreateTeam(context.Background(), name, model.Actor{Label: "test"})
	if err != nil {
		t.Fatalf("create team %s: %v", name, err)
	}
	return tm
}

// addMember adds an existing user to a team with a role.
func (a *testApp) addMember(t testing.TB, teamID, userID int64, role model.Role) model.Membership {
	t.Helper()
	m, err := a.store.AddMember(context.Background(), teamID, userID, role, model.Actor{Label: "test"})
	if err != nil {
		t.Fatalf("add member: %v", err)
	}
	return m
}

// newMember creates a user with password testPassword and adds them to a
// team with a role.
func (a *testApp) newMember(t testing.TB, teamID int64, email string, role model.Role) model.Membership {
	t.Helper()
	u := a.createUser(t, email)
	return a.addMember(t, teamID, u.ID, role)
}

// testClient is one browser: a cookie jar, no redirect following.
type testClient struct {
	app  *testApp
	hc   *http.Client
	csrf string
}

// client returns a new browser for the app.
func (a *testApp) client(t testing.TB) *testClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := a.http.Client()
	return &testClient{app: a, hc: &http.Client{
		Transport:     hc.Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

// testResponse is a response with its body read.
type testResponse struct {
	*http.Response
	Body string
	doc  *html.Node
}

// do sends req and reads the answer; it remembers the page's CSRF token.
func (cl *testClient) do(t testing.TB, req *http.Request) *testResponse {
	t.Helper()
	res, err := cl.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	r := &testResponse{Response: res, Body: string(b)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		for _, m := range r.findIn(nil, `meta[name=csrf-token]`) {
			cl.csrf = attr(m, "content")
		}
	}
	return r
}

func (cl *testClient) newRequest(t testing.TB, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, cl.app.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// get sends GET path.
func (cl *testClient) get(t testing.TB, path string) *testResponse {
	t.Helper()
	return cl.do(t, cl.newRequest(t, http.MethodGet, path, nil))
}

// csrfToken returns the client's current CSRF token, fetching a page for
// one if it has none yet.
func (cl *testClient) csrfToken(t testing.TB) string {
	t.Helper()
	if cl.csrf == "" {
		res := cl.get(t, "/login")
		for hops := 0; cl.csrf == "" && res.StatusCode/100 == 3 && hops < 5; hops++ {
			res = cl.get(t, res.Header.Get("Location"))
		}
		if cl.csrf == "" {
			t.Fatalf("no CSRF token found on /login or where it leads")
		}
	}
	return cl.csrf
}

// postForm posts form (plus the CSRF token) to path as a plain form would.
func (cl *testClient) postForm(t testing.TB, path string, form url.Values) *testResponse {
	t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if f.Get(csrfFormField) == "" {
		f.Set(csrfFormField, cl.csrfToken(t))
	}
	return cl.rawPost(t, path, f, nil)
}

// rawPost posts exactly form, with extra headers, and no CSRF token of its own.
func (cl *testClient) rawPost(t testing.TB, path string, form url.Values, header http.Header) *testResponse {
	t.Helper()
	req := cl.newRequest(t, http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return cl.do(t, req)
}

// htmx sends a request as htmx does: HX-Request, and for unsafe methods the
// CSRF token in X-CSRF-Token. form may be nil.
func (cl *testClient) htmx(t testing.TB, method, path string, form url.Values) *testResponse {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := cl.newRequest(t, method, path, body)
	req.Header.Set("HX-Request", "true")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set(csrfHeader, cl.csrfToken(t))
	}
	return cl.do(t, req)
}

// htmxGet is htmx(t, GET, path, nil).
func (cl *testClient) htmxGet(t testing.TB, path string) *testResponse {
	t.Helper()
	return cl.htmx(t, http.MethodGet, path, nil)
}

// htmxPost is htmx(t, POST, path, form).
func (cl *testClient) htmxPost(t testing.TB, path string, form url.Values) *testResponse {
	t.Helper()
	return cl.htmx(t, http.MethodPost, path, form)
}

// login signs in through POST /login and fails t unless it succeeds.
func (cl *testClient) login(t testing.TB, email, password string) {
	t.Helper()
	res := cl.postForm(t, "/login", url.Values{"email": {email}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login as %s: status %d, want 303\n%s", email, res.StatusCode, res.Body)
	}
	// The session (and its CSRF token) is new after sign-in.
	cl.csrf = ""
}

// logout signs out through POST /logout.
func (cl *testClient) logout(t testing.TB) {
	t.Helper()
	res := cl.postForm(t, "/logout", nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: status %d, want 303\n%s", res.StatusCode, res.Body)
	}
	cl.csrf = ""
}

// cookie returns the client's cookie of that name, or nil.
func (cl *testClient) cookie(name string) *http.Cookie {
	u, _ := url.Parse(cl.app.URL)
	for _, c := range cl.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// sessionCookie returns the client's session cookie, or nil.
func (cl *testClient) sessionCookie() *http.Cookie {
	return cl.cookie(auth.CookieName(cl.app.cfg.CookieSecure))
}

// setCookie puts a cookie in the client's jar (to replay an old one).
func (cl *testClient) setCookie(c *http.Cookie) {
	u, _ := url.Parse(cl.app.URL)
	cl.hc.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
}

// wantStatus fails t unless the response has that status.
func (r *testResponse) wantStatus(t testing.TB, status int) {
	t.Helper()
	if r.StatusCode != status {
		body := r.Body
		if len(body) > 3000 {
			body = body[:3000] + "…"
		}
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, body)
	}
}

// wantRedirect fails t unless the response is a 3xx to location.
func (r *testResponse) wantRedirect(t testing.TB, location string) {
	t.Helper()
	if r.StatusCode/100 != 3 || r.Header.Get("Location") != location {
		t.Fatalf("%s %s: status %d to %q, want a redirect to %q", r.Request.Method, r.Request.URL.Path,
			r.StatusCode, r.Header.Get("Location"), location)
	}
}

// --- HTML queries -----------------------------------------------------------

// find returns the elements matching selector: compound selectors
// (tag, #id, .class, [attr], [attr=value]) separated by spaces for
// descendants, e.g. `table.keys tbody tr`, `form[action="/login"] input[name=_csrf]`.
func (r *testResponse) find(t testing.TB, selector string) []*html.Node {
	t.Helper()
	return r.findIn(t, selector)
}

func (r *testResponse) findIn(t testing.TB, selector string) []*html.Node {
	if r.doc == nil {
		doc, err := html.Parse(strings.NewReader(r.Body))
		if err != nil {
			if t != nil {
				t.Fatalf("parse HTML: %v", err)
			}
			return nil
		}
		r.doc = doc
	}
	return queryAll(r.doc, selector)
}

// first returns the first element matching selector, failing t if none does.
func (r *testResponse) first(t testing.TB, selector string) *html.Node {
	t.Helper()
	ns := r.find(t, selector)
	if len(ns) == 0 {
		t.Fatalf("no element matches %q in:\n%s", selector, r.Body)
	}
	return ns[0]
}

// has reports whether any element matches selector.
func (r *testResponse) has(t testing.TB, selector string) bool {
	t.Helper()
	return len(r.find(t, selector)) > 0
}

// text returns the text of the elements matching selector, whitespace
// collapsed, joined by " | ".
func (r *testResponse) text(t testing.TB, selector string) string {
	t.Helper()
	var parts []string
	for _, n := range r.find(t, selector) {
		parts = append(parts, textOf(n))
	}
	return strings.Join(parts, " | ")
}

// textOf returns n's text content with whitespace collapsed.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// attr returns n's attribute, or "".
func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

// simpleSelector is one compound selector: tag, id, classes and attributes.
type simpleSelector struct {
	tag     string
	id      string
	classes []string
	attrs   [][2]string // name, value ("\x00" for presence only)
}

func parseCompound(s string) simpleSelector {
	var sel simpleSelector
	i := 0
	readName := func() string {
		j := i
		for j < len(s) && s[j] != '#' && s[j] != '.' && s[j] != '[' {
			j++
		}
		v := s[i:j]
		i = j
		return v
	}
	sel.tag = readName()
	for i < len(s) {
		switch s[i] {
		case '#':
			i++
			sel.id = readName()
		case '.':
			i++
			sel.classes = append(sel.classes, readName())
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				j = len(s) - i
			}
			inner := s[i+1 : i+j]
			i += j + 1
			name, val, ok := strings.Cut(inner, "=")
			if !ok {
				val = "\x00"
			}
			sel.attrs = append(sel.attrs, [2]string{name, strings.Trim(val, `"'`)})
		default:
			i++
		}
	}
	return sel
}

func (sel simpleSelector) match(n *html.Node) bool {
	if n.Type != html.ElementNode {
		return false
	}
	if sel.tag != "" && sel.tag != "*" && n.Data != sel.tag {
		return false
	}
	if sel.id != "" && attr(n, "id") != sel.id {
		return false
	}
	classes := strings.Fields(attr(n, "class"))
	for _, c := range sel.classes {
		found := false
		for _, have := range classes {
			found = found || have == c
		}
		if !found {
			return false
		}
	}
	for _, a := range sel.attrs {
		if a[1] == "\x00" {
			if !hasAttr(n, a[0]) {
				return false
			}
		} else if !hasAttr(n, a[0]) || attr(n, a[0]) != a[1] {
			return false
		}
	}
	return true
}

// splitSelector splits on spaces outside brackets and quotes.
func splitSelector(s string) []string {
	var parts []string
	var cur strings.Builder
	depth, quote := 0, byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == '[':
			depth++
		case ch == ']':
			depth--
		case ch == ' ' && depth == 0:
			if cur.Len() > 0 {
				parts = append(parts, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteByte(ch)
	}
	if cur.Len() > 0 {
		parts = append(parts, cur.String())
	}
	return parts
}

func queryAll(root *html.Node, selector string) []*html.Node {
	parts := splitSelector(selector)
	if len(parts) == 0 {
		return nil
	}
	sels := make([]simpleSelector, len(parts))
	for i, p := range parts {
		sels[i] = parseCompound(p)
	}
	var out []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if sels[len(sels)-1].match(n) && ancestorsMatch(n.Parent, sels[:len(sels)-1]) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out
}

// ancestorsMatch reports whether the selectors, last first, match a chain of
// ancestors starting at n.
func ancestorsMatch(n *html.Node, sels []simpleSelector) bool {
	if len(sels) == 0 {
		return true
	}
	for a := n; a != nil; a = a.Parent {
		if sels[len(sels)-1].match(a) && ancestorsMatch(a.Parent, sels[:len(sels)-1]) {
			return true
		}
	}
	return false
}
