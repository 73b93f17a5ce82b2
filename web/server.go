// Package web is keyward's HTTP layer: the Echo server, the dashboard's
// handlers (one file per action), the /v1 API, middleware, sessions and the
// single error pipeline. routes.go is the site map.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/verify"
)

// Options are the dependencies and knobs of a Server beyond its config and store.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
	// Catalog is the resource catalog; built from the config when nil.
	Catalog *model.Catalog
	// Extra, when set, is called with the Echo instance after all routes are
	// registered (benchmark builds add their baseline route this way).
	Extra func(e *echo.Echo)
	// Verifier checks the keys of /v1 requests; when nil, one over the
	// store with the configured cache TTL (local invalidation only).
	Verifier *verify.Verifier
	// Recorder buffers key uses; when nil, one that flushes only at Close.
	// The server flushes it at Close either way.
	Recorder *verify.Recorder
	// ScanKeys are the secret scanners' public keys; when nil, read from
	// KEYWARD_SECRET_SCANNING_KEYS (without SIGHUP reloads).
	ScanKeys *secretscan.Keys
}

// Server holds everything the handlers need. Build it with New.
type Server struct {
	cfg     *config.Config
	store   *store.Store
	catalog *model.Catalog
	log     *slog.Logger
	now     func() time.Time
	echo    *echo.Echo
	metrics *metrics
	ids     *requestIDs
	// secHeaders are set on every response; bodyLimit caps request bodies.
	secHeaders []header
	apiHeaders []header
	bodyLimit  echo.MiddlewareFunc
	assets     *assetSet
	ready      atomic.Bool
	// migrated is set once the schema is known to be current; migrations are
	// append-only, so it never goes back.
	migrated atomic.Bool
	closers  []func(ctx context.Context) error
	// acc is sign-in state: sessions, the login limiter (web/session.go).
	acc *accounts
	// sso is the single sign-on provider, once discovered (web/oidc.go).
	sso ssoProvider
	// keyForms remembers used create-key form tokens (web/key_create.go).
	keyForms *formTokens
	// The /v1 API's key checks, last-used recording and limits (web/api_routes.go).
	verifier *verify.Verifier
	recorder *verify.Recorder
	api      *apiState
	// gw is the gateway (web/gateway.go); nil without KEYWARD_UPSTREAM.
	gw *gateway
	// scanKeys check POST /v1/secret-scanning/github (web/secret_scanning.go).
	scanKeys *secretscan.Keys
}

// New builds the server and registers every route.
func New(cfg *config.Config, st *store.Store, opts Options) (*Server, error) {
	s := &Server{cfg: cfg, store: st, log: opts.Logger, now: opts.Now, catalog: opts.Catalog,
		verifier: opts.Verifier, recorder: opts.Recorder, scanKeys: opts.ScanKeys}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.catalog == nil {
		c, err := model.NewCatalog(cfg.Resources)
		if err != nil {
			return nil, err
		}
		s.catalog = c
	}
	// Without a verify path of the caller's (tests, embedding), the server
	// makes its own: a cache with the configured TTL and a recorder that
	// flushes when the server closes.
	if s.verifier == nil {
		s.verifier = verify.New(st, verify.Options{TTL: cfg.CacheTTL, Now: s.now})
	}
	if s.scanKeys == nil {
		k, err := secretscan.Load(cfg.SecretScanningKeys)
		if err != nil {
			return nil, err
		}
		s.scanKeys = k
	}
	if s.recorder == nil {
		s.recorder = verify.NewRecorder(st, s.log)
	}
	s.verifier.SetRecorder(s.recorder)
	// At shutdown unspent quota leases go back to the database.
	s.OnClose(s.verifier.Close)
	s.OnClose(s.recorder.Close)
	s.metrics = newMetrics()
	s.ids = newRequestIDs()
	s.secHeaders = securityHeaderSet(cfg.CookieSecure)
	s.apiHeaders = apiHeaderSet(cfg.CookieSecure)
	s.bodyLimit = middleware.BodyLimit("1M")
	s.metrics.registerLimitMetrics(s.verifier.Rates())
	acc, err := s.newAccounts()
	if err != nil {
		return nil, err
	}
	s.acc = acc
	if s.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(cfg)
	e.HTTPErrorHandler = s.handleError
	s.echo = e
	s.routes()
	s.newGateway()
	if opts.Extra != nil {
		opts.Extra(e)
	}
	s.ready.Store(true)
	return s, nil
}

// Handler returns the server as an http.Handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.echo }

// Registry returns the Prometheus registry behind /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// Serve serves on ln until ctx is cancelled, then shuts down gracefully: it
// reports not ready, drains in-flight requests (up to drain), and returns.
// Callers flush and close their stores afterwards.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.ready.Store(false)
	s.log.Info("shutting down: draining in-flight requests", "timeout", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// MaxHeaderBytes caps request headers; larger requests get 431.
const MaxHeaderBytes = 64 << 10

// ipExtractor believes X-Forwarded-For only from configured proxies.
func ipExtractor(cfg *config.Config) echo.IPExtractor {
	if len(cfg.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range cfg.TrustedProxies {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// OnClose registers fn to run when the server closes, after draining (the
// last-used recorder flushes this way).
func (s *Server) OnClose(fn func(ctx context.Context) error) {
	s.closers = append(s.closers, fn)
}

// Close runs the close hooks in reverse order of registration and returns
// their errors joined. Call it after Serve returns.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i](ctx))
	}
	return errors.Join(errs...)
}
