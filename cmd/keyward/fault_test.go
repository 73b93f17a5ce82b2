package main

// Faults with the real binary: SIGTERM under load, and two migrations
// started together on one database.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3/lock"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/migrations"
)

// buildKeyward builds the keyward binary into a temporary directory.
func buildKeyward(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "keyward")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// keywardEnv is the environment of a keyward process on dsn.
func keywardEnv(t *testing.T, dsn string, extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + dsn,
		"KEYWARD_SESSION_SECRET=test-session-secret-0123456789abcdef",
		"KEYWARD_DATA_DIR=" + t.TempDir(),
		"KEYWARD_LOG_FORMAT=json",
		"KEYWARD_COOKIE_SECURE=false",
		"KEYWARD_SHUTDOWN_DELAY=0", // a test that needs one sets its own (the last setting wins)
	}, extra...)
}

// syncBuf is a bytes.Buffer safe for a process writing while a test reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// storeKey creates a write_all key of team through st and returns it with
// its raw value.
func storeKey(t *testing.T, st *store.Store, teamID int64, name string) (model.APIKey, string) {
	t.Helper()
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: name, Environment: "live",
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermWriteAll, Scopes: []string{}}
	if err := st.CreateKey(context.Background(), &k, model.Actor{Label: "test"}); err != nil {
		t.Fatal(err)
	}
	return k, raw
}

// keyUsage reads a key's last use and its request count in key_usage.
func keyUsage(t *testing.T, dsn string, keyID int64) (lastUsed *time.Time, requests int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT last_used_at FROM api_keys WHERE id = $1", keyID).Scan(&lastUsed); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT COALESCE(sum(requests), 0) FROM key_usage WHERE key_id = $1", keyID).Scan(&requests); err != nil {
		t.Fatal(err)
	}
	return lastUsed, requests
}

// SIGTERM under load: requests in flight when the signal arrives finish
// with 200, the process exits 0 within the drain timeout, and every use is
// in the database afterwards.
func TestSIGTERMUnderLoad(t *testing.T) {
	bin := buildKeyward(t)
	dsn := testdb.Postgres(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	_, team, err := st.Setup(ctx, "owner@example.com", "not-a-real-hash", "Acme", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	caller, callerRaw := storeKey(t, st, team.ID, "Load")
	checked, checkedRaw := storeKey(t, st, team.ID, "Checked")

	addr := freeAddr(t)
	var logs syncBuf
	cmd := exec.Command(bin, "serve", "--shutdown-timeout", "10s")
	// Flushes only at shutdown, so that the flush on SIGTERM is what is seen.
	cmd.Env = keywardEnv(t, dsn, "KEYWARD_ADDR="+addr, "KEYWARD_LAST_USED_FLUSH=1h")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("keyward did not become ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Requests in flight at the signal: each has sent its headers and half
	// its body, so its handler is running when SIGTERM comes.
	const inFlight = 6
	body := `{"key":"` + checkedRaw + `"}`
	half := len(body) / 2
	conns := make([]net.Conn, inFlight)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "POST /v1/keys/verify HTTP/1.1\r\nHost: %s\r\nX-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			addr, callerRaw, len(body), body[:half])
		conns[i] = c
	}

	// Steady load on keep-alive connections.
	var ok, failed, refused atomic.Int64
	var stopping atomic.Bool
	var failures syncBuf
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopping.Load() {
				req, _ := http.NewRequest(http.MethodGet, base+"/v1/whoami", nil)
				req.Header.Set("X-API-Key", callerRaw)
				res, err := client.Do(req)
				if err != nil {
					// After the signal the listener is closed: a request
					// that cannot connect was never in flight.
					var op *net.OpError
					if errors.As(err, &op) && op.Op == "dial" {
						refused.Add(1)
						time.Sleep(5 * time.Millisecond)
						continue
					}
					failed.Add(1)
					fmt.Fprintf(&failures, "error: %v\n", err)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
					fmt.Fprintf(&failures, "status %d\n", res.StatusCode)
				}
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	if lu, n := keyUsage(t, dsn, caller.ID); lu != nil || n != 0 {
		t.Fatalf("uses were written before the shutdown (last used %v, %d requests): the test cannot see the flush", lu, n)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	stopping.Store(true)

	// The in-flight requests finish after the signal.
	for i, c := range conns {
		if _, err := io.WriteString(c, body[half:]); err != nil {
			t.Fatalf("in-flight request %d: the connection was closed under it: %v", i, err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("in-flight request %d got no answer: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"valid":true`) {
			t.Fatalf("in-flight request %d: %d %s", i, res.StatusCode, b)
		}
	}
	wg.Wait()

	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("keyward exited with %v:\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("keyward did not exit within the drain timeout:\n%s", logs.String())
	}
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed during the shutdown (%d succeeded):\n%s", failed.Load(), ok.Load(), failures.String())
	}
	if ok.Load() < 50 {
		t.Fatalf("only %d requests succeeded: no load", ok.Load())
	}
	for _, want := range []string{"shutting down", "keyward stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logs.String())
		}
	}
	// Every use was flushed on the way out: exact counts.
	lu, n := keyUsage(t, dsn, caller.ID)
	if lu == nil || n != ok.Load()+inFlight {
		t.Fatalf("after shutdown the calling key shows last used %v and %d requests; want %d", lu, n, ok.Load()+inFlight)
	}
	if lu, n := keyUsage(t, dsn, checked.ID); lu == nil || n != inFlight {
		t.Fatalf("after shutdown the checked key shows last used %v and %d requests; want %d", lu, n, inFlight)
	}
	t.Logf("%d requests served, %d refused after the listener closed, %d in flight at SIGTERM", ok.Load(), refused.Load(), inFlight)
}

// Two `keyward migrate` started together on one empty database: both
// succeed, and each migration is applied once.
func TestConcurrentMigrate(t *testing.T) {
	bin := buildKeyward(t)
	dsn := testdb.Postgres(t)
	files, err := fs.Glob(migrations.FS, "postgres/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	const n = 2
	cmds := make([]*exec.Cmd, n)
	outs := make([]*syncBuf, n)
	for i := range cmds {
		outs[i] = &syncBuf{}
		cmds[i] = exec.Command(bin, "migrate")
		cmds[i].Env = keywardEnv(t, dsn)
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	applied := 0
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("migrate %d: %v\n%s", i, err, outs[i].String())
		}
		var k int
		if _, err := fmt.Sscanf(strings.TrimPrefix(outs[i].String(), "migrations: "), "%d applied", &k); err != nil {
			t.Fatalf("migrate %d printed %q", i, outs[i].String())
		}
		applied += k
	}
	if applied != len(files) {
		t.Fatalf("the two runs applied %d migrations in all, want %d (each once)", applied, len(files))
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var versions, rows int
	if err := conn.QueryRow(ctx, "SELECT count(DISTINCT version_id), count(*) FROM goose_db_version WHERE version_id > 0").Scan(&versions, &rows); err != nil {
		t.Fatal(err)
	}
	if versions != len(files) || rows != len(files) {
		t.Fatalf("goose_db_version has %d rows for %d versions, want %d of each", rows, versions, len(files))
	}
	var tables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'api_keys'").Scan(&tables); err != nil || tables != 1 {
		t.Fatalf("api_keys tables: %d %v", tables, err)
	}
}

// startKeyward starts `keyward serve` on dsn with extra environment and
// waits until /readyz answers 200. It returns the base URL, the process's
// logs and a channel that gets its exit.
func startKeyward(t *testing.T, bin, dsn string, extra ...string) (string, *syncBuf, *exec.Cmd, <-chan error) {
	t.Helper()
	addr := freeAddr(t)
	logs := &syncBuf{}
	cmd := exec.Command(bin, "serve", "--shutdown-timeout", "10s")
	cmd.Env = keywardEnv(t, dsn, append([]string{"KEYWARD_ADDR=" + addr}, extra...)...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base, logs, cmd, exited
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("keyward did not become ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SIGTERM with 16 keep-alive clients: /readyz says 503 at once, the
// server keeps serving through KEYWARD_SHUTDOWN_DELAY with Connection:
// close, and clients that stop once /readyz says 503 (as a load balancer
// does) see no failed request at all: no reset, no refused connection.
func TestSIGTERMKeepAliveClientsSeeNoFailure(t *testing.T) {
	bin := buildKeyward(t)
	dsn := testdb.Postgres(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	_, team, err := st.Setup(ctx, "owner@example.com", "not-a-real-hash", "Acme", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, raw := storeKey(t, st, team.ID, "Load")
	const delay = 1500 * time.Millisecond
	base, logs, cmd, exited := startKeyward(t, bin, dsn, "KEYWARD_SHUTDOWN_DELAY="+delay.String())

	var ok, failed, closing atomic.Int64
	var failures syncBuf
	var out atomic.Bool // the load balancer took the instance out
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for !out.Load() {
				req, _ := http.NewRequest(http.MethodGet, base+"/v1/whoami", nil)
				req.Header.Set("X-API-Key", raw)
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					fmt.Fprintf(&failures, "error: %v\n", err)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.Close {
					closing.Add(1)
				}
				if res.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
					fmt.Fprintf(&failures, "status %d\n", res.StatusCode)
				}
			}
		}()
	}
	// The load balancer's health check.
	probe := &http.Client{Timeout: 5 * time.Second}
	var outAt time.Time // written by the probe before wg.Done
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !out.Load() {
			res, err := probe.Get(base + "/readyz")
			if err != nil {
				failed.Add(1)
				fmt.Fprintf(&failures, "readyz: %v\n", err)
				out.Store(true)
				return
			}
			res.Body.Close()
			if res.StatusCode == http.StatusServiceUnavailable {
				outAt = time.Now()
				out.Store(true)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	outAfter := outAt.Sub(signalled)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("keyward exited with %v:\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("keyward did not exit:\n%s", logs.String())
	}
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed through the SIGTERM (%d succeeded):\n%s", failed.Load(), ok.Load(), failures.String())
	}
	if ok.Load() < 50 {
		t.Fatalf("only %d requests succeeded: no load", ok.Load())
	}
	if outAfter >= delay {
		t.Fatalf("/readyz said 503 only %s after SIGTERM, not before the port closed (delay %s)", outAfter, delay)
	}
	if closing.Load() == 0 {
		t.Fatal("no response carried Connection: close during the shutdown delay")
	}
	if took := time.Since(signalled); took < delay {
		t.Fatalf("keyward exited %s after SIGTERM, before KEYWARD_SHUTDOWN_DELAY (%s)", took, delay)
	}
	t.Logf("%d requests served, 0 failed; /readyz 503 %s after SIGTERM; %d responses closed their connection", ok.Load(), outAfter.Round(time.Millisecond), closing.Load())
}

// Every keyward connection names itself in pg_stat_activity: the pool
// (keyward), the LISTEN connection (keyward-listener) and migrations
// (keyward-migrate), so that operators can find each; ending the
// listener's connection by name, the instance reconnects it.
func TestConnectionsNameThemselves(t *testing.T) {
	bin := buildKeyward(t)
	dsn := testdb.Postgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	names := func() map[string]int {
		rows, err := conn.Query(ctx, "SELECT application_name, count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]int{}
		for rows.Next() {
			var name string
			var n int
			if err := rows.Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			m[name] = n
		}
		return m
	}
	// Migrations: hold goose's lock so that `keyward migrate` waits where
	// it can be seen.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lock.DefaultLockID); err != nil {
		t.Fatal(err)
	}
	var mout syncBuf
	migrate := exec.Command(bin, "migrate")
	migrate.Env = keywardEnv(t, dsn)
	migrate.Stdout, migrate.Stderr = &mout, &mout
	if err := migrate.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for names()["keyward-migrate"] == 0 {
		if time.Now().After(deadline) {
			_ = migrate.Process.Kill()
			t.Fatalf("no keyward-migrate connection while migrations wait: %v\n%s", names(), mout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", lock.DefaultLockID); err != nil {
		t.Fatal(err)
	}
	if err := migrate.Wait(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, mout.String())
	}

	base, logs, _, _ := startKeyward(t, bin, dsn)
	deadline = time.Now().Add(10 * time.Second)
	for {
		m := names()
		if m["keyward"] >= 1 && m["keyward-listener"] == 1 && m[""] == 0 && m["keyward-migrate"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections by application_name: %v\n%s", m, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ended bool
	if err := conn.QueryRow(ctx, `SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'keyward-listener'`).Scan(&ended); err != nil || !ended {
		t.Fatalf("ending the listener's connection by name: %v %v", ended, err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "key change listener reconnected") || names()["keyward-listener"] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the listener did not come back: %v\n%s", names(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if res, err := http.Get(base + "/readyz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz after the listener was ended: %v %v", res, err)
	}
}
