package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// target is one thing to load: requests built per connection.
type target struct {
	name string
	// request returns connection c's j-th request and its body, if any.
	request func(c, j int) (*http.Request, []byte)
	want    int
}

// sample is what one run of a target gave. lat counts from when each
// request was due; sent, in an open loop only, from when it was sent (the
// difference is the load generator's own lateness).
type sample struct {
	start, end time.Time
	requests   int64
	lat, sent  []time.Duration
}

// newClient returns a client that keeps up to conns connections alive to
// one host, like a busy API client.
func newClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns * 2,
			MaxIdleConnsPerHost: conns * 2,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// runLoad sends t's requests from conns connections for d. With rate 0 it
// is a closed loop: each connection sends its next request as soon as the
// answer to the last one is in, so the server runs flat out. With a rate
// (requests per second, all connections together) it is an open loop: each
// connection sends on a fixed schedule, and a request's latency counts from
// when it was due, so a server that falls behind is not flattered
// (no coordinated omission). Any answer other than t.want is an error.
func runLoad(ctx context.Context, hc *http.Client, t target, conns int, d time.Duration, rate float64) (sample, error) {
	var (
		total   atomic.Int64
		failure atomic.Pointer[error]
		wg      sync.WaitGroup
		lat     = make([][]time.Duration, conns)
		sent    = make([][]time.Duration, conns)
	)
	start := time.Now()
	deadline := start.Add(d)
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(10*time.Second))
	defer cancel()
	var every time.Duration
	if rate > 0 {
		every = time.Duration(float64(conns) / rate * float64(time.Second))
	}
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := make([]time.Duration, 0, 1<<12)
			var ls []time.Duration
			for j := 0; ; j++ {
				due := time.Now()
				if every > 0 {
					due = start.Add(every*time.Duration(j) + every*time.Duration(c)/time.Duration(conns))
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
				}
				if due.After(deadline) || failure.Load() != nil {
					break
				}
				req, body := t.request(c, j)
				if body != nil {
					req.Body = io.NopCloser(bytes.NewReader(body))
					req.ContentLength = int64(len(body))
				}
				at := time.Now()
				resp, err := hc.Do(req.WithContext(ctx))
				if err != nil {
					failure.CompareAndSwap(nil, &err)
					break
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != t.want {
					err := fmt.Errorf("%s: %s %s answered %d, want %d", t.name, req.Method, req.URL.Path, resp.StatusCode, t.want)
					failure.CompareAndSwap(nil, &err)
					break
				}
				l = append(l, time.Since(due))
				if every > 0 {
					ls = append(ls, time.Since(at))
				}
			}
			lat[c], sent[c] = l, ls
			total.Add(int64(len(l)))
		}()
	}
	wg.Wait()
	s := sample{start: start, end: time.Now(), requests: total.Load()}
	if e := failure.Load(); e != nil {
		return s, *e
	}
	s.lat = make([]time.Duration, 0, s.requests)
	for c := range lat {
		s.lat = append(s.lat, lat[c]...)
		s.sent = append(s.sent, sent[c]...)
	}
	return s, nil
}

// figures are a target's throughput and latency over several samples.
type figures struct {
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	Ratio    float64 `json:"ratio,omitempty"`
	// Ceiling is the ratio to the bare net/http ceiling.
	Ceiling float64 `json:"ceiling_ratio,omitempty"`
}

// accum adds samples up.
type accum struct {
	requests int64
	elapsed  time.Duration
	lat      []time.Duration
}

func (a *accum) add(s sample) {
	a.requests += s.requests
	a.elapsed += s.end.Sub(s.start)
	a.lat = append(a.lat, s.lat...)
}

func (a *accum) figures() figures {
	sortDurations(a.lat)
	return figures{Requests: a.requests, Seconds: a.elapsed.Seconds(), RPS: float64(a.requests) / a.elapsed.Seconds(),
		P50ms: ms(percentile(a.lat, 0.50)), P99ms: ms(percentile(a.lat, 0.99))}
}
