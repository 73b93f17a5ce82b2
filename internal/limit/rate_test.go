package limit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testredis"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestLocalGCRA(t *testing.T) {
	r := limit.NewRates(limit.RateOptions{})
	lim := model.RateLimit{Limit: 3, Period: model.RatePerMinute}
	for i := range 3 {
		res := r.Allow(context.Background(), 1, lim, t0)
		if !res.Allowed || res.Remaining != int64(2-i) {
			t.Fatalf("request %d: %+v", i+1, res)
		}
	}
	res := r.Allow(context.Background(), 1, lim, t0)
	if res.Allowed || res.RetryAfter != 20*time.Second || res.Remaining != 0 {
		t.Fatalf("4th request: %+v, want refused for 20s", res)
	}
	// Another key has a bucket of its own.
	if !r.Allow(context.Background(), 2, lim, t0).Allowed {
		t.Fatal("key 2 refused for key 1's requests")
	}
	if r.Allow(context.Background(), 1, lim, t0.Add(20*time.Second-time.Nanosecond)).Allowed {
		t.Fatal("allowed before the retry time")
	}
	if !r.Allow(context.Background(), 1, lim, t0.Add(20*time.Second)).Allowed {
		t.Fatal("refused at the retry time")
	}
	// After a quiet period the full burst is back, never more.
	n := 0
	for r.Allow(context.Background(), 1, lim, t0.Add(time.Hour)).Allowed {
		n++
	}
	if n != 3 {
		t.Fatalf("burst after an hour: %d, want 3", n)
	}
}

// Without Redis every instance has its own limit: two instances admit up
// to twice the limit. With Redis one limit holds across both, exactly:
// each decision is one atomic script in Redis.
func TestRateLimitAcrossInstances(t *testing.T) {
	rdb, prefix := testredis.Client(t)
	lim := model.RateLimit{Limit: 40, Period: model.RatePerHour}
	count := func(a, b *limit.Rates) int64 {
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inst := a
				if w%2 == 1 {
					inst = b
				}
				for range 25 {
					if inst.Allow(context.Background(), 7, lim, time.Now()).Allowed {
						admitted.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		return admitted.Load()
	}
	if n := count(limit.NewRates(limit.RateOptions{}), limit.NewRates(limit.RateOptions{})); n != 80 {
		t.Fatalf("two in-process instances admitted %d, want 40 each", n)
	}
	a := limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: prefix})
	b := limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: prefix})
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	if n := count(a, b); n != 40 {
		t.Fatalf("two instances sharing Redis admitted %d, want exactly 40", n)
	}
	if a.Fallbacks()+b.Fallbacks() != 0 || a.Degraded() || !a.Shared() {
		t.Fatalf("fell back without an outage: %d %d", a.Fallbacks(), b.Fallbacks())
	}
}

// syncLog is a log buffer safe for concurrent writers.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// redisRates returns rate limits shared through a Redis of the test's own
// (retry: how long after a failure Redis is tried again; 0 for the
// default), and the log it writes to.
func redisRates(t *testing.T, retry time.Duration) (*testredis.Server, *limit.Rates, *syncLog) {
	t.Helper()
	srv := testredis.Start(t)
	rdb, err := limit.NewRedis("redis://" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	logs := &syncLog{}
	r := limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: testredis.Prefix(), Retry: retry,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(r.Close)
	return srv, r, logs
}

// Redis killed mid-test: the limiter decides in process (a request is
// never refused or stalled for Redis's sake), logs the outage once, counts
// the fallbacks, and shares limits again once Redis is back.
func TestRedisOutageFallsBackAndRecovers(t *testing.T) {
	srv, r, logs := redisRates(t, 50*time.Millisecond)
	lim := model.RateLimit{Limit: 5, Period: model.RatePerHour}
	ctx := context.Background()
	for range 5 {
		if !r.Allow(ctx, 1, lim, time.Now()).Allowed {
			t.Fatal("refused within the limit")
		}
	}
	if r.Allow(ctx, 1, lim, time.Now()).Allowed {
		t.Fatal("Redis's limit not applied")
	}

	srv.Stop()
	start := time.Now()
	allowed := 0
	for range 50 {
		if r.Allow(ctx, 2, lim, time.Now()).Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("in-process fallback admitted %d of key 2's requests, want its limit of 5", allowed)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("50 requests took %v while Redis was down", el)
	}
	if !r.Degraded() || r.Fallbacks() == 0 || r.Outages() != 1 {
		t.Fatalf("degraded %v, fallbacks %d, outages %d", r.Degraded(), r.Fallbacks(), r.Outages())
	}
	if n := logs.count("Redis is unreachable"); n != 1 {
		t.Fatalf("the outage was logged %d times, want once:\n%s", n, logs.b.String())
	}

	srv.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for r.Degraded() {
		if time.Now().After(deadline) {
			t.Fatal("still falling back 10s after Redis came back")
		}
		r.Allow(ctx, 3, lim, time.Now())
		time.Sleep(20 * time.Millisecond)
	}
	if logs.count("Redis answers again") != 1 {
		t.Fatalf("recovery not logged:\n%s", logs.b.String())
	}
	// Shared again: the restarted Redis is empty, so key 1 starts afresh
	// there, and its limit is Redis's.
	n := 0
	for r.Allow(ctx, 1, lim, time.Now()).Allowed {
		n++
	}
	if n != 5 || r.Degraded() {
		t.Fatalf("after recovery key 1 admitted %d, want 5 (degraded %v)", n, r.Degraded())
	}
}

// TestCanceledCallIsNoRedisOutage: a caller that goes away while its limit
// is being checked in Redis cuts the call short. That is not Redis
// failing: limits stay shared, and no outage is counted or logged.
func TestCanceledCallIsNoRedisOutage(t *testing.T) {
	_, r, logs := redisRates(t, 0)
	lim := model.RateLimit{Limit: 5, Period: model.RatePerHour}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	r.Allow(gone, 1, lim, time.Now())
	if r.Degraded() || r.Outages() != 0 || r.Fallbacks() != 0 || logs.count("Redis is unreachable") != 0 {
		t.Fatalf("a canceled call taken for a Redis outage: degraded %v, outages %d, fallbacks %d\n%s",
			r.Degraded(), r.Outages(), r.Fallbacks(), logs.b.String())
	}
	// Still shared: key 1's five requests are counted in Redis.
	n := 0
	for r.Allow(context.Background(), 1, lim, time.Now()).Allowed {
		n++
	}
	if n != 5 || r.Fallbacks() != 0 {
		t.Fatalf("after a canceled call key 1 admitted %d through Redis, want 5 (fallbacks %d)", n, r.Fallbacks())
	}
}
