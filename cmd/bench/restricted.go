package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// benchAllowlist is the IP allowlist of the restricted load keys: several
// ranges, with the loopback range the load comes from last, so that every
// request walks the list.
var benchAllowlist = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
	"198.18.0.0/15", "203.0.113.0/24", "2001:db8::/32", "fd00::/8", "::1", "127.0.0.0/8"}

// restrictKeys gives the keys with these public ids the restrictions the
// restricted targets measure: the allowlist above, a rate limit that the
// load never reaches (a billion per second) and a quota it never spends (a
// trillion), in one UPDATE.
func restrictKeys(ctx context.Context, dsn string, publicIDs []string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	ips := `["` + strings.Join(benchAllowlist, `","`) + `"]`
	tag, err := conn.Exec(ctx, `UPDATE api_keys SET allowed_ips = $1, rate_limit = 1000000000, rate_period = '1s',
    quota_remaining = 1000000000000, quota_refill_amount = 0, quota_refill_period = '',
    quota_period_start = '0001-01-01T00:00:00Z', quota_version = 1
WHERE public_id = ANY($2)`, ips, publicIDs)
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) != len(publicIDs) {
		return fmt.Errorf("restricted %d keys of %d", tag.RowsAffected(), len(publicIDs))
	}
	return nil
}

// benchRedis returns the URL of a Redis for the shared rate limits: REDIS_URL
// when set, else the one on 127.0.0.1:6379 when it answers, else a
// redis-server started on a free port (stopped by the returned function).
func benchRedis(ctx context.Context) (string, func(), error) {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u, func() {}, nil
	}
	if pingRedis(ctx, "127.0.0.1:6379") == nil {
		return "redis://127.0.0.1:6379", func() {}, nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("the restricted_redis target needs a Redis: set REDIS_URL, run one on 127.0.0.1:6379, or install redis-server (Debian: apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	deadline := time.Now().Add(10 * time.Second)
	for pingRedis(ctx, addr) != nil {
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("redis-server on %s did not answer", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://" + addr, stop, nil
}

func pingRedis(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 300 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	return c.Ping(ctx).Err()
}

// touchKeys calls GET /v1/whoami once with each key on each base URL, over
// conns connections, and fails on any answer but 200.
func touchKeys(ctx context.Context, bases, keys []string, conns int) error {
	hc := newClient(conns)
	defer hc.CloseIdleConnections()
	errs := make(chan error, conns)
	next := make(chan [2]string)
	for range conns {
		go func() {
			var first error
			for job := range next {
				if first != nil {
					continue
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, job[0]+"/v1/whoami", nil)
				if err != nil {
					first = err
					continue
				}
				req.Header.Set("X-API-Key", job[1])
				res, err := hc.Do(req)
				if err != nil {
					first = err
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					first = fmt.Errorf("GET /v1/whoami answered %d", res.StatusCode)
				}
			}
			errs <- first
		}()
	}
	for _, b := range bases {
		for _, k := range keys {
			next <- [2]string{b, k}
		}
	}
	close(next)
	var first error
	for range conns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
