package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/testdb"
)

const (
	// localURL is the PostgreSQL that developer machines and CI usually run.
	localURL  = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	localAddr = "127.0.0.1:5432"

	// envSkipLocal, when set to anything but "" or "0", makes testenv pass
	// over the server on 127.0.0.1:5432 (to exercise the throwaway cluster).
	envSkipLocal = "KEYWARD_TESTENV_SKIP_LOCAL"

	probeTimeout = 2 * time.Second
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// errAborted reports that a signal arrived before the command started.
var errAborted = errors.New("interrupted before the command started")

// database is the PostgreSQL handed to the command.
type database struct {
	url  string // exported as TEST_DATABASE_URL
	addr string // host:port, for log lines (a URL may carry a password)
	note string // how it was found, for the log line
	stop func() // stops and deletes a throwaway cluster; nil otherwise
}

func (d *database) close() {
	if d.stop != nil {
		d.stop()
	}
}

// findPostgres resolves the PostgreSQL for the run as the package doc says.
// A signal on abort stops a cluster that is being started.
func findPostgres(abort <-chan struct{}) (*database, error) {
	if url := os.Getenv(testdb.EnvURL); url != "" {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			// pgx leaves passwords out of its parse errors.
			return nil, fmt.Errorf("%s is not a PostgreSQL URL: %w\n%s", testdb.EnvURL, err, testdb.HowTo)
		}
		addr := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
		if err := probe(url); err != nil {
			return nil, fmt.Errorf("%s points at %s, which does not answer: %w\n%s", testdb.EnvURL, addr, err, testdb.HowTo)
		}
		return &database{url: url, addr: addr, note: " (from " + testdb.EnvURL + ")"}, nil
	}

	if v := os.Getenv(envSkipLocal); v != "" && v != "0" {
		log.Printf("%s is set: not trying %s", envSkipLocal, localAddr)
	} else if err := probe(localURL); err != nil {
		log.Printf("no PostgreSQL answers at %s: %v", localAddr, err)
	} else {
		return &database{url: localURL, addr: localAddr}, nil
	}

	bin := findBinaries()
	if bin == "" {
		return nil, fmt.Errorf("no PostgreSQL for the tests: %s is not set, none answers at %s, "+
			"and no PostgreSQL binaries (initdb, postgres) are in PATH or /usr/lib/postgresql/*/bin.\n%s",
			testdb.EnvURL, localAddr, testdb.HowTo)
	}
	return startCluster(bin, abort)
}

// probe reports whether url accepts a connection and a query within probeTimeout.
func probe(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// findBinaries returns the directory holding initdb and postgres, preferring
// PATH, then the newest /usr/lib/postgresql/<version>/bin (Debian, Ubuntu).
// It returns "" if there is none.
func findBinaries() string {
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

// startCluster creates a cluster with the binaries in bin in a new temporary
// directory, starts it on a free port of 127.0.0.1 with its unix socket in
// that directory, and waits until it answers. The returned database's stop
// shuts it down and removes the directory.
func startCluster(bin string, abort <-chan struct{}) (db *database, err error) {
	owner, err := clusterOwner()
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
	if err := owner.own(dir); err != nil {
		return nil, err
	}
	log.Printf("starting a throwaway PostgreSQL from %s in %s as user %s", bin, dir, owner.name)

	data := filepath.Join(dir, "data")
	var out bytes.Buffer
	initdb := owner.command(dir, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Stdout, initdb.Stderr = &out, &out
	if err := initdb.Run(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, strings.TrimSpace(out.String()))
	}

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the server keeps its own descriptor
	// Durability is traded for speed: the cluster lives for one test run.
	server := owner.command(dir, filepath.Join(bin, "postgres"),
		"-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	server.Stdout, server.Stderr = logFile, logFile
	if err := server.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = server.Wait()
		close(exited)
	}()
	stop := func() {
		if err := server.Process.Signal(os.Interrupt); err != nil { // fast shutdown
			_ = server.Process.Kill()
		}
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = server.Process.Kill()
			<-exited
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Printf("remove %s: %v", dir, err)
			return
		}
		log.Printf("stopped the throwaway PostgreSQL and removed %s", dir)
	}

	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.After(startTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			logText, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres exited during start-up:\n%s", strings.TrimSpace(string(logText)))
		case <-abort:
			stop()
			return nil, errAborted
		case <-deadline:
			stop()
			return nil, fmt.Errorf("postgres did not answer within %s on 127.0.0.1:%d", startTimeout, port)
		case <-tick.C:
			if probe(url) == nil {
				return &database{
					url:  url,
					addr: fmt.Sprintf("127.0.0.1:%d", port),
					note: " (throwaway cluster, deleted afterwards)",
					stop: stop,
				}, nil
			}
		}
	}
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
