// Package testredis gives tests a real Redis: the server on 127.0.0.1:6379
// when it answers (each test under a key prefix of its own), else a
// redis-server started from the installed binary on a free port. Without
// either a test fails, saying how to get one; it never skips.
package testredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultAddr is where a developer's or CI's Redis usually listens.
const DefaultAddr = "127.0.0.1:6379"

const howTo = "the rate-limit tests need a real Redis: run one on 127.0.0.1:6379, or install redis-server " +
	"(Debian: apt-get install redis-server) so that the tests can start their own"

var shared struct {
	once sync.Once
	addr string
	err  error
	srv  *Server
}

// Client returns a client of a Redis the test may use, and a key prefix
// no other test uses. The client is closed when the test ends.
func Client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	shared.once.Do(func() {
		if ping(DefaultAddr) == nil {
			shared.addr = DefaultAddr
			return
		}
		// One server for the whole test binary; it goes with the process.
		shared.srv, shared.err = start("")
		if shared.err == nil {
			shared.addr = shared.srv.Addr
		}
	})
	if shared.err != nil {
		t.Fatalf("no Redis: %v; %s", shared.err, howTo)
	}
	c := redis.NewClient(&redis.Options{Addr: shared.addr})
	t.Cleanup(func() { c.Close() })
	return c, Prefix()
}

// Prefix returns a fresh key prefix ("kwtest-<random>").
func Prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "kwtest-" + hex.EncodeToString(b[:])
}

// Server is a redis-server the test started and may stop and start again
// (on the same address), to see what an outage does.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	mu   sync.Mutex
}

// Start starts a redis-server of the test's own on a free port and stops it
// when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start("")
	if err != nil {
		t.Fatalf("cannot start redis-server: %v; %s", err, howTo)
	}
	t.Cleanup(s.Stop)
	return s
}

func start(addr string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	if addr == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr = l.Addr().String()
		l.Close()
	}
	s := &Server{Addr: addr}
	return s, s.run(bin)
}

func (s *Server) run(bin string) error {
	_, port, _ := net.SplitHostPort(s.Addr)
	if _, err := strconv.Atoi(port); err != nil {
		return fmt.Errorf("address %q", s.Addr)
	}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--daemonize", "no")
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for ping(s.Addr) != nil {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("redis-server on %s did not answer within 10s", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	return nil
}

// Stop kills the server (an outage, as far as clients can tell).
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// Restart starts the server again on the same address.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		err = s.run(bin)
	}
	if err != nil {
		t.Fatalf("cannot restart redis-server on %s: %v", s.Addr, err)
	}
}

func ping(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 300 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	return c.Ping(ctx).Err()
}
