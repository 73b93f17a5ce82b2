package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/verify"
	"github.com/keyward/keyward/web"
)

// openStore opens and migrates the configured database, with one clear error
// line when it cannot be reached. On PostgreSQL the migrations run on a
// connection of their own (application_name keyward-migrate), closed before
// the store's pool (keyward) opens.
func openStore(ctx context.Context, cfg *config.Config, opts store.Options) (*store.Store, error) {
	if store.DialectOf(cfg.DSN()) == store.Postgres {
		if err := migrate(ctx, cfg); err != nil {
			return nil, err
		}
		opts.AppName = store.AppName
	}
	st, err := store.Open(ctx, cfg.DSN(), opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open the database (%s): %s", describeDB(cfg), rootCause(err))
	}
	if st.Dialect() == store.SQLite {
		if _, err := st.Migrate(ctx); err != nil {
			_ = st.Close() // the migration error is the one to report
			return nil, fmt.Errorf("cannot apply migrations (%s): %s", describeDB(cfg), rootCause(err))
		}
	}
	return st, nil
}

// migrate applies pending migrations on a store of its own, named
// keyward-migrate on PostgreSQL, and returns how many it applied.
func migrate(ctx context.Context, cfg *config.Config) error {
	_, err := migrateCount(ctx, cfg)
	return err
}

func migrateCount(ctx context.Context, cfg *config.Config) (int, error) {
	st, err := store.Open(ctx, cfg.DSN(), store.Options{AppName: store.AppNameMigrate, MaxOpenConns: 2})
	if err != nil {
		return 0, fmt.Errorf("cannot open the database (%s): %s", describeDB(cfg), rootCause(err))
	}
	defer st.Close()
	n, err := st.Migrate(ctx)
	if err != nil {
		return 0, fmt.Errorf("cannot apply migrations (%s): %s", describeDB(cfg), rootCause(err))
	}
	return n, nil
}

// describeDB names the database without its password.
func describeDB(cfg *config.Config) string {
	if cfg.Embedded() {
		return "embedded SQLite at " + cfg.DSN()[len("file:"):]
	}
	return "PostgreSQL " + store.Redact(cfg.DatabaseURL)
}

// rootCause is the innermost message of err on one line: drivers report
// several attempts over several lines, which a start-up error should not.
func rootCause(err error) string {
	msg := err.Error()
	for e := err; e != nil; {
		m, ok := e.(*model.Error)
		if !ok {
			msg = e.Error()
			break
		}
		if m.Err == nil {
			msg = m.Message
			break
		}
		e = m.Err
	}
	var parts []string
	for _, line := range strings.Split(msg, "\n") {
		if line = strings.TrimSpace(line); line != "" && !slices.Contains(parts, line) {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, " ")
}

func runServe(ctx context.Context, e *env, args []string) error {
	return serve(ctx, e, "serve", args)
}

// runGateway runs the gateway listener alone (no dashboard, no /v1), with
// the same database, key cache, invalidation and recorder as serve.
func runGateway(ctx context.Context, e *env, args []string) error {
	return serve(ctx, e, "gateway", args)
}

// serve runs keyward serve (the dashboard and /v1 on KEYWARD_ADDR, plus the
// gateway on KEYWARD_GATEWAY_ADDR when set) or keyward gateway (the gateway
// alone).
func serve(ctx context.Context, e *env, name string, args []string) error {
	var drain time.Duration
	cfg, _, err := parseConfig(e, name, args, func(fs *flag.FlagSet) {
		fs.DurationVar(&drain, "shutdown-timeout", 30*time.Second, "how long to drain in-flight requests on SIGTERM")
	})
	if err != nil {
		return err
	}
	gatewayOnly := name == "gateway"
	if gatewayOnly && cfg.GatewayAddr == "" {
		return errors.New("KEYWARD_GATEWAY_ADDR: required by keyward gateway (the address to listen on, e.g. :8081)")
	}
	log := newLogger(e.stderr, cfg.LogFormat)
	if err := cfg.EnsureSessionSecret(); err != nil {
		return err
	}
	if err := cfg.EnsureEncryptionKey(); err != nil {
		return err
	}
	if cfg.CookieSecureDefaulted && !gatewayOnly {
		log.Warn("cookies are not marked Secure: the embedded default serves plain HTTP on localhost; set KEYWARD_COOKIE_SECURE=true behind HTTPS")
	}
	st, err := openStore(ctx, cfg, store.Options{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	// The verify path: the key cache, invalidated locally by the store and,
	// on PostgreSQL, by other instances through LISTEN/NOTIFY; last-used
	// times flushed in batches (and at shutdown, by srv.Close).
	rates, err := newRates(cfg, log)
	if err != nil {
		return err
	}
	defer rates.Close()
	verifier := verify.New(st, verify.Options{TTL: cfg.CacheTTL, StaleIfError: cfg.CacheStaleIfError, Rates: rates})
	recorder := verify.NewRecorder(st, log)
	recorder.Start(cfg.LastUsedFlush)
	scanKeys, err := secretscan.Load(cfg.SecretScanningKeys)
	if err != nil {
		return err
	}
	if cfg.SecretScanningKeys != "" {
		log.Info("secret scanning: public keys loaded", "keys", scanKeys.Len())
		stopReloads := reloadOnHangup(scanKeys, log)
		defer stopReloads()
	}
	srv, err := web.New(cfg, st, web.Options{Logger: log, Verifier: verifier, Recorder: recorder, ScanKeys: scanKeys})
	if err != nil {
		return err
	}
	// Events, webhooks, e-mail and expiry reminders: a delivery worker and
	// an expiry scanner on every instance (on PostgreSQL the workers share
	// the queue through FOR UPDATE SKIP LOCKED and one scanner at a time
	// holds the scan's advisory lock).
	stopNotify, err := startNotify(ctx, cfg, st, srv, log)
	if err != nil {
		return err
	}
	srv.OnClose(func(context.Context) error { stopNotify(); return nil })
	if st.Dialect() == store.Postgres {
		lctx, stopListening := context.WithCancel(context.Background())
		listener := verify.NewListener(cfg.DSN(), verifier, log)
		go func() { _ = listener.Run(lctx) }()
		srv.OnClose(func(context.Context) error { stopListening(); return nil })
	}
	var gln net.Listener
	if cfg.GatewayAddr != "" {
		if gln, err = net.Listen("tcp", cfg.GatewayAddr); err != nil {
			return fmt.Errorf("KEYWARD_GATEWAY_ADDR=%s: %w", cfg.GatewayAddr, err)
		}
	}
	var ln net.Listener
	if !gatewayOnly {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			if gln != nil {
				_ = gln.Close()
			}
			return fmt.Errorf("KEYWARD_ADDR=%s: %w", cfg.Addr, err)
		}
	}
	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, srv.MetricsHandler())
		if err != nil {
			if gln != nil {
				_ = gln.Close()
			}
			if ln != nil {
				_ = ln.Close()
			}
			return err
		}
		defer stopMetrics()
		log.Info("metrics serving", "addr", cfg.MetricsAddr)
	}
	// Every listener shuts down alike and together (web.Server.ServeAll):
	// not ready at once, serving on for KEYWARD_SHUTDOWN_DELAY with
	// Connection: close, then draining; or when one of them fails.
	var eps []web.Endpoint
	if gln != nil {
		ep, err := srv.GatewayEndpoint(gln)
		if err != nil {
			_ = gln.Close()
			if ln != nil {
				_ = ln.Close()
			}
			return err
		}
		log.Info("keyward gateway serving", "version", version, "addr", gln.Addr().String(), "upstream", cfg.Upstream.Redacted(), "database", describeDB(cfg))
		eps = append(eps, ep)
	}
	if ln != nil {
		// Said once the socket listens (make run compiles first: a URL
		// printed before that would not answer yet).
		log.Info("keyward is listening: open "+dashboardURL(ln.Addr()), "url", dashboardURL(ln.Addr()),
			"version", version, "addr", ln.Addr().String(), "database", describeDB(cfg))
		eps = append(eps, web.Endpoint{Name: "http", Listener: ln})
	}
	err = srv.ServeAll(ctx, web.Shutdown{Delay: cfg.ShutdownDelay, Drain: drain}, eps...)
	if cerr := srv.Close(context.Background()); cerr != nil {
		log.Error("closing", "err", cerr)
	}
	log.Info("keyward stopped")
	return err
}

// serveMetrics serves /metrics on a listener of its own
// (KEYWARD_METRICS_ADDR) until stop is called.
func serveMetrics(addr string, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("KEYWARD_METRICS_ADDR=%s: %w", addr, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: web.MaxHeaderBytes}
	go func() { _ = hs.Serve(ln) }()
	return func() { _ = hs.Close() }, nil
}

// reloadOnHangup reads the secret scanners' public keys again on each
// SIGHUP (a failed reload is logged and keeps the keys in use) until the
// returned function is called.
func reloadOnHangup(k *secretscan.Keys, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				if err := k.Reload(); err != nil {
					log.Error("secret scanning: reloading the public keys failed; the keys in use stay", "err", err)
					continue
				}
				log.Info("secret scanning: public keys reloaded", "keys", k.Len())
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	cfg, _, err := parseConfig(e, "migrate", args, nil)
	if err != nil {
		return err
	}
	n, err := migrateCount(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "migrations: %d applied; the schema is current (%s)\n", n, describeDB(cfg))
	return nil
}

// dashboardURL is where a person on this machine opens the dashboard that
// listens on addr: an unspecified host (":8080", "0.0.0.0", "[::]") is
// localhost.
func dashboardURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// newRates builds the rate limiter: shared through Redis when REDIS_URL is
// set (a Redis that is down at start-up is only a warning: limits are per
// instance until it answers), else in process.
func newRates(cfg *config.Config, log *slog.Logger) (*limit.Rates, error) {
	if cfg.RedisURL == "" {
		return limit.NewRates(limit.RateOptions{Logger: log}), nil
	}
	rdb, err := limit.NewRedis(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %s", model.ErrorMessage(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		log.Warn("Redis is unreachable at start-up: rate limits are per instance until it answers", "err", err.Error())
	} else {
		log.Info("rate limits are shared through Redis")
	}
	return limit.NewRates(limit.RateOptions{Redis: rdb, Logger: log}), nil
}
