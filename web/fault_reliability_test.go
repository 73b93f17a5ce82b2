package web

// Faults on a throwaway PostgreSQL cluster (internal/pgcluster) that the
// tests stop and start: cached keys outliving their TTL during an outage,
// the outage logged once, unknown keys answered without the database, and
// revocation lag once the database is back.

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/verify"
)

// newAppWith serves a server on the (migrated) database at dsn with a
// verifier made with vopts (its clock is clock's).
func newAppWith(t *testing.T, dsn string, clock *testClock, vopts verify.Options) *testApp {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := store.Open(ctx, dsn, store.Options{Now: clock.Now, Logger: log, AppName: store.AppName})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	cfg := &config.Config{DatabaseURL: dsn, DataDir: t.TempDir(), Addr: "127.0.0.1:0",
		SessionSecret: []byte("test-session-secret-0123456789abcdef"), KeyPrefix: "kw",
		LastUsedFlush: 10 * time.Second, CacheTTL: vopts.TTL, CacheStaleIfError: vopts.StaleIfError, LogFormat: "text"}
	vopts.Now = clock.Now
	v := verify.New(st, vopts)
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

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// cacheOn has app check each raw key (200) until all of them are in its
// cache: a key's check that races with the NOTIFY of its own creation is
// answered but not cached.
func cacheOn(t *testing.T, app *testApp, raws ...string) {
	t.Helper()
	eventually(t, 5*time.Second, "the keys are cached", func() bool {
		for _, r := range raws {
			if code, body := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(r)); code != http.StatusOK {
				t.Fatalf("whoami: %d %s", code, body)
			}
		}
		return app.srv.verifier.Stats().Cached >= len(raws)
	})
}

// logLines counts the log lines of app that contain every one of parts.
func logLines(app *testApp, parts ...string) int {
	n := 0
	for _, line := range strings.Split(app.logs.String(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// Item: a cached key whose TTL runs out during an outage is still served
// (stale-if-error), counted in metrics, and refreshed once the database
// answers; the outage is logged once when it starts and once when it ends.
func TestFaultCachedKeyOutlivesItsTTLDuringAnOutage(t *testing.T) {
	cluster := startCluster(t)
	clock := &testClock{now: testEpoch}
	app := newAppWith(t, cluster.URL("postgres"), clock, verify.Options{TTL: 30 * time.Second, StaleIfError: 10 * time.Minute})
	fx := &secFixture{app: app}
	fx.owner, fx.team = app.setup(t, "owner@example.com", testPassword, "Acme")
	cached, cachedRaw := fx.key(t, fx.team.ID, "Busy", model.PermReadAll)
	_, uncachedRaw := fx.key(t, fx.team.ID, "Cold", model.PermReadAll)
	if code, body := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(cachedRaw)); code != http.StatusOK {
		t.Fatalf("whoami before the outage: %d %s", code, body)
	}

	cluster.Stop()
	// The cached copy's TTL runs out in the middle of the outage.
	clock.Advance(31 * time.Second)
	for i := range 5 {
		if code, body := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(cachedRaw)); code != http.StatusOK {
			t.Fatalf("check %d of a cached key past its TTL during the outage: %d %s", i, code, body)
		}
		clock.Advance(time.Second)
	}
	if n := app.srv.verifier.Stats().StaleServed; n < 5 {
		t.Fatalf("stale answers counted: %v, want at least 5", n)
	}
	// Uncached keys are refused, each refusal logged at debug level only.
	const refused = 7
	for range refused {
		if code, _ := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(uncachedRaw)); code != http.StatusServiceUnavailable {
			t.Fatalf("an uncached key during the outage: %d", code)
		}
	}
	if n := logLines(app, "level=ERROR"); n != 1 || logLines(app, "level=ERROR", "database unreachable") != 1 {
		t.Fatalf("%d ERROR lines during the outage, want the one saying it started:\n%s", n, app.logs.String())
	}
	if n := logLines(app, "level=DEBUG", "request refused: database unreachable"); n != refused {
		t.Fatalf("%d refusals at debug level, want %d", n, refused)
	}
	if n := counterValue(t, app.srv.outage.total); n != refused {
		t.Fatalf("keyward_unavailable_refusals_total = %v, want %d", n, refused)
	}
	// Revoked by hand in the database while it is down for keyward (no
	// NOTIFY): the trade-off of stale-if-error, seen once it is back.
	if err := cluster.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), cluster.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "UPDATE api_keys SET revoked_at = now() WHERE id = $1", cached.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the end of the outage is logged", func() bool {
		return logLines(app, "database reachable again", "refused="+strconv.Itoa(refused)) == 1
	})
	// The next check after the retry interval reads the store again.
	clock.Advance(time.Second)
	eventually(t, 5*time.Second, "the stale key is refreshed (and found revoked)", func() bool {
		code, _ := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(cachedRaw))
		return code == http.StatusUnauthorized
	})
	if code, body := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(uncachedRaw)); code != http.StatusOK {
		t.Fatalf("the uncached key after the outage: %d %s", code, body)
	}
	if n := logLines(app, "level=ERROR"); n != 1 {
		t.Fatalf("%d ERROR lines in all, want 1:\n%s", n, app.logs.String())
	}
	app.cfg.MetricsToken = "fault-test-metrics-token-0123456789"
	_, m := rawGet(t, app, "/metrics", http.Header{"Authorization": {"Bearer " + app.cfg.MetricsToken}})
	for _, want := range []string{"keyward_verify_stale_served_total", "keyward_unavailable_refusals_total " + strconv.Itoa(refused), "keyward_database_outage 0"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// A second outage outlasting the stale window: the copy cached after the
	// first one is served no longer than KEYWARD_CACHE_STALE_IF_ERROR.
	cluster.Stop()
	clock.Advance(30*time.Second + 10*time.Minute - time.Second)
	if code, _ := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(uncachedRaw)); code != http.StatusOK {
		t.Fatalf("a cached key within its stale window: %d", code)
	}
	clock.Advance(2 * time.Second)
	if code, _ := rawGet(t, app, "/v1/whoami", xAPIKeyHeader(uncachedRaw)); code != http.StatusServiceUnavailable {
		t.Fatalf("a cached key past its stale window: %d, want 503", code)
	}
}

// Item: a well-formed key the store does not know is remembered as such for
// a few seconds, in a cache of its own: asking again needs no database, a
// flood of unknown keys does not push valid keys out, and creating the key
// makes it valid at once on every instance.
func TestFaultUnknownKeysAreAnsweredWithoutTheDatabase(t *testing.T) {
	cluster := startCluster(t)
	dsn := cluster.URL("postgres")
	clock := &testClock{now: testEpoch}
	a := newAppWith(t, dsn, clock, verify.Options{TTL: time.Hour, MaxNegative: 64 * 4})
	b := newAppWith(t, dsn, clock, verify.Options{TTL: time.Hour})
	l := verify.NewListener(dsn, b.srv.verifier, b.srv.log)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = l.Run(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	eventually(t, 5*time.Second, "B's listener connects", l.Connected)

	fx := &secFixture{app: a}
	fx.owner, fx.team = a.setup(t, "owner@example.com", testPassword, "Acme")
	_, validRaw := fx.key(t, fx.team.ID, "Valid", model.PermReadAll)
	unknown, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.srv.verifier.Check(context.Background(), validRaw); err != nil {
		t.Fatal(err)
	}
	// A flood of distinct unknown keys, well past the "not found" cache's
	// bound, then the one the test presents again.
	for range 2000 {
		k, _ := keys.Generate("kw", "live")
		if _, err := a.srv.verifier.Check(context.Background(), k); err != verify.ErrInvalid {
			t.Fatalf("an unknown key: %v", err)
		}
	}
	for _, app := range []*testApp{a, b} {
		if _, err := app.srv.verifier.Check(context.Background(), unknown); err != verify.ErrInvalid {
			t.Fatalf("the unknown key: %v", err)
		}
	}
	if st := a.srv.verifier.Stats(); st.CachedNegative > 64*4 || st.Cached != 1 {
		t.Fatalf("after the flood: %d keys cached, %d unknown keys cached (bound %d)", st.Cached, st.CachedNegative, 64*4)
	}

	cluster.Stop()
	// Without the database: the unknown key is still a plain 401 (not a 503,
	// which would mean the store was asked), and the valid key was not
	// evicted by the flood.
	if _, err := a.srv.verifier.Check(context.Background(), unknown); err != verify.ErrInvalid {
		t.Fatalf("the unknown key with the database down: %v, want ErrInvalid from the cache", err)
	}
	if _, err := a.srv.verifier.Check(context.Background(), validRaw); err != nil {
		t.Fatalf("the valid key with the database down after the flood: %v", err)
	}
	if n := a.srv.verifier.Stats().NegativeHits; n < 1 {
		t.Fatalf("negative hits: %d", n)
	}
	if err := cluster.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "B's listener reconnects", l.Connected)
	// (The first checks may meet the pool's connections the restart ended.)
	eventually(t, 5*time.Second, "B finds the key unknown after the outage", func() bool {
		_, err := b.srv.verifier.Check(context.Background(), unknown)
		return err == verify.ErrInvalid
	})

	// Created now (on A): valid at once on A and, by NOTIFY, on B.
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: fx.team.ID, Name: "Late", Environment: "live",
		KeyHash: keys.Hash(unknown), Hint: keys.Hint(unknown), PermissionSet: model.PermReadAll, Scopes: []string{}}
	eventually(t, 10*time.Second, "the key is created once the database is back", func() bool {
		return a.store.CreateKey(context.Background(), &k, model.Actor{Label: "test"}) == nil
	})
	if _, err := a.srv.verifier.Check(context.Background(), unknown); err != nil {
		t.Fatalf("a key created on A, checked on A at once: %v", err)
	}
	eventually(t, time.Second, "B accepts the key created on A", func() bool {
		_, err := b.srv.verifier.Check(context.Background(), unknown)
		return err == nil
	})
	// The short TTL: another unknown key is asked for again once it passes.
	other, _ := keys.Generate("kw", "live")
	_, _ = a.srv.verifier.Check(context.Background(), other)
	hits := a.srv.verifier.Stats().NegativeHits
	_, _ = a.srv.verifier.Check(context.Background(), other)
	clock.Advance(verify.DefaultNegativeTTL)
	_, _ = a.srv.verifier.Check(context.Background(), other)
	if got := a.srv.verifier.Stats().NegativeHits - hits; got != 1 {
		t.Fatalf("negative hits within and after the TTL: %d, want 1", got)
	}
}

// Item: after an outage long enough for the listener's backoff to grow, a
// key revoked on A once the database is back is refused on B within 1 s.
func TestFaultRevocationLagAfterAnOutage(t *testing.T) {
	cluster := startCluster(t)
	dsn := cluster.URL("postgres")
	clock := &testClock{now: testEpoch}
	a := newAppWith(t, dsn, clock, verify.Options{TTL: time.Hour, StaleIfError: 10 * time.Minute})
	b := newAppWith(t, dsn, clock, verify.Options{TTL: time.Hour, StaleIfError: 10 * time.Minute})
	l := verify.NewListener(dsn, b.srv.verifier, b.srv.log)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = l.Run(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	eventually(t, 5*time.Second, "B's listener connects", l.Connected)

	fx := &secFixture{app: a}
	fx.owner, fx.team = a.setup(t, "owner@example.com", testPassword, "Acme")
	k, raw := fx.key(t, fx.team.ID, "Revoked after the outage", model.PermReadAll)
	_, other := fx.key(t, fx.team.ID, "Untouched", model.PermReadAll)
	cacheOn(t, b, raw, other)
	// The application name tells the listener's connection from the pool's.
	probe, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	rows, err := probe.Query(context.Background(), "SELECT application_name, count(*) FROM pg_stat_activity WHERE application_name LIKE 'keyward%' GROUP BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		names[name] = n
	}
	if rows.Err() != nil || names["keyward-listener"] != 1 || names["keyward"] < 1 {
		t.Fatalf("keyward's connections by application_name: %v %v", names, rows.Err())
	}
	probe.Close(context.Background())

	t.Logf("B before the outage: %+v", b.srv.verifier.Stats())
	cluster.Stop()
	eventually(t, 5*time.Second, "B's listener notices", func() bool { return !l.Connected() })
	t.Logf("B in the outage: %+v", b.srv.verifier.Stats())
	// Long enough for an uncapped backoff to reach several seconds.
	time.Sleep(6 * time.Second)
	if code, body := rawGet(t, b, "/v1/whoami", xAPIKeyHeader(raw)); code != http.StatusOK {
		t.Fatalf("B during the outage: %d %s (cached keys are served)\n%s", code, body, b.logs.String())
	}
	if err := cluster.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	var revoked time.Time
	eventually(t, 10*time.Second, "A revokes the key once the database is back", func() bool {
		_, err := a.store.RevokeKey(context.Background(), fx.team.ID, k.PublicID, model.Actor{Label: "test"})
		revoked = time.Now()
		return err == nil
	})
	for {
		code, _ := rawGet(t, b, "/v1/whoami", xAPIKeyHeader(raw))
		if code == http.StatusUnauthorized {
			break
		}
		// 200 until B re-reads the key; a 503 when a check meets one of
		// the pool's connections the restart ended.
		if code != http.StatusOK && code != http.StatusServiceUnavailable {
			t.Fatalf("B answered %d", code)
		}
		if time.Since(revoked) > time.Second {
			t.Fatalf("B still accepts the key 1 s after A revoked it (database back %s before the revoke; listener connected: %v)",
				revoked.Sub(back).Round(time.Millisecond), l.Connected())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("database back → revoke on A: %s; revoke → refused on B: %s", revoked.Sub(back).Round(time.Millisecond), time.Since(revoked).Round(time.Millisecond))
	if code, _ := rawGet(t, b, "/v1/whoami", xAPIKeyHeader(other)); code != http.StatusOK {
		t.Fatalf("B refuses an untouched key after the outage: %d", code)
	}
	eventually(t, 2*time.Second, "B's listener is back within about a second", l.Connected)
	if n := logLines(b, "key change listener disconnected"); n != 1 {
		t.Fatalf("the listener's outage was logged %d times, want once at its start:\n%s", n, b.logs.String())
	}
	if n := logLines(b, "key change listener reconnected"); n != 1 {
		t.Fatalf("the listener's return was logged %d times, want once", n)
	}
}

// Item: HSTS goes only with HTTPS: a TLS connection, or a trusted proxy
// that says so; never over plain HTTP, and not on an untrusted client's say.
func TestHSTSOnlyOverHTTPS(t *testing.T) {
	fx := newSecFixture(t) // 127.0.0.1 is a trusted proxy
	get := func(h http.Header) string {
		req, _ := http.NewRequest(http.MethodGet, fx.app.URL+"/healthz", nil)
		for k, v := range h {
			req.Header[k] = v
		}
		res, err := fx.app.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header.Get("Strict-Transport-Security")
	}
	if h := get(nil); h != "" {
		t.Fatalf("HSTS over plain HTTP: %q", h)
	}
	if h := get(http.Header{"X-Forwarded-Proto": {"https"}}); !strings.HasPrefix(h, "max-age=") {
		t.Fatalf("no HSTS behind a trusted proxy that says HTTPS: %q", h)
	}
	if h := get(http.Header{"X-Forwarded-Proto": {"http"}}); h != "" {
		t.Fatalf("HSTS behind a trusted proxy that says HTTP: %q", h)
	}
	untrusted := newTestApp(t) // no trusted proxies
	req, _ := http.NewRequest(http.MethodGet, untrusted.URL+"/healthz", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err := untrusted.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if h := res.Header.Get("Strict-Transport-Security"); h != "" {
		t.Fatalf("HSTS on an untrusted client's X-Forwarded-Proto: %q", h)
	}
	tls := newTestApp(t, withSecureCookies()) // served over TLS
	res, err = tls.http.Client().Get(tls.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if h := res.Header.Get("Strict-Transport-Security"); !regexp.MustCompile(`^max-age=\d+`).MatchString(h) {
		t.Fatalf("no HSTS over TLS: %q", h)
	}
}
