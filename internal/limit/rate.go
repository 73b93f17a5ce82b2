// Package limit holds keyward's per-key rate limits and quotas.
//
// Rates is a GCRA (generic cell rate algorithm, a token bucket kept as one
// timestamp) per key: in process by default, or, with a Redis client, one
// limit shared by every instance through a script in Redis, the requests
// waiting at the same moment decided in one call (redis.go), falling back
// to the in-process limiter while Redis cannot be reached. Quotas spends
// durable per-key budgets from leases taken from the database (see
// Quotas).
package limit

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/model"
)

// RateResult is the state of a key's rate limit after one request.
type RateResult struct {
	Allowed bool
	// Limit and Period are the key's limit.
	Limit  int64
	Period time.Duration
	// Remaining is how many more requests the limit allows right now.
	Remaining int64
	// Reset is how long until the limit is back to Limit requests.
	Reset time.Duration
	// RetryAfter is how long a refused client should wait (0 if allowed).
	RetryAfter time.Duration
}

// RateOptions configure Rates.
type RateOptions struct {
	// Redis, when set, shares every limit between the instances that use
	// the same Redis and Prefix.
	Redis redis.UniversalClient
	// Prefix namespaces the Redis keys ("keyward" when empty); tests use
	// their own.
	Prefix string
	// Timeout bounds one Redis call (default 250ms), and a request's wait
	// for a worker to take it into one: past either, the request is
	// decided in process.
	Timeout time.Duration
	// Retry is how long to decide in process after Redis failed before
	// trying it again (default 1s).
	Retry  time.Duration
	Logger *slog.Logger
}

// Rates applies per-key rate limits. It is safe for concurrent use.
type Rates struct {
	local   localGCRA
	redis   *batcher
	prefix  string
	timeout time.Duration
	retry   time.Duration
	log     *slog.Logger

	// down is set while Redis is failing; retryAt (Unix nanoseconds) is
	// when the next request may try it again.
	down      atomic.Bool
	retryAt   atomic.Int64
	fallbacks atomic.Int64
	outages   atomic.Int64
}

// NewRates returns a rate limiter; in process unless opts.Redis is set.
func NewRates(opts RateOptions) *Rates {
	r := &Rates{prefix: opts.Prefix, timeout: opts.Timeout, retry: opts.Retry, log: opts.Logger}
	if r.prefix == "" {
		r.prefix = "keyward"
	}
	if r.timeout <= 0 {
		r.timeout = 250 * time.Millisecond
	}
	if r.retry <= 0 {
		r.retry = time.Second
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if opts.Redis != nil {
		r.redis = newBatcher(opts.Redis, r.timeout)
	}
	r.local.init()
	return r
}

// Shared reports whether limits are shared through Redis.
func (r *Rates) Shared() bool { return r.redis != nil }

// Batches counts the calls made to Redis; each decides the requests that
// were waiting when it was sent.
func (r *Rates) Batches() int64 {
	if r.redis == nil {
		return 0
	}
	return r.redis.batches.Load()
}

// Close stops the workers that talk to Redis (it does not close the Redis
// client). Requests after it are decided in process.
func (r *Rates) Close() {
	if r.redis != nil {
		r.redis.close()
	}
}

// Degraded reports whether Redis is configured but failing, so that limits
// are per instance for now.
func (r *Rates) Degraded() bool { return r.down.Load() }

// Fallbacks counts the requests decided in process because Redis failed.
func (r *Rates) Fallbacks() int64 { return r.fallbacks.Load() }

// Outages counts the times Redis stopped answering.
func (r *Rates) Outages() int64 { return r.outages.Load() }

// Allow spends one request of the key's limit at now and reports the
// limit's state. With Redis the state is Redis's; if Redis fails (or is
// being left alone after failing), the in-process limiter decides, and
// the first failure of an outage is logged once.
func (r *Rates) Allow(ctx context.Context, keyID int64, lim model.RateLimit, now time.Time) RateResult {
	period := lim.Duration()
	if r.redis != nil && (!r.down.Load() || r.tryAgain(now)) {
		res, err := r.allowRedis(ctx, keyID, lim, period)
		if err == nil {
			if r.down.CompareAndSwap(true, false) {
				r.log.Info("Redis answers again: rate limits are shared across instances")
			}
			return res
		}
		if errors.Is(err, errBusy) {
			// No worker was free: the request was never sent, and the
			// calls in flight will say whether Redis is failing.
			r.fallbacks.Add(1)
			return r.local.allow(keyID, lim.Limit, period, now)
		}
		if errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, errClosed) {
			// The caller went away before Redis answered: that says
			// nothing about Redis, which is neither marked down nor
			// counted as failing. The request is decided in process.
			return r.local.allow(keyID, lim.Limit, period, now)
		}
		if r.down.CompareAndSwap(false, true) {
			r.outages.Add(1)
			r.log.Warn("Redis is unreachable: rate limits are per instance until it answers again", "err", err.Error())
		}
		r.retryAt.Store(now.Add(r.retry).UnixNano())
	}
	if r.redis != nil {
		r.fallbacks.Add(1)
	}
	return r.local.allow(keyID, lim.Limit, period, now)
}

// tryAgain lets one request through to Redis once the retry pause is over.
func (r *Rates) tryAgain(now time.Time) bool {
	at := r.retryAt.Load()
	if now.UnixNano() < at {
		return false
	}
	return r.retryAt.CompareAndSwap(at, now.Add(r.retry).UnixNano())
}

func (r *Rates) allowRedis(ctx context.Context, keyID int64, lim model.RateLimit, period time.Duration) (RateResult, error) {
	// The key names the limit too, so that a changed limit starts afresh
	// rather than reading a bucket kept at another rate.
	key := "rate:" + r.prefix + ":" + strconv.FormatInt(keyID, 10) + ":" + lim.String()
	out, err := r.redis.allow(ctx, key, min(lim.Limit, model.MaxRateLimit), period)
	out.Limit, out.Period = lim.Limit, period
	return out, err
}

// localGCRA keeps, per key, the theoretical arrival time of the next
// request (Unix nanoseconds). A request is allowed when it is at most one
// period ahead of now, which allows bursts of up to the limit and then one
// request every period/limit.
type localGCRA struct {
	shards [64]gcraShard
}

type gcraShard struct {
	mu  sync.Mutex
	tat map[int64]int64
	_   [40]byte
}

// sweepAt is the size at which a shard drops the keys whose buckets are
// full again (their state says nothing a fresh bucket would not).
const sweepAt = 4096

func (l *localGCRA) init() {
	for i := range l.shards {
		l.shards[i].tat = map[int64]int64{}
	}
}

func (l *localGCRA) allow(keyID, limit int64, period time.Duration, now time.Time) RateResult {
	out := RateResult{Limit: limit, Period: period}
	if limit <= 0 || period <= 0 {
		out.Allowed = true
		return out
	}
	interval := max(int64(period)/limit, 1)
	t := now.UnixNano()
	s := &l.shards[uint64(keyID)%uint64(len(l.shards))] // #nosec G115 -- any bits pick a shard
	s.mu.Lock()
	tat, ok := s.tat[keyID]
	if !ok || tat < t {
		tat = t
	}
	next := tat + interval
	allowAt := next - int64(period)
	if t < allowAt {
		s.mu.Unlock()
		out.RetryAfter = time.Duration(allowAt - t)
		out.Reset = time.Duration(tat - t)
		return out
	}
	if !ok && len(s.tat) >= sweepAt {
		for k, v := range s.tat {
			if v <= t {
				delete(s.tat, k)
			}
		}
	}
	s.tat[keyID] = next
	s.mu.Unlock()
	out.Allowed = true
	out.Remaining = (t - allowAt) / interval
	out.Reset = time.Duration(next - t)
	return out
}

// NewRedis returns a client for the Redis at url (redis://, rediss:// or
// unix://), with short timeouts: a request never waits long on Redis,
// since the in-process limiter can decide instead. It connects lazily.
func NewRedis(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, model.Wrap(model.EINVALID, err, "REDIS_URL is not a Redis URL.")
	}
	opt.DialTimeout = 500 * time.Millisecond
	opt.ReadTimeout = 250 * time.Millisecond
	opt.WriteTimeout = 250 * time.Millisecond
	opt.MaxRetries = -1 // no retries: the in-process limiter answers instead
	// One dial attempt: the client's default retries a refused dial five
	// times, 100ms apart, which would hold requests while Redis is down.
	opt.DialerRetries = 1
	opt.DialerRetryTimeout = time.Millisecond
	return redis.NewClient(opt), nil
}
