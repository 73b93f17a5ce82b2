package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/verify"
	"github.com/keyward/keyward/web"
)

// baselinePath is the bare handler the verify path is compared with. It is
// registered through web.Options.Extra, so only this benchmark has it. It
// runs behind the same global middleware as every route (request id,
// access log, panic recovery, metrics, security headers, body limit) and,
// being under /v1 like the API, skips the dashboard's session and CSRF
// middleware, as the API does; it is outside the /v1 group, so there is no
// key check. (Under a dashboard path every cookie-less request would get a
// new signed-out session and CSRF token: a cost the API never pays.)
const baselinePath = "/v1/bench/baseline"

func baseline(e *echo.Echo) {
	e.GET(baselinePath, func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
}

// ceilingPath is served by the ceiling: a bare net/http handler on a
// listener of its own, no Echo and no middleware at all, with the same
// server limits as web.Server.Serve. It is what the machine can do at all;
// ceiling_ratio compares the whole stack against it.
const ceilingPath = "/ceiling"

// startCeiling serves the ceiling until the returned function is called.
func startCeiling() (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ok := []byte("ok")
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			_, _ = w.Write(ok)
		}),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: web.MaxHeaderBytes,
	}
	go func() { _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = hs.Close() }, nil
}

// instanceOptions say how a keyward instance is started.
type instanceOptions struct {
	app      string        // application_name on its database connections
	cacheTTL time.Duration // 0: cache off
	flush    time.Duration // last-used flush interval; 0: never started (buffer only, flushed at Close)
	listen   bool          // LISTEN for other instances' key changes
	maxConns int           // store pool size; 0: the store's default
	// timed serves the handler a second time on its own port, timing each
	// request in the server (for the dashboard figures).
	timed bool
	// redis, when set, shares rate limits through the Redis at this URL.
	redis string
	// scanKeys are the secret scanners' public keys it trusts (leak_report_ms).
	scanKeys *secretscan.Keys
}

// instance is one keyward server in this process: its own store (pool),
// verifier, recorder and listener, sharing the bench database.
type instance struct {
	name     string
	url      string
	timedURL string
	srv      *web.Server
	st       *store.Store
	verifier *verify.Verifier
	recorder *verify.Recorder
	listener *verify.Listener
	timings  *timings

	stop    context.CancelFunc
	serving sync.WaitGroup
	others  []*http.Server
	closers []func() error
}

func startInstance(ctx context.Context, db *database, secret string, o instanceOptions, log *slog.Logger) (*instance, error) {
	dsn := db.as(o.app)
	st, err := store.Open(ctx, dsn, store.Options{Logger: log, MaxOpenConns: o.maxConns})
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{
		DatabaseURL:   dsn,
		DataDir:       os.TempDir(),
		Addr:          "127.0.0.1:0",
		SessionSecret: []byte(secret),
		KeyPrefix:     "kw",
		CookieSecure:  false, // plain HTTP on loopback
		LastUsedFlush: max(o.flush, 100*time.Millisecond),
		CacheTTL:      o.cacheTTL,
		LogFormat:     "json",
	}
	in := &instance{name: o.app, st: st}
	rates := limit.NewRates(limit.RateOptions{Logger: log})
	if o.redis != "" {
		rdb, err := limit.NewRedis(o.redis)
		if err != nil {
			st.Close()
			return nil, err
		}
		rates = limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: "kwbench-" + randomHex(6), Logger: log})
		in.closers = append(in.closers, func() error { rates.Close(); return nil }, rdb.Close)
	}
	in.verifier = verify.New(st, verify.Options{TTL: o.cacheTTL, Rates: rates})
	in.recorder = verify.NewRecorder(st, log)
	in.srv, err = web.New(cfg, st, web.Options{Logger: log, Verifier: in.verifier, Recorder: in.recorder, Extra: baseline, ScanKeys: o.scanKeys})
	if err != nil {
		st.Close()
		return nil, err
	}
	sctx, stop := context.WithCancel(context.Background())
	in.stop = stop
	if o.listen {
		in.listener = verify.NewListener(dsn, in.verifier, log)
		go func() { _ = in.listener.Run(sctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for !in.listener.Connected() {
			if time.Now().After(deadline) {
				in.close()
				return nil, fmt.Errorf("%s: the key change listener did not connect", o.app)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		in.close()
		return nil, err
	}
	in.url = "http://" + ln.Addr().String()
	in.serving.Add(1)
	go func() {
		defer in.serving.Done()
		if err := in.srv.Serve(sctx, ln, 5*time.Second); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve", "instance", o.app, "err", err)
		}
	}()
	if o.timed {
		in.timings = &timings{}
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			in.close()
			return nil, err
		}
		in.timedURL = "http://" + tl.Addr().String()
		// The same limits as web.Server.Serve sets.
		hs := &http.Server{Handler: in.timings.wrap(in.srv.Handler()), ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
			MaxHeaderBytes: web.MaxHeaderBytes}
		in.others = append(in.others, hs)
		go func() { _ = hs.Serve(tl) }()
	}
	if o.flush > 0 {
		in.recorder.Start(o.flush)
	}
	return in, nil
}

// close stops serving, flushes the recorder and closes the store.
func (in *instance) close() {
	for _, hs := range in.others {
		_ = hs.Close()
	}
	if in.stop != nil {
		in.stop()
	}
	in.serving.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if in.srv != nil {
		_ = in.srv.Close(ctx)
	}
	for _, c := range in.closers {
		_ = c()
	}
	in.st.Close()
}

// timings keeps the server time of requests, measured around the handler.
type timings struct {
	mu sync.Mutex
	d  []time.Duration
}

func (t *timings) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(start)
		t.mu.Lock()
		t.d = append(t.d, d)
		t.mu.Unlock()
	})
}

// take returns the times recorded since the last take.
func (t *timings) take() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.d
	t.d = nil
	return d
}

// warnWriter formats every log line (as production does, so the access log
// costs what it costs) and passes on only warnings and errors.
type warnWriter struct{ w io.Writer }

func (w warnWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"level":"WARN"`)) || bytes.Contains(p, []byte(`"level":"ERROR"`)) {
		_, _ = w.w.Write(p)
	}
	return len(p), nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func sortDurations(d []time.Duration) []time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
