// Package pgcluster runs throwaway PostgreSQL clusters from the installed
// binaries (initdb and postgres), for tests: cmd/testenv runs the test
// suite against one when no server answers, and fault tests start one of
// their own that they can stop and start again without disturbing others.
//
// A cluster lives in a new temporary directory (data, unix socket and log),
// listens on a free port of 127.0.0.1 with trust authentication, and trades
// durability for speed (fsync off). As root it runs as the user postgres (or
// nobody), since PostgreSQL refuses to run as root.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Timeouts of Start and Stop when the context sets no deadline.
const (
	StartTimeout = 60 * time.Second
	StopTimeout  = 30 * time.Second
)

// Cluster is one throwaway PostgreSQL cluster. Its methods are safe for
// concurrent use.
type Cluster struct {
	// Dir holds the data directory, the unix socket and postgres.log.
	Dir string
	// Port is the TCP port on 127.0.0.1, the same across restarts.
	Port int
	// Owner names the account the server runs as.
	Owner string

	bin   string
	owner *owner

	mu     sync.Mutex
	server *exec.Cmd
	exited chan struct{}
}

// FindBinaries returns the directory holding initdb and postgres, preferring
// PATH, then the newest /usr/lib/postgresql/<version>/bin (Debian, Ubuntu),
// then /usr/local/pgsql/bin. It returns "" if there is none.
func FindBinaries() string {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		// Follow a symlink (such as /usr/local/bin/initdb) to the directory
		// that holds the matching postgres.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.Slice(versioned, func(i, j int) bool { return major(versioned[i]) > major(versioned[j]) })
	dirs = append(dirs, versioned...)
	dirs = append(dirs, "/usr/local/pgsql/bin")
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Create makes a new cluster with the binaries in bin (see FindBinaries) in
// a new temporary directory and picks its port. It does not start it.
// Remove deletes it.
func Create(bin string) (c *Cluster, err error) {
	o, err := clusterOwner()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "keyward-pg-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := o.own(dir); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	initdb := o.command(dir, filepath.Join(bin, "initdb"),
		"-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Stdout, initdb.Stderr = &out, &out
	if err := initdb.Run(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, strings.TrimSpace(out.String()))
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return &Cluster{Dir: dir, Port: port, Owner: o.name, bin: bin, owner: o}, nil
}

// URL is the postgres:// URL of database db on the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Addr is the cluster's host:port.
func (c *Cluster) Addr() string { return fmt.Sprintf("127.0.0.1:%d", c.Port) }

// Start starts the server and waits until it answers, until ctx is done or
// for StartTimeout. Starting a running cluster does nothing.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.server != nil {
		return nil
	}
	logPath := filepath.Join(c.Dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close() // the server keeps its own descriptor
	if err := c.owner.own(logPath); err != nil {
		return err
	}
	// Durability is traded for speed: the cluster lives for one test run.
	server := c.owner.command(c.Dir, filepath.Join(c.bin, "postgres"),
		"-D", filepath.Join(c.Dir, "data"), "-p", strconv.Itoa(c.Port), "-k", c.Dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	server.Stdout, server.Stderr = logFile, logFile
	if err := server.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = server.Wait()
		close(exited)
	}()
	c.server, c.exited = server, exited

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, StartTimeout)
		defer cancel()
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			c.server = nil
			logText, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres exited during start-up:\n%s", lastLines(string(logText), 20))
		case <-ctx.Done():
			c.stopLocked()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("postgres did not answer on %s in time", c.Addr())
			}
			return ctx.Err()
		case <-tick.C:
			if Probe(ctx, c.URL("postgres")) == nil {
				return nil
			}
		}
	}
}

// Stop shuts the server down (fast shutdown: open connections are ended)
// and waits for it to exit, keeping the data for a later Start. Stopping a
// stopped cluster does nothing.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked()
}

func (c *Cluster) stopLocked() {
	if c.server == nil {
		return
	}
	if err := c.server.Process.Signal(os.Interrupt); err != nil { // fast shutdown
		_ = c.server.Process.Kill()
	}
	select {
	case <-c.exited:
	case <-time.After(StopTimeout):
		_ = c.server.Process.Kill()
		<-c.exited
	}
	c.server = nil
}

// Running reports whether the server was started and has not been stopped.
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.server != nil
}

// Remove stops the server and deletes the cluster's directory.
func (c *Cluster) Remove() error {
	c.Stop()
	return os.RemoveAll(c.Dir)
}

// Probe reports whether url accepts a connection and a query within 2
// seconds.
func Probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
