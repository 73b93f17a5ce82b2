package verify

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/store"
)

// Listener keeps a Verifier in step with key changes made by other
// instances on the same PostgreSQL database. The store sends each changed
// key's hash with NOTIFY on store.KeyChangeChannel inside the changing
// transaction; the Listener holds a dedicated connection (outside the
// store's pool, application_name keyward-listener) that LISTENs on it and
// invalidates each hash it hears.
//
// When the connection breaks it reconnects with exponential backoff, capped
// at UpBackoff while the store answers other queries, and after every
// (re)connect it expires the whole cache (Verifier.ExpireAll: every key is
// read again, or served stale while the store cannot answer), since changes
// made while it was deaf were not heard. While it is down a backstop bounds
// how long a change goes unseen: every PollEvery it reads the store's count
// of key changes (store.KeyChanges, bumped in the changing transaction) and
// expires the cache at the first answer after the break and whenever the
// count moves.
type Listener struct {
	dsn       string
	v         *Verifier
	log       *slog.Logger
	connected atomic.Bool
	// storeUp is what the backstop last learned: whether the store answers.
	storeUp atomic.Bool

	// MinBackoff and MaxBackoff bound the wait between reconnects; they
	// default to 100ms and 10s. UpBackoff caps the wait while the store
	// answers other queries (default 1s): then the database is up and only
	// this connection is missing. Set them before Run.
	MinBackoff, MaxBackoff, UpBackoff time.Duration
	// PollEvery is how often the backstop reads the change count while the
	// listener is down; it defaults to 250ms.
	PollEvery time.Duration
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
	l := &Listener{dsn: dsn, v: v, log: log, MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second,
		UpBackoff: time.Second, PollEvery: 250 * time.Millisecond, PingEvery: 30 * time.Second}
	l.storeUp.Store(true)
	return l
}

// Connected reports whether the listener is listening right now.
func (l *Listener) Connected() bool { return l.connected.Load() }

// Run listens until ctx is done, reconnecting as needed. It returns nil when
// ctx is done; it never gives up on its own. A break is logged once when it
// starts and once when the listener is back; the attempts between are
// logged at debug level.
func (l *Listener) Run(ctx context.Context) error {
	storeBack := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.backstop(ctx, storeBack)
	}()
	defer wg.Wait()

	backoff := l.MinBackoff
	var downSince time.Time // zero while connected, or before the first try
	attempts := 0
	for {
		heard, err := l.listen(ctx, downSince, attempts)
		l.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if heard || downSince.IsZero() {
			backoff, downSince, attempts = l.MinBackoff, time.Now(), 0
			l.log.Warn("key change listener disconnected; reconnecting (cached keys are dropped once the store answers and whenever keys change meanwhile)",
				"err", err)
		} else {
			l.log.Debug("key change listener: reconnect failed", "err", err, "attempt", attempts)
		}
		attempts++
		// Full jitter keeps many instances from reconnecting in step.
		wait := backoff/2 + rand.N(backoff/2+1) // #nosec G404 -- reconnect jitter, not a secret
		if l.storeUp.Load() {
			wait = min(wait, l.UpBackoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		case <-storeBack:
		}
		backoff = min(2*backoff, l.MaxBackoff)
	}
}

// listen holds one connection until it fails. connected reports whether it
// got as far as listening. downSince and attempts describe the break it
// ends, for the log.
func (l *Listener) listen(ctx context.Context, downSince time.Time, attempts int) (connected bool, err error) {
	cfg, err := pgx.ParseConfig(store.WithAppName(l.dsn, store.AppNameListener))
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
	// Listening from here on: anything changed before is re-read now.
	l.v.ExpireAll()
	// Logged before Connected says so, so that whoever sees the listener
	// connected also finds the line.
	if downSince.IsZero() {
		l.log.Info("key change listener connected")
	} else {
		l.log.Info("key change listener reconnected", "down_for", time.Since(downSince).Round(time.Millisecond).String(), "attempts", attempts)
	}
	l.connected.Store(true)
	l.storeUp.Store(true)
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

// backstop runs beside Run: while the listener is down it reads the store's
// key-change count every PollEvery. The first answer after a break expires
// the cache (what changed during the break is unknown), and so does every
// later answer with a new count, until the listener is back; an answer
// after failed reads also wakes Run to reconnect at once.
func (l *Listener) backstop(ctx context.Context, storeBack chan<- struct{}) {
	t := time.NewTicker(l.PollEvery)
	defer t.Stop()
	var seen int64
	synced := false // seen was read during this break, after a purge
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if l.connected.Load() {
			synced = false
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		n, err := l.v.st.KeyChanges(qctx)
		cancel()
		if err != nil {
			l.storeUp.Store(false)
			continue
		}
		if !l.storeUp.Swap(true) {
			select {
			case storeBack <- struct{}{}:
			default:
			}
		}
		if !synced || n != seen {
			l.v.ExpireAll()
			seen, synced = n, true
		}
	}
}
