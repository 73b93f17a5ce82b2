package web

// Faults with real processes on 127.0.0.1: the database stopped while the
// server runs, and the LISTEN connection killed while a key is revoked.
// The outage test runs on a throwaway PostgreSQL cluster of its own
// (internal/pgcluster), so that stopping it disturbs no other test.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/pgcluster"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/internal/verify"
)

// startCluster starts a throwaway cluster for one test, removed when t ends.
func startCluster(t *testing.T) *pgcluster.Cluster {
	t.Helper()
	bin := pgcluster.FindBinaries()
	if bin == "" {
		t.Fatal("no PostgreSQL binaries (initdb, postgres) in PATH or /usr/lib/postgresql/*/bin: the fault tests start a cluster of their own; install PostgreSQL")
	}
	c, err := pgcluster.Create(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove() })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// newAppOn serves a server on the (migrated) database at dsn, with its own
// verifier (cache TTL ttl) and recorder, like newTestApp does on a fresh
// test database.
func newAppOn(t *testing.T, dsn string, clock *testClock, ttl time.Duration) *testApp {
	t.Helper()
	ctx := context.Background()
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
	cfg := &config.Config{DatabaseURL: dsn, DataDir: t.TempDir(), Addr: "127.0.0.1:0",
		SessionSecret: []byte("test-session-secret-0123456789abcdef"), KeyPrefix: "kw",
		LastUsedFlush: 10 * time.Second, CacheTTL: ttl, LogFormat: "text"}
	v := verify.New(st, verify.Options{TTL: ttl, Now: clock.Now})
	rec := verify.NewRecorder(st, log)
	srv, err := New(cfg, st, Options{Now: clock.Now, Logger: log, Verifier: v, Recorder: rec})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close(context.Background())
	})
	return &testApp{srv: srv, store: st, cfg: cfg, clock: clock, http: hs, logs: logs, URL: hs.URL}
}

// rawGet sends GET path with headers to app, without cookies.
func rawGet(t *testing.T, app *testApp, path string, h http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, app.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	res, err := app.http.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return res.StatusCode, string(b)
}

// eventually retries cond every 50ms for up to limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFaultDatabaseStopsAndComesBack(t *testing.T) {
	cluster := startCluster(t)
	app := newAppOn(t, cluster.URL("postgres"), &testClock{now: testEpoch}, time.Hour)
	fx := &secFixture{app: app}
	fx.owner, fx.team = app.setup(t, "owner@example.com", testPassword, "Acme")
	cl := app.client(t)
	cl.login(t, "owner@example.com", testPassword)
	cached, cachedRaw := fx.key(t, fx.team.ID, "Cached", model.PermReadAll)
	_, uncachedRaw := fx.key(t, fx.team.ID, "Uncached", model.PermReadAll)
	if code, body := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(cachedRaw)); code != http.StatusOK {
		t.Fatalf("whoami before the outage: %d %s", code, body)
	}
	cl.get(t, "/settings/api-keys").wantStatus(t, http.StatusOK)

	cluster.Stop()

	// The dashboard: a clear error page, 503, for pages and htmx alike.
	res := cl.get(t, "/settings/api-keys")
	res.wantStatus(t, http.StatusServiceUnavailable)
	if page := res.text(t, ".error-page"); !strings.Contains(page, "503") || !strings.Contains(strings.ToLower(page), "database") {
		t.Fatalf("the outage page does not say what is wrong:\n%s", res.Body)
	}
	if res.Header.Get("Content-Security-Policy") == "" {
		t.Fatal("the outage page lacks the security headers")
	}
	hx := cl.htmxGet(t, "/settings/api-keys")
	if hx.StatusCode != http.StatusServiceUnavailable || hx.Header.Get("HX-Retarget") != "#flash" {
		t.Fatalf("htmx during the outage: %d, retarget %q", hx.StatusCode, hx.Header.Get("HX-Retarget"))
	}
	// The API: the cached key keeps working, an uncached one gets 503.
	for range 3 {
		if code, body := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(cachedRaw)); code != http.StatusOK {
			t.Fatalf("a cached key during the outage: %d %s", code, body)
		}
	}
	code, body := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(uncachedRaw))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"unavailable"`) {
		t.Fatalf("an uncached key during the outage: %d %s", code, body)
	}
	// Malformed keys are still refused without the database.
	if code, _ := rawGet(t, app, "/v1/whoami", xAPIKeyHeader("kw_live_nope")); code != http.StatusUnauthorized {
		t.Fatalf("a malformed key during the outage: %d", code)
	}
	// Probes: alive, not ready.
	if code, _ := rawGet(t, app, "/healthz", nil); code != http.StatusOK {
		t.Fatalf("healthz during the outage: %d", code)
	}
	if code, body := rawGet(t, app, "/readyz", nil); code != http.StatusServiceUnavailable || !strings.Contains(body, "database unreachable") {
		t.Fatalf("readyz during the outage: %d %s", code, body)
	}
	// Recording last use fails quietly and keeps the uses.
	if err := app.srv.recorder.Flush(context.Background()); err == nil {
		t.Fatal("flushing last-used times succeeded with the database down")
	}
	if app.srv.recorder.Pending() == 0 {
		t.Fatal("a failed flush dropped the buffered uses")
	}

	if err := cluster.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Everything recovers in the same process.
	eventually(t, 10*time.Second, "readyz after the database is back", func() bool {
		code, _ := rawGet(t, app, "/readyz", nil)
		return code == http.StatusOK
	})
	cl.get(t, "/settings/api-keys").wantStatus(t, http.StatusOK)
	if code, body := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(uncachedRaw)); code != http.StatusOK {
		t.Fatalf("the uncached key after the outage: %d %s", code, body)
	}
	res = cl.postForm(t, "/settings/api-keys", keyForm("name", "After the outage"))
	res.wantStatus(t, http.StatusOK)
	if err := app.srv.recorder.Flush(context.Background()); err != nil {
		t.Fatalf("flushing after the outage: %v", err)
	}
	k, err := app.store.FindKeyByID(context.Background(), fx.team.ID, cached.PublicID)
	if err != nil || k.LastUsedAt == nil {
		t.Fatalf("the cached key's uses during the outage were lost: %+v %v", k, err)
	}
	if strings.Contains(app.logs.String(), "panic") {
		t.Fatalf("a panic during the outage:\n%s", app.logs.String())
	}
}

// listenerPID returns the backend pid of the connection LISTENing for key
// changes on the database at dsn, found by its application_name.
func listenerPID(t *testing.T, conn *pgx.Conn) (int32, bool) {
	t.Helper()
	var pid int32
	err := conn.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'keyward-listener'`).Scan(&pid)
	if err == pgx.ErrNoRows {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return pid, true
}

func TestFaultListenerKilledDuringARevoke(t *testing.T) {
	dsn := testdb.Postgres(t)
	clock := &testClock{now: testEpoch}
	a := newAppOn(t, dsn, clock, time.Hour)
	b := newAppOn(t, dsn, clock, time.Hour)
	l := verify.NewListener(dsn, b.srv.verifier, b.srv.log)
	// A backoff long enough to revoke while B is deaf (the wait is
	// between half of it and all of it).
	l.MinBackoff, l.MaxBackoff, l.UpBackoff = 2*time.Second, 2*time.Second, 2*time.Second
	// This test is about the purge on reconnect; the backstop (which would
	// purge within its poll interval) is kept out of it.
	l.PollEvery = time.Hour
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = l.Run(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	eventually(t, 5*time.Second, "the listener connects", l.Connected)

	fx := &secFixture{app: a}
	fx.owner, fx.team = a.setup(t, "owner@example.com", testPassword, "Acme")
	k, raw := fx.key(t, fx.team.ID, "Revoked while B is deaf", model.PermReadAll)
	_, other := fx.key(t, fx.team.ID, "Untouched", model.PermReadAll)
	cacheOn(t, b, raw, other)

	cl := a.client(t)
	cl.login(t, "owner@example.com", testPassword)
	cl.csrfToken(t)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	pid, ok := listenerPID(t, conn)
	if !ok {
		t.Fatal("no LISTEN connection found")
	}
	if _, err := conn.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the listener notices it was cut off", func() bool { return !l.Connected() })

	// Revoked on A through the dashboard while B does not listen: the
	// NOTIFY is lost, and B still trusts its cached copy…
	cl.postForm(t, "/settings/api-keys/"+k.PublicID+"/revoke", nil).wantRedirect(t, "/settings/api-keys")
	if code, _ := rawGet(t, a, "/v1/whoami", xAPIKeyHeader(raw)); code != http.StatusUnauthorized {
		t.Fatalf("A still accepts the key it revoked: %d", code)
	}
	if l.Connected() {
		t.Fatal("the listener reconnected before the revoke: the test cannot tell a purge from a notification")
	}
	if code, _ := rawGet(t, b, "/v1/whoami", xAPIKeyHeader(raw)); code != http.StatusOK {
		t.Fatalf("B refused the key before reconnecting (%d): the test cannot tell a purge from a notification", code)
	}
	// …until the listener is back, which empties B's cache.
	eventually(t, 5*time.Second, "the listener reconnects", l.Connected)
	if newPID, ok := listenerPID(t, conn); !ok || newPID == pid {
		t.Fatalf("LISTEN connection after the reconnect: %d %v (was %d)", newPID, ok, pid)
	}
	code, body := rawGet(t, b, "/v1/whoami", xAPIKeyHeader(raw))
	if code != http.StatusUnauthorized {
		t.Fatalf("B accepts the key revoked while its listener was down: %d %s", code, body)
	}
	if code, _ := rawGet(t, b, "/v1/whoami", xAPIKeyHeader(other)); code != http.StatusOK {
		t.Fatalf("B refuses an untouched key after the reconnect: %d", code)
	}
	// And B hears later changes again.
	if _, err := a.store.RevokeKey(context.Background(), fx.team.ID, mustFindKey(t, a, fx.team.ID, other).PublicID, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "B refuses a key revoked after the reconnect", func() bool {
		code, _ := rawGet(t, b, "/v1/whoami", xAPIKeyHeader(other))
		return code == http.StatusUnauthorized
	})
}

func mustFindKey(t *testing.T, app *testApp, teamID int64, raw string) model.APIKey {
	t.Helper()
	k, err := app.store.FindKeyByHash(context.Background(), keys.Hash(raw))
	if err != nil || k.TeamID != teamID {
		t.Fatalf("key: %+v %v", k, err)
	}
	return k
}
