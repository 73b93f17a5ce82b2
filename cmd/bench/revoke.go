package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// revokeResult is how long instance B kept accepting keys revoked on A.
type revokeResult struct {
	Revocations int     `json:"revocations"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	Maxms       float64 `json:"max_ms"`
	// Source says where B's polls came from: a fresh loopback address per
	// revocation, so that B's limit on failed key checks per IP (30, then
	// one every 2 s) never answers 429 in place of 401.
	Source string `json:"source"`
}

// revokeTimeout is when a revocation counts as never seen by B.
const revokeTimeout = 5 * time.Second

// clientFrom returns a client whose connections come from ip.
func clientFrom(ip net.IP) *http.Client {
	c := newClient(1)
	tr := c.Transport.(*http.Transport)
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}).DialContext
	return c
}

// pollIP is the loopback address of revocation i's polls.
func pollIP(i int) net.IP { return net.IPv4(127, 0, 1+byte(i/250), 1+byte(i%250)) }

// canBindLoopback reports whether connections can come from 127.0.1.x
// (Linux routes all of 127/8 to the loopback interface; others may not).
func canBindLoopback(ctx context.Context, baseURL string) bool {
	c := clientFrom(pollIP(0))
	defer c.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/healthz", nil)
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// measureRevocations revokes each key on A through the API (POST
// /v1/api-keys/{id}/revoke with the admin key) and polls B's /v1/whoami with
// the revoked key, back to back, until B answers 401. The time runs from
// sending the revoke request to receiving B's 401. Each key is used on B
// first, so that B has it cached when it is revoked.
func measureRevocations(ctx context.Context, a, b *instance, adminKey string, ids, raws []string) (revokeResult, error) {
	res := revokeResult{Source: "one loopback address per revocation"}
	bound := canBindLoopback(ctx, b.url)
	if !bound {
		// Stay within B's burst of failed checks from one address.
		ids, raws = ids[:min(len(ids), 25)], raws[:min(len(raws), 25)]
		res.Source = "127.0.0.1 only (cannot bind other loopback addresses here); revocations capped at 25"
	}
	hc := newClient(2)
	defer hc.CloseIdleConnections()
	var lat []time.Duration
	for i := range ids {
		if st, err := call(ctx, hc, http.MethodGet, b.url+"/v1/whoami", raws[i]); err != nil || st != http.StatusOK {
			return res, fmt.Errorf("warm B with key %d: status %d, %v", i, st, err)
		}
		poller := hc
		if bound {
			poller = clientFrom(pollIP(i))
			// Connect before the clock starts, as a client of B already would be.
			if _, err := call(ctx, poller, http.MethodGet, b.url+"/healthz", ""); err != nil {
				return res, err
			}
		}
		start := time.Now()
		st, err := call(ctx, hc, http.MethodPost, a.url+"/v1/api-keys/"+ids[i]+"/revoke", adminKey)
		if err != nil || st != http.StatusOK {
			return res, fmt.Errorf("revoke key %d on A: status %d, %v", i, st, err)
		}
		for {
			st, err := call(ctx, poller, http.MethodGet, b.url+"/v1/whoami", raws[i])
			if err != nil {
				return res, err
			}
			if st == http.StatusUnauthorized {
				lat = append(lat, time.Since(start))
				break
			}
			if st != http.StatusOK {
				return res, fmt.Errorf("poll B after revoking key %d: status %d", i, st)
			}
			if time.Since(start) > revokeTimeout {
				lat = append(lat, revokeTimeout)
				break
			}
		}
		if poller != hc {
			poller.CloseIdleConnections()
		}
	}
	sortDurations(lat)
	res.Revocations = len(lat)
	res.P50ms, res.P99ms, res.Maxms = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99)), ms(lat[len(lat)-1])
	return res, nil
}

// call sends one request with key (if any) and returns the status.
func call(ctx context.Context, hc *http.Client, method, u, key string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, err
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
