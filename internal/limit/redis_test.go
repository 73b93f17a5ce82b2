package limit_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testredis"
)

// Concurrent requests are decided in batches, one call to Redis for the
// requests that were waiting, and every key's limit still holds exactly.
func TestRedisDecidesInBatches(t *testing.T) {
	rdb, prefix := testredis.Client(t)
	r := limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: prefix})
	t.Cleanup(r.Close)
	const keys, limitPer, workers, each = 8, 20, 64, 10
	lim := model.RateLimit{Limit: limitPer, Period: model.RatePerHour}
	var admitted [keys]atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			for range each {
				k := rnd.IntN(keys)
				if r.Allow(context.Background(), int64(k+1), lim, time.Now()).Allowed {
					admitted[k].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if r.Fallbacks() != 0 {
		t.Fatalf("%d requests fell back to the in-process limiter", r.Fallbacks())
	}
	total := int64(0)
	for k := range admitted {
		n := admitted[k].Load()
		total += n
		if n > limitPer {
			t.Errorf("key %d: %d admitted, limit %d", k+1, n, limitPer)
		}
	}
	// 640 requests over 8 keys: each key got far more than 20, so each
	// admitted exactly 20 (a key short of it would be a lost decision).
	if total != keys*limitPer {
		t.Fatalf("admitted %d in all, want %d", total, keys*limitPer)
	}
	if b := r.Batches(); b == 0 || b > workers*each/2 {
		t.Fatalf("%d calls to Redis for %d requests from %d goroutines: not batched", b, workers*each, workers)
	}
	t.Logf("%d requests in %d calls to Redis", workers*each, r.Batches())
}

// Redis's answer says what the in-process limiter says: what remains,
// when to retry, when the bucket is full again.
func TestRedisResultMatchesInProcess(t *testing.T) {
	rdb, prefix := testredis.Client(t)
	shared := limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: prefix})
	t.Cleanup(shared.Close)
	local := limit.NewRates(limit.RateOptions{})
	lim := model.RateLimit{Limit: 3, Period: model.RatePerMinute}
	now := time.Now()
	near := func(a, b time.Duration) bool { d := a - b; return d > -time.Second && d < time.Second }
	for i := range 4 {
		got := shared.Allow(context.Background(), 9, lim, now)
		want := local.Allow(context.Background(), 9, lim, now)
		if got.Allowed != want.Allowed || got.Remaining != want.Remaining || got.Limit != want.Limit ||
			got.Period != want.Period || !near(got.RetryAfter, want.RetryAfter) || !near(got.Reset, want.Reset) {
			t.Fatalf("request %d: Redis %+v, in process %+v", i+1, got, want)
		}
	}
}

// Buckets are kept as earlier versions kept them (the redis_rate
// library's encoding, under the same keys), so that instances of both
// share one limit while a deployment rolls: a bucket one of them wrote,
// one period ahead, refuses the other's next request.
func TestRedisBucketEncoding(t *testing.T) {
	rdb, prefix := testredis.Client(t)
	r := limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: prefix})
	t.Cleanup(r.Close)
	lim := model.RateLimit{Limit: 2, Period: model.RatePerHour}
	ctx := context.Background()
	if !r.Allow(ctx, 5, lim, time.Now()).Allowed {
		t.Fatal("first request refused")
	}
	key := "rate:" + prefix + ":5:" + lim.String()
	v, err := rdb.Get(ctx, key).Result()
	if err != nil {
		t.Fatalf("bucket %s: %v", key, err)
	}
	tat, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("bucket holds %q, want seconds since 2017", v)
	}
	since2017 := float64(time.Now().Unix() - 1483228800)
	if d := tat - (since2017 + 1800); d < -5 || d > 5 {
		t.Fatalf("bucket holds %.3f, want now + one interval (%.0f + 1800 s)", tat, since2017)
	}
	// Another instance's bucket, a minute short of letting the next
	// request in (its TAT one interval and a minute ahead).
	if err := rdb.Set(ctx, key, strconv.FormatFloat(since2017+1800+60, 'f', 6, 64), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	res := r.Allow(ctx, 5, lim, time.Now())
	if res.Allowed || res.RetryAfter < 59*time.Second || res.RetryAfter > 63*time.Second {
		t.Fatalf("against a full bucket: %+v, want refused for about a minute", res)
	}
}

// After Close the limiter still answers, in process.
func TestRatesAfterClose(t *testing.T) {
	rdb, prefix := testredis.Client(t)
	r := limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: prefix})
	r.Close()
	lim := model.RateLimit{Limit: 1, Period: model.RatePerHour}
	if !r.Allow(context.Background(), 1, lim, time.Now()).Allowed || r.Allow(context.Background(), 1, lim, time.Now()).Allowed {
		t.Fatal("after Close the in-process limiter did not decide")
	}
	if r.Degraded() || r.Outages() != 0 {
		t.Fatal("Close taken for a Redis outage")
	}
}

// slowRedis delays every command the client sends, as a Redis that takes
// its time to answer would.
type slowRedis struct{ d time.Duration }

func (slowRedis) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h slowRedis) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		time.Sleep(h.d)
		return next(ctx, cmd)
	}
}

func (slowRedis) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// slowRates returns rate limits shared through a Redis of the test's own
// whose every call, once the script is loaded, takes delay; timeout is
// the limiter's. lim is a limit the tests never reach.
func slowRates(t *testing.T, timeout, delay time.Duration) (*redis.Client, string, *limit.Rates, model.RateLimit) {
	t.Helper()
	rdb, prefix := testredis.Client(t)
	r := limit.NewRates(limit.RateOptions{Redis: rdb, Prefix: prefix, Timeout: timeout})
	t.Cleanup(r.Close)
	lim := model.RateLimit{Limit: 100, Period: model.RatePerHour}
	r.Allow(context.Background(), 1, lim, time.Now()) // the script is loaded
	rdb.AddHook(slowRedis{delay})
	return rdb, prefix, r, lim
}

// A Redis that answers each call in 150 ms, within the 250 ms timeout, is
// not failing, even when requests wait for a worker before their call is
// sent (150 ms, then 150 ms more in Redis): their wait is not the call's.
func TestSlowRedisIsNoOutage(t *testing.T) {
	_, _, r, lim := slowRates(t, 250*time.Millisecond, 150*time.Millisecond)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.Allow(context.Background(), 1, lim, time.Now()).Allowed {
				admitted.Add(1)
			}
		}()
	}
	wg.Wait()
	if r.Degraded() || r.Outages() != 0 || r.Fallbacks() != 0 {
		t.Fatalf("a slow Redis taken for a failing one: degraded %v, outages %d, fallbacks %d", r.Degraded(), r.Outages(), r.Fallbacks())
	}
	if admitted.Load() != 64 {
		t.Fatalf("%d of 64 admitted", admitted.Load())
	}
}

// A request whose caller leaves while it waits for a worker is never
// sent: it spends nothing in Redis.
func TestAbandonedRequestIsNotSent(t *testing.T) {
	rdb, prefix, r, lim := slowRates(t, 2*time.Second, 400*time.Millisecond)
	// Four requests, apart, so that each of the four workers takes one.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Allow(context.Background(), int64(10+i), lim, time.Now())
		}()
		time.Sleep(20 * time.Millisecond)
	}
	// A fifth waits for one of them; its caller leaves.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		r.Allow(ctx, 99, lim, time.Now())
		done <- time.Since(start)
	}()
	time.Sleep(30 * time.Millisecond)
	cancel()
	if took := <-done; took > 200*time.Millisecond {
		t.Fatalf("the caller that left waited %v", took)
	}
	wg.Wait()
	time.Sleep(100 * time.Millisecond) // the workers have drained the queue
	n, err := rdb.Exists(context.Background(), "rate:"+prefix+":99:"+lim.String()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("the abandoned request was sent to Redis and spent a request of key 99")
	}
}
