package verify

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/store"
)

// Listener keeps a Verifier in step with key changes made by other
// instances on the same PostgreSQL database. The store sends each changed
// key's hash with NOTIFY on store.KeyChangeChannel inside the changing
// transaction; the Listener holds a dedicated connection (outside the
// store's pool) that LISTENs on it and invalidates each hash it hears.
//
// When the connection breaks it reconnects with exponential backoff, and
// after every (re)connect it empties the whole cache, since changes made
// while it was deaf were not heard. Between a break and the next connect,
// cached keys are trusted for at most the cache TTL.
type Listener struct {
	dsn       string
	v         *Verifier
	log       *slog.Logger
	connected atomic.Bool

	// MinBackoff and MaxBackoff bound the wait between reconnects; they
	// default to 100ms and 10s. Set them before Run.
	MinBackoff, MaxBackoff time.Duration
	// PingEvery is how often an idle connection is checked, so that a
	// silently dropped connection is noticed; it defaults to 30s.
	PingEvery time.Duration
}

// NewListener returns a listener for the PostgreSQL database at dsn (a
// postgres:// URL, the store's DSN) that invalidates v's cache.
func NewListener(dsn string, v *Verifier, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.Default()
	}
	return &Listener{dsn: dsn, v: v, log: log, MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, PingEvery: 30 * time.Second}
}

// Connected reports whether the listener is listening right now.
func (l *Listener) Connected() bool { return l.connected.Load() }

// Run listens until ctx is done, reconnecting as needed. It returns nil when
// ctx is done; it never gives up on its own.
func (l *Listener) Run(ctx context.Context) error {
	backoff := l.MinBackoff
	for {
		heard, err := l.listen(ctx)
		l.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if heard {
			backoff = l.MinBackoff
		}
		// Full jitter keeps many instances from reconnecting in step.
		wait := backoff/2 + rand.N(backoff/2+1) // #nosec G404 -- reconnect jitter, not a secret
		l.log.Warn("key change listener disconnected; cached keys are trusted for at most the cache TTL until it reconnects",
			"err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, l.MaxBackoff)
	}
}

// listen holds one connection until it fails. connected reports whether it
// got as far as listening.
func (l *Listener) listen(ctx context.Context) (connected bool, err error) {
	cfg, err := pgx.ParseConfig(l.dsn)
	if err != nil {
		return false, err
	}
	cfg.ConnectTimeout = 5 * time.Second
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{store.KeyChangeChannel}.Sanitize()); err != nil {
		return false, err
	}
	// Listening from here on: anything changed before is dropped now.
	l.v.Purge()
	l.connected.Store(true)
	l.log.Info("key change listener connected")
	for {
		wctx, cancel := context.WithTimeout(ctx, l.PingEvery)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			l.v.Invalidate(n.Payload)
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, err
			}
		default:
			return true, err
		}
	}
}
