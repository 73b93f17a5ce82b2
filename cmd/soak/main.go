// Command soak runs two keyward instances on a throwaway PostgreSQL cluster
// under steady load for a few minutes while faults happen on a schedule,
// and prints what held:
//
//	make soak                      # about 3 minutes
//	SOAK_DURATION=10m make soak    # longer; the faults keep their places in proportion
//
// It needs the keyward binary (make soak builds bin/keyward first; -bin
// names another) and PostgreSQL's initdb and postgres (see
// internal/pgcluster). Both instances serve /v1 to a small load balancer in
// this program that takes an instance out while its /readyz says it is
// shutting down or it does not answer, as a real one would.
//
// The faults, at fixed fractions of the run: PostgreSQL stopped for a while
// and started again; every key change listener's connection ended
// (pg_terminate_backend by application_name keyward-listener); instance B
// restarted with SIGTERM. Meanwhile a key is revoked on A every second or so
// and B is polled until it refuses it.
//
// The summary: requests, answers other than 2xx by status, client errors,
// revocation lag on B (p50, p99, max), usage counts lost (requests answered
// 200 minus what the instances wrote to key_usage, after both stopped with
// SIGTERM), and each instance's RSS and goroutines at the start and end.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/pgcluster"
	"github.com/keyward/keyward/internal/store"
)

func main() {
	bin := flag.String("bin", "bin/keyward", "the keyward binary to run")
	dur := flag.Duration("duration", envDuration("SOAK_DURATION", 3*time.Minute), "how long the load runs (env SOAK_DURATION)")
	workers := flag.Int("workers", 16, "concurrent load connections")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *dur, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// sessionSecret signs both instances' sessions (the soak signs nobody in).
const sessionSecret = "soak-session-secret-0123456789abcdef"

// metricsToken lets the soak read /metrics on the main listener
// (KEYWARD_METRICS_TOKEN; without it /metrics is not served).
const metricsToken = "soak-metrics-token-0123456789abcdef" // #nosec G101 -- a fixed token of a throwaway test instance

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func note(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(ctx context.Context, bin string, dur time.Duration, workers int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (run `make build` first, or pass -bin)", bin, err)
	}
	pgbin := pgcluster.FindBinaries()
	if pgbin == "" {
		return fmt.Errorf("no PostgreSQL binaries (initdb, postgres) in PATH or /usr/lib/postgresql/*/bin")
	}
	cluster, err := pgcluster.Create(pgbin)
	if err != nil {
		return err
	}
	defer func() { _ = cluster.Remove() }()
	if err := cluster.Start(ctx); err != nil {
		return err
	}
	dsn := cluster.URL("postgres")
	note("PostgreSQL cluster on %s", cluster.Addr())
	migrate := exec.Command(bin, "migrate")
	migrate.Env = []string{"DATABASE_URL=" + dsn, "KEYWARD_SESSION_SECRET=" + sessionSecret}
	if out, err := migrate.CombinedOutput(); err != nil {
		return fmt.Errorf("keyward migrate: %v\n%s", err, out)
	}
	fx, err := seed(ctx, dsn)
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "keyward-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	a := &instance{name: "A", bin: bin, dsn: dsn, dir: dir}
	b := &instance{name: "B", bin: bin, dsn: dsn, dir: dir}
	for _, in := range []*instance{a, b} {
		if err := in.start(ctx); err != nil {
			return err
		}
		defer in.kill()
	}
	lb := &balancer{instances: []*instance{a, b}}
	lctx, stopLB := context.WithCancel(ctx)
	defer stopLB()
	go lb.watch(lctx)

	start := map[string]procStats{"A": a.procStats(), "B": b.procStats()}
	var st stats
	st.status = map[int]*atomic.Int64{}
	for _, c := range []int{200, 401, 429, 500, 502, 503} {
		st.status[c] = &atomic.Int64{}
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			load(loadCtx, lb, fx.load, w, &st)
		}()
	}
	note("load: %d connections across A and B for %s", workers, dur)
	began := time.Now()

	var lags []lagAt
	var lagMu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		revoker(loadCtx, a, b, fx, func(at time.Time, d time.Duration) {
			lagMu.Lock()
			lags = append(lags, lagAt{at.Sub(began), d})
			lagMu.Unlock()
		})
	}()

	at := func(frac float64) time.Time { return began.Add(time.Duration(frac * float64(dur))) }
	wait := func(t time.Time) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Until(t)):
			return true
		}
	}
	outage := min(20*time.Second, dur/8)
	var events []string
	event := func(format string, args ...any) {
		s := fmt.Sprintf("%6.1fs  ", time.Since(began).Seconds()) + fmt.Sprintf(format, args...)
		events = append(events, s)
		note("%s", s)
	}
	if wait(at(0.15)) {
		event("PostgreSQL stopped for %s", outage)
		cluster.Stop()
		time.Sleep(outage)
		if err := cluster.Start(ctx); err != nil {
			return err
		}
		event("PostgreSQL started again")
	}
	if wait(at(0.45)) {
		n, err := endListeners(ctx, dsn)
		if err != nil {
			return err
		}
		event("ended %d key change listener connection(s) (application_name keyward-listener)", n)
	}
	if wait(at(0.65)) {
		event("instance B: SIGTERM")
		t0 := time.Now()
		if err := b.stop(); err != nil {
			return err
		}
		if err := b.start(ctx); err != nil {
			return err
		}
		event("instance B serving again after %s", time.Since(t0).Round(time.Millisecond))
	}
	wait(at(1))
	stopLoad()
	wg.Wait()
	elapsed := time.Since(began)
	// Idle again (the clients closed their connections): what is left is
	// what the instances keep.
	time.Sleep(time.Second)
	end := map[string]procStats{"A": a.procStats(), "B": b.procStats()}
	note("load stopped; stopping both instances with SIGTERM (they flush usage counts)")
	for _, in := range []*instance{a, b} {
		if err := in.stop(); err != nil {
			return err
		}
	}
	written, err := usageWritten(ctx, dsn, fx.loadIDs)
	if err != nil {
		return err
	}

	p := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	ok := st.status[200].Load()
	p("")
	p("keyward soak: %s, 2 instances, %d connections, PostgreSQL %s", elapsed.Round(time.Second), workers, cluster.Addr())
	p("events:")
	for _, e := range events {
		p("  %s", e)
	}
	p("requests: %d (%.0f/s)", st.total.Load(), float64(st.total.Load())/elapsed.Seconds())
	var other []string
	codes := make([]int, 0, len(st.status))
	for c := range st.status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		if n := st.status[c].Load(); c != 200 && n > 0 {
			other = append(other, fmt.Sprintf("%d: %d", c, n))
		}
	}
	if n := st.otherStatus.Load(); n > 0 {
		other = append(other, fmt.Sprintf("other: %d", n))
	}
	if len(other) == 0 {
		other = []string{"none"}
	}
	p("non-2xx answers: %s", strings.Join(other, ", "))
	p("client errors (no answer): %d", st.errors.Load())
	sort.Slice(lags, func(i, j int) bool { return lags[i].lag < lags[j].lag })
	if len(lags) > 0 {
		d := make([]time.Duration, len(lags))
		for i, l := range lags {
			d[i] = l.lag
		}
		p("revocation on A refused by B: %d revocations, p50 %s, p99 %s, max %s",
			len(d), pct(d, 0.5), pct(d, 0.99), d[len(d)-1].Round(time.Millisecond))
		var slow []string
		for i := len(lags) - 1; i >= max(0, len(lags)-3); i-- {
			slow = append(slow, fmt.Sprintf("%s at %.1fs", lags[i].lag.Round(time.Millisecond), lags[i].at.Seconds()))
		}
		p("  slowest: %s", strings.Join(slow, ", "))
	}
	p("usage counts: %d requests answered 200, %d written to key_usage: %d lost", ok, written, ok-written)
	for _, name := range []string{"A", "B"} {
		s, e := start[name], end[name]
		p("instance %s, idle before and after the load: RSS %.1f MB → %.1f MB, goroutines %d → %d", name, s.rssMB, e.rssMB, s.goroutines, e.goroutines)
	}
	p("  (B's end figures are those of the process started at its restart)")
	return nil
}

// lagAt is one revocation's lag, and when in the run it was revoked.
type lagAt struct {
	at, lag time.Duration
}

func pct(d []time.Duration, q float64) time.Duration {
	i := int(q * float64(len(d)-1))
	return d[i].Round(time.Millisecond)
}

// fixture is the soak's team and keys.
type fixture struct {
	admin    string // write_all, revokes through A's API
	load     []string
	loadIDs  []int64
	victims  []string
	victimID []string
}

func seed(ctx context.Context, dsn string) (*fixture, error) {
	st, err := store.Open(ctx, dsn, store.Options{AppName: "keyward-soak"})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	_, team, err := st.Setup(ctx, "owner@soak.example.com", "not-a-password-hash", "Soak", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	fx := &fixture{}
	mk := func(name string, set model.PermissionSet) (model.APIKey, string, error) {
		raw, err := keys.Generate("kw", "live")
		if err != nil {
			return model.APIKey{}, "", err
		}
		k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: team.ID, Name: name, Environment: "live",
			KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: set, Scopes: []string{}}
		return k, raw, st.CreateKey(ctx, &k, model.Actor{Label: "soak"})
	}
	if _, fx.admin, err = mk("admin", model.PermWriteAll); err != nil {
		return nil, err
	}
	for i := range 200 {
		k, raw, err := mk("load "+strconv.Itoa(i), model.PermReadAll)
		if err != nil {
			return nil, err
		}
		fx.load, fx.loadIDs = append(fx.load, raw), append(fx.loadIDs, k.ID)
	}
	for i := range 2000 {
		k, raw, err := mk("victim "+strconv.Itoa(i), model.PermReadAll)
		if err != nil {
			return nil, err
		}
		fx.victims, fx.victimID = append(fx.victims, raw), append(fx.victimID, k.PublicID)
	}
	return fx, nil
}

// instance is one keyward process.
type instance struct {
	name, bin, dsn, dir string

	mu   sync.Mutex
	url  string
	cmd  *exec.Cmd
	done chan error
	logs *os.File
}

func (in *instance) base() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.url
}

func (in *instance) start(ctx context.Context) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	logs, err := os.OpenFile(filepath.Join(in.dir, "keyward-"+in.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(in.bin, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + in.dsn,
		"KEYWARD_SESSION_SECRET=" + sessionSecret,
		"KEYWARD_DATA_DIR=" + in.dir,
		"KEYWARD_ADDR=" + addr,
		"KEYWARD_LAST_USED_FLUSH=1s",
		"KEYWARD_SHUTDOWN_DELAY=1s",
		"KEYWARD_COOKIE_SECURE=false",
		"KEYWARD_METRICS_TOKEN=" + metricsToken,
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		logs.Close()
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	in.mu.Lock()
	in.url, in.cmd, in.done, in.logs = "http://"+addr, cmd, done, logs
	in.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(in.base() + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("instance %s did not become ready (log: %s)", in.name, logs.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop() error {
	in.mu.Lock()
	cmd, done, logs := in.cmd, in.done, in.logs
	in.mu.Unlock()
	if cmd == nil {
		return nil
	}
	defer logs.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-done:
		in.mu.Lock()
		in.cmd = nil
		in.mu.Unlock()
		if err != nil {
			return fmt.Errorf("instance %s exited with %v (log: %s)", in.name, err, logs.Name())
		}
		return nil
	case <-time.After(60 * time.Second):
		return fmt.Errorf("instance %s did not stop within 60s", in.name)
	}
}

func (in *instance) kill() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd != nil {
		_ = in.cmd.Process.Kill()
		<-in.done
		in.cmd = nil
	}
}

type procStats struct {
	rssMB      float64
	goroutines int
}

// procStats reads the instance's RSS and goroutines from /metrics.
func (in *instance) procStats() procStats {
	var ps procStats
	req, err := http.NewRequest(http.MethodGet, in.base()+"/metrics", nil)
	if err != nil {
		return ps
	}
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return ps
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "process_resident_memory_bytes":
			ps.rssMB = v / (1 << 20)
		case "go_goroutines":
			ps.goroutines = int(v)
		}
	}
	return ps
}

// balancer sends each request to the next instance in service, as a load
// balancer checking /readyz would: an instance is out while it says it is
// shutting down or does not answer. (A 503 because the database is down
// keeps it in: both instances would be out, and cached keys still work.)
type balancer struct {
	instances []*instance
	up        sync.Map // *instance → bool
	next      atomic.Uint64
}

func (lb *balancer) watch(ctx context.Context) {
	hc := &http.Client{Timeout: time.Second}
	for ctx.Err() == nil {
		for _, in := range lb.instances {
			ok := false
			if res, err := hc.Get(in.base() + "/readyz"); err == nil {
				var body struct{ Reason string }
				_ = json.NewDecoder(res.Body).Decode(&body)
				res.Body.Close()
				ok = res.StatusCode == http.StatusOK || body.Reason == "database unreachable"
			}
			lb.up.Store(in, ok)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (lb *balancer) pick() *instance {
	for range len(lb.instances) {
		in := lb.instances[lb.next.Add(1)%uint64(len(lb.instances))]
		if v, ok := lb.up.Load(in); ok && v.(bool) {
			return in
		}
	}
	return nil
}

type stats struct {
	total, errors, otherStatus atomic.Int64
	status                     map[int]*atomic.Int64
}

func load(ctx context.Context, lb *balancer, keys []string, w int, st *stats) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	defer hc.CloseIdleConnections()
	for j := w; ctx.Err() == nil; j++ {
		in := lb.pick()
		if in == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		// Not bound to ctx: a request under way when the load stops is
		// finished and counted, as the instance records it.
		req, _ := http.NewRequest(http.MethodGet, in.base()+"/v1/whoami", nil)
		req.Header.Set("X-API-Key", keys[j%len(keys)])
		res, err := hc.Do(req)
		if err != nil {
			st.errors.Add(1)
			st.total.Add(1)
			continue
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		st.total.Add(1)
		if c, ok := st.status[res.StatusCode]; ok {
			c.Add(1)
		} else {
			st.otherStatus.Add(1)
		}
	}
}

// revoker caches a victim on B, revokes it on A through the API and polls
// B until it refuses it, about once a second; a revoke A cannot make (the
// database is down) is retried with the next victim. Each revocation's
// polls come from a loopback address of their own where the machine allows
// it (Linux routes all of 127/8 to loopback): B's limit on failed key
// checks is per address, and the load's address must not spend it.
func revoker(ctx context.Context, a, b *instance, fx *fixture, lag func(at time.Time, d time.Duration)) {
	var hc *http.Client
	call := func(method, u, key string) int {
		req, _ := http.NewRequestWithContext(ctx, method, u, nil)
		req.Header.Set("X-API-Key", key)
		res, err := hc.Do(req)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for i := 0; i < len(fx.victims) && ctx.Err() == nil; i++ {
		time.Sleep(time.Second)
		if hc != nil {
			hc.CloseIdleConnections()
		}
		hc = clientFrom(net.IPv4(127, 0, 3+byte(i/250), 1+byte(i%250)))
		if call(http.MethodGet, b.base()+"/healthz", "") == 0 {
			hc = &http.Client{Timeout: 5 * time.Second}
		}
		raw, id := fx.victims[i], fx.victimID[i]
		if call(http.MethodGet, b.base()+"/v1/whoami", raw) != http.StatusOK {
			continue // B is restarting or cannot read the key now
		}
		t0 := time.Now()
		if call(http.MethodPost, a.base()+"/v1/api-keys/"+id+"/revoke", fx.admin) != http.StatusOK {
			continue
		}
		for ctx.Err() == nil {
			code := call(http.MethodGet, b.base()+"/v1/whoami", raw)
			if code == http.StatusUnauthorized || time.Since(t0) > 30*time.Second {
				lag(t0, time.Since(t0))
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// clientFrom returns a client whose connections come from ip.
func clientFrom(ip net.IP) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2}}
}

// endListeners ends every key change listener's connection.
func endListeners(ctx context.Context, dsn string) (int, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, store.AppNameListener).Scan(&n)
	return n, err
}

// usageWritten sums the requests key_usage holds for the load keys.
func usageWritten(ctx context.Context, dsn string, ids []int64) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, "SELECT COALESCE(sum(requests), 0) FROM key_usage WHERE key_id = ANY($1)", ids).Scan(&n)
	return n, err
}
