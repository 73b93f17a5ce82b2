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
	"github.com/keyward/keyward/internal/notify"
	"github.com/keyward/keyward/internal/secretbox"
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
	// Mailer sends the dashboard's e-mail (invitations, password resets);
	// when nil, one for KEYWARD_SMTP_URL, or none when that is unset.
	Mailer notify.Mailer
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
	// clientErrors caps the access log lines of 4xx answers to machine
	// traffic (KEYWARD_ACCESS_LOG_CLIENT_ERRORS).
	clientErrors *lineBudget
	bodyLimit    echo.MiddlewareFunc
	assets       *assetSet
	ready        atomic.Bool
	// draining is set when shutdown begins: every response then closes its
	// connection (see ServeAll).
	draining atomic.Bool
	// outage tracks requests refused while the database is unreachable
	// (web/outage.go).
	outage *outage
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
	// routeTable tells real routes from catch-all 404s (web/methods.go).
	routeTable routeTable
	// gw is the gateway (web/gateway.go); nil without KEYWARD_UPSTREAM.
	gw *gateway
	// scanKeys check POST /v1/secret-scanning/github (web/secret_scanning.go).
	scanKeys *secretscan.Keys
	// box seals webhook signing secrets; nil without an encryption key.
	box *secretbox.Box
	// mailer sends e-mail; nil when keyward sends none.
	mailer notify.Mailer
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
		s.verifier = verify.New(st, verify.Options{TTL: cfg.CacheTTL, StaleIfError: cfg.CacheStaleIfError, Now: s.now})
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
	s.mailer = opts.Mailer
	if s.mailer == nil && cfg.SMTPURL != "" {
		m, err := notify.NewSMTPMailer(cfg.SMTPURL, cfg.MailFrom)
		if err != nil {
			return nil, err
		}
		s.mailer = m
	}
	if len(cfg.EncryptionKey) > 0 {
		box, err := secretbox.New(cfg.EncryptionKey)
		if err != nil {
			return nil, err
		}
		s.box = box
	}
	s.metrics = newMetrics()
	s.ids = newRequestIDs()
	s.clientErrors = newLineBudget(cfg.AccessLogClientErrors)
	s.secHeaders = securityHeaderSet()
	s.apiHeaders = apiHeaderSet()
	s.bodyLimit = middleware.BodyLimit("1M")
	s.outage = newOutage(s)
	s.OnClose(s.outage.close)
	s.metrics.reg.MustRegister(s.outage.collectors()...)
	s.metrics.reg.MustRegister(verifierCollectors(s.verifier, s.recorder)...)
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

// Serve serves on ln until ctx is cancelled, then shuts down as ServeAll
// does, waiting cfg.ShutdownDelay before it stops accepting and draining
// in-flight requests for up to drain. Callers flush and close their stores
// afterwards.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	return s.ServeAll(ctx, Shutdown{Delay: s.cfg.ShutdownDelay, Drain: drain}, Endpoint{Name: "http", Listener: ln})
}

// Endpoint is one listener a Server serves.
type Endpoint struct {
	// Name says which listener it is in logs ("http", "metrics", …).
	Name     string
	Listener net.Listener
	// Handler answers its requests; the server's own handler when nil.
	Handler http.Handler
	// Streaming drops the read and write deadlines (header and idle
	// timeouts stay): bodies stream for as long as they last, as the
	// gateway's do.
	Streaming bool
}

// Shutdown says how ServeAll stops.
type Shutdown struct {
	// Delay is how long the server keeps serving once ctx is done: /readyz
	// answers 503 at once, so that load balancers stop sending, and every
	// response closes its connection, so that clients reconnect elsewhere;
	// new connections are still accepted meanwhile.
	Delay time.Duration
	// Drain bounds the wait for requests in flight once the listeners are
	// closed.
	Drain time.Duration
}

// ServeAll serves every endpoint until ctx is cancelled (or one of them
// fails), then shuts them all down together: not ready at once, serving on
// for sd.Delay with Connection: close on every response, then no new
// connections, idle ones closed, and in-flight requests drained for up to
// sd.Drain. Callers flush and close their stores afterwards (Close).
func (s *Server) ServeAll(ctx context.Context, sd Shutdown, eps ...Endpoint) error {
	servers := make([]*http.Server, len(eps))
	errc := make(chan error, len(eps))
	for i, ep := range eps {
		h := ep.Handler
		if h == nil {
			h = s.echo
		}
		servers[i] = &http.Server{
			Handler:           s.closing(h),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.With("listener", ep.Name).Handler(), slog.LevelWarn),
		}
		if ep.Streaming {
			servers[i].ReadTimeout, servers[i].WriteTimeout = 0, 0
		}
		go func() { errc <- servers[i].Serve(ep.Listener) }()
	}
	var failed error
	pending := len(eps)
	select {
	case failed = <-errc:
		pending--
	case <-ctx.Done():
	}
	s.ready.Store(false)
	s.draining.Store(true)
	if failed == nil && sd.Delay > 0 {
		s.log.Info("shutting down: not ready; serving on, closing each connection after its response", "delay", sd.Delay.String())
		time.Sleep(sd.Delay)
	}
	s.log.Info("shutting down: draining in-flight requests", "timeout", sd.Drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), sd.Drain)
	defer cancel()
	errs := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errs <- srv.Shutdown(sctx) }()
	}
	err := failed
	for range servers {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	for ; pending > 0; pending-- {
		if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
	}
	return err
}

// closing wraps h so that once shutdown begins every response carries
// Connection: close, and net/http closes the connection after it.
func (s *Server) closing(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
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
