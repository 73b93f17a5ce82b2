package web

// Helpers of the security tests (security_*_test.go): database snapshots to
// prove that a refused request changed nothing, keys made through the store,
// and raw /v1 calls that carry exactly the headers a test gives them.
//
//	fx := newSecFixture(t)                       // Acme, its owner signed in, trusted proxy on loopback
//	before := fx.snapshot(t)
//	res := fx.api(t, "GET", "/v1/whoami", xAPIKeyHeader(raw), "")
//	fx.unchanged(t, before, "a forged key")      // flushes the recorder, then compares every table

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// dbSnapshot is the text of every row of every table, sorted per table.
// Sessions keep only their id, user and creation time: reading a page may
// refresh a session's last-seen time or clear its one-time notice, which is
// not a change a refused request could be blamed for.
type dbSnapshot map[string][]string

// takeSnapshot reads every table of the database at dsn. The last use and
// usage counts of the keys in usedKeys (ids) are left out: the tests
// authenticate with them, and their legitimate uses are not the change a
// test looks for.
func takeSnapshot(t testing.TB, dsn string, usedKeys ...int64) dbSnapshot {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	for _, want := range []string{"users", "teams", "memberships", "sessions", "api_keys", "audit_events", "key_usage"} {
		if !slices.Contains(tables, want) {
			t.Fatalf("snapshot: table %s is missing (tables: %v)", want, tables)
		}
	}
	snap := dbSnapshot{}
	if usedKeys == nil {
		usedKeys = []int64{}
	}
	for _, tb := range tables {
		q := "SELECT to_jsonb(t)::text FROM " + pgx.Identifier{tb}.Sanitize() + " t WHERE cardinality($1::bigint[]) >= 0 ORDER BY 1"
		switch tb {
		case "sessions":
			q = "SELECT jsonb_build_array(id, user_id, created_at)::text FROM sessions WHERE cardinality($1::bigint[]) >= 0 ORDER BY 1"
		case "api_keys":
			q = `SELECT (to_jsonb(t) - CASE WHEN t.id = ANY($1) THEN ARRAY['last_used_at', 'last_used_day', 'last_used_ip'] ELSE ARRAY[]::text[] END)::text
				FROM api_keys t ORDER BY 1`
		case "key_usage":
			q = "SELECT to_jsonb(t)::text FROM key_usage t WHERE NOT (t.key_id = ANY($1)) ORDER BY 1"
		}
		rows, err := conn.Query(ctx, q, usedKeys)
		if err != nil {
			t.Fatalf("snapshot of %s: %v", tb, err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("snapshot of %s: %v", tb, err)
		}
		snap[tb] = texts
	}
	return snap
}

// diff describes how after differs from s, or returns "".
func (s dbSnapshot) diff(after dbSnapshot) string {
	var b strings.Builder
	names := map[string]bool{}
	for n := range s {
		names[n] = true
	}
	for n := range after {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	for _, n := range sorted {
		was, now := s[n], after[n]
		if slices.Equal(was, now) {
			continue
		}
		_, hadTable := s[n]
		_, hasTable := after[n]
		switch {
		case !hasTable:
			fmt.Fprintf(&b, "table %s is gone\n", n)
		case !hadTable:
			fmt.Fprintf(&b, "table %s appeared\n", n)
		default:
			fmt.Fprintf(&b, "table %s: %d rows, then %d\n", n, len(was), len(now))
			for _, r := range was {
				if !slices.Contains(now, r) {
					fmt.Fprintf(&b, "  - %s\n", clip(r, 300))
				}
			}
			for _, r := range now {
				if !slices.Contains(was, r) {
					fmt.Fprintf(&b, "  + %s\n", clip(r, 300))
				}
			}
		}
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// secFixture is a server on a fresh database with team Acme, its owner
// signed in, and loopback trusted as a proxy so that each /v1 call can come
// from an address of its own (the failed-key limit is per address; these
// tests are about answers, not that limit).
type secFixture struct {
	app   *testApp
	owner model.User
	team  model.Team
	cl    *testClient
	ip    atomic.Int32
	// usedKeys are the ids of keys whose uses snapshots leave out.
	usedKeys []int64
}

func newSecFixture(t *testing.T, opts ...testAppOption) *secFixture {
	t.Helper()
	opts = append([]testAppOption{withConfig(func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})}, opts...)
	app := newTestApp(t, opts...)
	owner, team := app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	return &secFixture{app: app, owner: owner, team: team, cl: cl}
}

// snapshot reads the whole database.
func (fx *secFixture) snapshot(t testing.TB) dbSnapshot {
	t.Helper()
	return takeSnapshot(t, fx.app.cfg.DatabaseURL, fx.usedKeys...)
}

// authKey is key, for a key the test authenticates with: snapshots leave
// out its last use and usage counts.
func (fx *secFixture) authKey(t testing.TB, name string, set model.PermissionSet, scopes ...string) (model.APIKey, string) {
	t.Helper()
	k, raw := fx.key(t, fx.team.ID, name, set, scopes...)
	fx.usedKeys = append(fx.usedKeys, k.ID)
	return k, raw
}

// unchanged flushes the buffered key uses (so that a use recorded by a
// refused request would show) and fails t if any table differs from before.
func (fx *secFixture) unchanged(t testing.TB, before dbSnapshot, what string) {
	t.Helper()
	if err := fx.app.srv.recorder.Flush(context.Background()); err != nil {
		t.Fatalf("flushing key uses: %v", err)
	}
	if d := before.diff(fx.snapshot(t)); d != "" {
		t.Fatalf("%s changed the database:\n%s", what, d)
	}
}

// key creates a key of the team through the store and returns it with its
// raw value.
func (fx *secFixture) key(t testing.TB, teamID int64, name string, set model.PermissionSet, scopes ...string) (model.APIKey, string) {
	t.Helper()
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	if scopes == nil {
		scopes = []string{}
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: name, Environment: "live",
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: set, Scopes: scopes}
	if err := fx.app.store.CreateKey(context.Background(), &k, model.Actor{Label: "test"}); err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k, raw
}

// secResponse is a raw /v1 answer.
type secResponse struct {
	*http.Response
	Body string
}

// api sends one request with exactly the headers h (plus a fresh
// X-Forwarded-For address unless h has one) and body ("" for none), without
// cookies.
func (fx *secFixture) api(t testing.TB, method, path string, h http.Header, body string) *secResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, fx.app.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("X-Forwarded-For") == "" {
		req.Header.Set("X-Forwarded-For", fx.nextIP())
	}
	res, err := fx.app.http.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &secResponse{Response: res, Body: string(b)}
}

// nextIP is a new client address from TEST-NET-2/3.
func (fx *secFixture) nextIP() string {
	n := fx.ip.Add(1)
	return fmt.Sprintf("198.51.%d.%d", 100+n/250, 1+n%250)
}

// wantStatus fails t unless the answer has that status.
func (r *secResponse) wantStatus(t testing.TB, status int, what string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s: %s %s answered %d, want %d: %s", what, r.Request.Method, r.Request.URL.Path, r.StatusCode, status, clip(r.Body, 500))
	}
}

// wantInvalidKey fails t unless the answer is the one 401 for a refused key.
func (r *secResponse) wantInvalidKey(t testing.TB, what string) {
	t.Helper()
	r.wantStatus(t, http.StatusUnauthorized, what)
	var e APIError
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil || e.Error.Code != "invalid_api_key" ||
		e.Error.Message != invalidKeyMessage || e.Error.RequestID == "" {
		t.Fatalf("%s: body %s, want invalid_api_key with the one message", what, r.Body)
	}
	if got := r.Header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Fatalf("%s: WWW-Authenticate %q, want Bearer", what, got)
	}
}

func xAPIKeyHeader(raw string) http.Header { return http.Header{"X-Api-Key": {raw}} }
func bearerHeader(raw string) http.Header  { return http.Header{"Authorization": {"Bearer " + raw}} }

// mustJSON encodes v.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonUnmarshal decodes the JSON text s into v.
func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
