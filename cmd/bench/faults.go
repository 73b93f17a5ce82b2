package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/keys"
)

// floodResult is a valid key's latency on A at a steady rate, quiet and
// while a flood of well-formed unknown keys hits the same instance.
type floodResult struct {
	// Rate is the valid requests' rate (open loop), FloodRate the bad
	// keys' (open loop, from Sources loopback addresses in turn).
	Rate, FloodRate float64
	// BadKeys is how many distinct unknown keys the flood cycles through.
	BadKeys int `json:"bad_keys"`
	Sources int `json:"sources"`
	// Quiet and Flooded are the valid key's latency in each phase.
	Quiet   figures `json:"quiet"`
	Flooded figures `json:"flooded"`
	// FloodAnswers counts the flood's answers by status.
	FloodAnswers map[int]int64 `json:"flood_answers"`
	// Ratio is the median of the cycles' ratios (a flooded slice's p99
	// over the quiet slice's beside it), as the throughput ratios are
	// taken: a burst of other work on the machine (autovacuum after the
	// API rounds, another instance's flush) during one slice moves one
	// ratio, not the result. PooledRatio is the p99 of all flooded
	// requests over that of all quiet ones.
	Ratio       float64   `json:"p99_ratio"`
	Cycles      []float64 `json:"cycle_ratios"`
	PooledRatio float64   `json:"pooled_p99_ratio"`
}

// floodRate is DESIGN.md's flood: 1,000 bad keys per second from rotating
// addresses.
const floodRate = 1000

// measureFlood runs cycles of a quiet slice and a flooded slice of valid
// requests on A (cached whoami at rate, open loop), and compares their p99.
// The flood sends well-formed keys with valid checksums that do not exist,
// cycling through badKeys of them (each sent once before measuring, so
// that the flood is measured in its steady state: a key that is sent again
// within a few seconds is answered from the "not found" cache; each
// distinct key costs one PostgreSQL lookup), each request from the next of many
// loopback addresses (so that the per-address limit on failed checks does
// not answer for the verifier), where the machine allows it.
func measureFlood(ctx context.Context, a *instance, loadKeys []string, set settings, cycles int, slice time.Duration) (floodResult, error) {
	const conns, rate, badKeys = 8, 400.0, 2000
	res := floodResult{Rate: rate, FloodRate: floodRate, BadKeys: badKeys, FloodAnswers: map[int]int64{}}
	bad := make([]string, badKeys)
	for i := range bad {
		k, err := keys.Generate("kw", "live")
		if err != nil {
			return res, err
		}
		bad[i] = k
	}
	// Sources: enough addresses that none spends its burst of failed
	// checks (30 per address) in the flood's whole duration.
	sources := []*http.Client{newClient(4)}
	if canBindLoopback(ctx, a.url) {
		total := float64(floodRate)*float64(cycles)*(slice.Seconds()+0.2) + badKeys + 200
		n := min(2000, int(total/20)+1)
		sources = make([]*http.Client, n)
		for i := range sources {
			sources[i] = clientFrom(net.IPv4(127, 0, 20+byte(i/250), 1+byte(i%250)))
		}
	}
	res.Sources = len(sources)
	defer func() {
		for _, c := range sources {
			c.CloseIdleConnections()
		}
	}()
	valid := target{tWhoami, perConn(set, a.url, "/v1/whoami", http.MethodGet, nil, loadKeys), http.StatusOK}
	hc := newClient(conns)
	defer hc.CloseIdleConnections()
	var quiet, flooded accum
	var mu sync.Mutex
	// flood sends the bad keys at floodRate until the returned function is
	// called, which waits for it to end.
	flood := func() (stop func()) {
		fctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var sent atomic.Int64
		const floodConns = 16
		every := time.Duration(float64(floodConns) / floodRate * float64(time.Second))
		start := time.Now()
		for c := range floodConns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := map[int]int64{}
				// One request and one timer per sender, reused (a request
				// may be sent again once its answer's body is closed): the
				// flood's own garbage would otherwise set the pace of
				// garbage collection in this process, which the measured
				// instance shares.
				req, _ := http.NewRequestWithContext(fctx, http.MethodGet, a.url+"/v1/whoami", nil)
				key := []string{""}
				req.Header["X-Api-Key"] = key
				timer := time.NewTimer(time.Hour)
				defer timer.Stop()
				for j := 0; fctx.Err() == nil; j++ {
					if wait := time.Until(start.Add(every*time.Duration(j) + every*time.Duration(c)/floodConns)); wait > 0 {
						timer.Reset(wait)
						select {
						case <-fctx.Done():
						case <-timer.C:
						}
						if fctx.Err() != nil {
							break
						}
					}
					n := sent.Add(1)
					key[0] = bad[int(n)%len(bad)]
					resp, err := sources[int(n)%len(sources)].Do(req)
					if err != nil {
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					local[resp.StatusCode]++
				}
				mu.Lock()
				for k, v := range local {
					res.FloodAnswers[k] += v
				}
				mu.Unlock()
			}()
		}
		return func() { cancel(); wg.Wait() }
	}
	// Every bad key once before measuring: the steady state of a flood
	// that repeats its keys.
	stop := flood()
	time.Sleep(time.Duration(float64(len(bad))/floodRate*float64(time.Second)) + 200*time.Millisecond)
	stop()
	// Each cycle is a quiet and a flooded slice, in turn first, so that
	// neither always follows the other.
	quietSlice := func() (time.Duration, error) {
		s, err := runLoad(ctx, hc, valid, conns, slice, rate)
		quiet.add(s)
		return p99Of(s), err
	}
	floodedSlice := func() (time.Duration, error) {
		stop := flood()
		time.Sleep(200 * time.Millisecond) // the flood under way
		s, err := runLoad(ctx, hc, valid, conns, slice, rate)
		stop()
		flooded.add(s)
		return p99Of(s), err
	}
	for c := range cycles {
		first, second := quietSlice, floodedSlice
		if c%2 == 1 {
			first, second = floodedSlice, quietSlice
		}
		a, err := first()
		if err != nil {
			return res, err
		}
		b, err := second()
		if err != nil {
			return res, err
		}
		q, f := a, b
		if c%2 == 1 {
			q, f = b, a
		}
		if q > 0 {
			res.Cycles = append(res.Cycles, float64(f)/float64(q))
		}
	}
	res.Quiet, res.Flooded = quiet.figures(), flooded.figures()
	if res.Quiet.P99ms > 0 {
		res.PooledRatio = res.Flooded.P99ms / res.Quiet.P99ms
	}
	res.Ratio = median(res.Cycles)
	return res, nil
}

// floodOnly is BENCH_ONLY=flood: the flood measured on its own, right
// after seeding, once per round, each printed as the full run prints it.
func floodOnly(ctx context.Context, g keyGen, set settings, a *instance) error {
	load, _ := loadAndRestricted(set)
	loadKeys := g.raws(load)
	if err := touchKeys(ctx, []string{a.url}, loadKeys, set.Conns); err != nil {
		return err
	}
	var ratios []float64
	for r := range set.Rounds {
		f, err := measureFlood(ctx, a, loadKeys, set, set.Cycles, 2*time.Second)
		if err != nil {
			return err
		}
		fmt.Printf("flood, run %d: p99 %.2f ms quiet, %.2f ms under %.0f unknown keys/s: %.2f× over all slices; median of %d cycles %.2f× (per cycle %s)\n",
			r+1, f.Quiet.P99ms, f.Flooded.P99ms, f.FloodRate, f.PooledRatio, len(f.Cycles), f.Ratio, ratioList(f.Cycles))
		ratios = append(ratios, f.Ratio)
	}
	fmt.Printf("flood_p99_ratio=%.2f\n", median(ratios))
	return nil
}

// measureRevocationsSaturated is measureRevocations while A and B are
// both driven flat out (cached whoami, closed loop, conns connections
// each): how long B accepts a key revoked on A when the machine has no
// idle core to run B's listener on.
func measureRevocationsSaturated(ctx context.Context, a, b *instance, adminKey string, ids, raws, loadKeys []string, set settings) (revokeResult, error) {
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, in := range []*instance{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := target{tWhoami, perConn(set, in.url, "/v1/whoami", http.MethodGet, nil, loadKeys), http.StatusOK}
			hc := newClient(set.Conns)
			defer hc.CloseIdleConnections()
			for lctx.Err() == nil {
				_, _ = runLoad(lctx, hc, t, set.Conns, time.Second, 0)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond) // both saturated
	res, err := measureRevocations(ctx, a, b, adminKey, ids, raws)
	stop()
	wg.Wait()
	return res, err
}

// p99Of is the 99th percentile of one slice's latencies.
func p99Of(s sample) time.Duration {
	lat := slices.Clone(s.lat)
	sortDurations(lat)
	return percentile(lat, 0.99)
}
