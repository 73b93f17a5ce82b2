package limit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript decides a batch of requests, each against its own key's
// bucket, in one call: KEYS[i] is a bucket, ARGV[2i-1] its limit (requests
// per period, which is also the burst) and ARGV[2i] its period in
// microseconds. It answers four integers per request: allowed (1 or 0),
// remaining, retry after and reset after (microseconds).
//
// A bucket holds its theoretical arrival time (TAT): seconds since
// 2017-01-01 UTC, as a float. A request is allowed when the TAT after it
// is at most one period ahead of now, which allows a burst of the limit
// and then one request every period/limit. Time is Redis's own (TIME), so
// instances with skewed clocks still share one limit; keys expire once
// their bucket is full again. The encoding is the one the redis_rate
// library writes under the same "rate:" keys, which earlier versions of
// keyward used, so that instances of both versions count the same buckets
// while a deployment rolls.
const gcraScript = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1483228800) + tonumber(t[2]) / 1000000
local out = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i]) / 1000000
  local interval = period / limit
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local next = tat + interval
  local diff = now - (next - period)
  if diff < 0 then
    out[#out + 1] = 0
    out[#out + 1] = 0
    out[#out + 1] = math.ceil(-diff * 1000000)
    out[#out + 1] = math.ceil((tat - now) * 1000000)
  else
    local reset = next - now
    redis.call('SET', key, next, 'EX', math.ceil(reset))
    out[#out + 1] = 1
    out[#out + 1] = math.floor(diff / interval + 1e-9)
    out[#out + 1] = 0
    out[#out + 1] = math.ceil(reset * 1000000)
  end
end
return out`

// Batching. Each decision is one request to Redis's script; sent one by
// one, every request pays a round trip and a script call of its own, and at
// a few thousand requests a second Redis's answers, not keyward's work,
// set the pace. The batcher's workers each take whatever requests are
// waiting (up to maxBatch) and decide them in one call, so a busy instance
// sends few, full calls and a quiet one sends each request at once: a
// request never waits for a batch to fill, only, when every worker is
// busy, for one of them to come back.
const (
	redisWorkers = 4
	maxBatch     = 128
	queueLen     = 1024
)

// rateCall is one request waiting for Redis's decision.
type rateCall struct {
	key    string
	limit  int64
	period time.Duration
	// state is callQueued until a worker takes the call into a batch
	// (callTaken) or its caller gives up on it first (callDropped): a
	// dropped call is never sent, so it spends nothing in Redis.
	state atomic.Int32
	reply chan rateReply // buffered: a worker never waits for a caller
	// timer bounds the wait for a worker (the batcher's timeout).
	timer *time.Timer
}

const (
	callQueued int32 = iota
	callTaken
	callDropped
)

type rateReply struct {
	res RateResult
	err error
}

var callPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &rateCall{reply: make(chan rateReply, 1), timer: t}
}}

// batcher sends rate limit decisions to Redis in batches.
type batcher struct {
	rdb     redis.Scripter
	script  *redis.Script
	timeout time.Duration
	calls   chan *rateCall
	quit    chan struct{}
	stop    sync.Once
	wg      sync.WaitGroup
	batches atomic.Int64
}

func newBatcher(rdb redis.Scripter, timeout time.Duration) *batcher {
	b := &batcher{rdb: rdb, script: redis.NewScript(gcraScript), timeout: timeout,
		calls: make(chan *rateCall, queueLen), quit: make(chan struct{})}
	for range redisWorkers {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// errClosed answers requests made after close.
var errClosed = errors.New("rate limits: closed")

// errBusy answers a request that no worker took within the timeout (every
// one was waiting on Redis): it was never sent, and says nothing of Redis
// that the calls being waited on will not say.
var errBusy = errors.New("rate limits: no Redis worker free within the timeout")

// allow asks Redis to spend one request of the bucket at key. A request no
// worker takes within the timeout is dropped, never sent (errBusy); once
// taken, its answer comes within the worker's own timeout for the call.
// A caller that goes away (ctx) leaves at once.
func (b *batcher) allow(ctx context.Context, key string, limit int64, period time.Duration) (RateResult, error) {
	if err := ctx.Err(); err != nil {
		return RateResult{}, err
	}
	c := callPool.Get().(*rateCall)
	c.key, c.limit, c.period = key, limit, period
	c.state.Store(callQueued)
	c.timer.Reset(b.timeout)
	select {
	case b.calls <- c:
	case <-c.timer.C:
		callPool.Put(c)
		return RateResult{}, errBusy
	case <-ctx.Done():
		c.timer.Stop()
		callPool.Put(c)
		return RateResult{}, ctx.Err()
	case <-b.quit:
		c.timer.Stop()
		callPool.Put(c)
		return RateResult{}, errClosed
	}
	for {
		select {
		case r := <-c.reply:
			// The reply was taken: nothing refers to c any more.
			c.timer.Stop()
			callPool.Put(c)
			return r.res, r.err
		case <-c.timer.C:
			if c.state.CompareAndSwap(callQueued, callDropped) {
				// Still in the queue: the worker that takes it skips it.
				// It is left to the collector, not put back.
				return RateResult{}, errBusy
			}
			// In a batch that Redis is deciding: wait for the answer.
		case <-ctx.Done():
			// Queued or in a batch, c may still be read and answered: it
			// is left to the collector, not put back.
			c.state.CompareAndSwap(callQueued, callDropped)
			return RateResult{}, ctx.Err()
		case <-b.quit:
			return RateResult{}, errClosed
		}
	}
}

// work decides batches until close: it waits for a call, takes every
// other call already waiting (up to maxBatch), skipping those whose
// callers gave up, and answers them from one run of the script.
func (b *batcher) work() {
	defer b.wg.Done()
	batch := make([]*rateCall, 0, maxBatch)
	keys := make([]string, 0, maxBatch)
	args := make([]any, 0, 2*maxBatch)
	for {
		var c *rateCall
		select {
		case c = <-b.calls:
		case <-b.quit:
			return
		}
		batch = batch[:0]
	fill:
		for {
			// A call its caller gave up on is never sent, so a backlog
			// left by a slow Redis spends nothing.
			if c.state.CompareAndSwap(callQueued, callTaken) {
				batch = append(batch, c)
			}
			if len(batch) == maxBatch {
				break
			}
			select {
			case c = <-b.calls:
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			continue
		}
		keys, args = keys[:0], args[:0]
		for _, c := range batch {
			keys = append(keys, c.key)
			args = append(args, strconv.FormatInt(c.limit, 10), strconv.FormatInt(c.period.Microseconds(), 10))
		}
		v, err := b.decide(keys, args)
		for i, c := range batch {
			r := rateReply{err: err}
			if err == nil {
				o := v[4*i:]
				r.res = RateResult{Allowed: o[0] == 1, Remaining: o[1],
					RetryAfter: time.Duration(o[2]) * time.Microsecond, Reset: time.Duration(o[3]) * time.Microsecond}
			}
			c.reply <- r
			batch[i] = nil
		}
		clear(args)
	}
}

// decide runs the script on one batch: four integers per key (see
// gcraScript).
func (b *batcher) decide(keys []string, args []any) ([]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	b.batches.Add(1)
	v, err := b.script.Run(ctx, b.rdb, keys, args...).Int64Slice()
	if err == nil && len(v) != 4*len(keys) {
		err = fmt.Errorf("rate limit script answered %d values for %d keys", len(v), len(keys))
	}
	return v, err
}

// close stops the workers; requests made after it are refused with
// errClosed (and decided in process by Rates).
func (b *batcher) close() {
	b.stop.Do(func() { close(b.quit) })
	b.wg.Wait()
}
