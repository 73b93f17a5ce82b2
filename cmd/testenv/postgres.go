package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/pgcluster"
	"github.com/keyward/keyward/internal/testdb"
)

const (
	// localURL is the PostgreSQL that developer machines and CI usually run.
	localURL  = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	localAddr = "127.0.0.1:5432"

	// envSkipLocal, when set to anything but "" or "0", makes testenv pass
	// over the server on 127.0.0.1:5432 (to exercise the throwaway cluster).
	envSkipLocal = "KEYWARD_TESTENV_SKIP_LOCAL"

	startTimeout = pgcluster.StartTimeout
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

	bin := pgcluster.FindBinaries()
	if bin == "" {
		return nil, fmt.Errorf("no PostgreSQL for the tests: %s is not set, none answers at %s, "+
			"and no PostgreSQL binaries (initdb, postgres) are in PATH or /usr/lib/postgresql/*/bin.\n%s",
			testdb.EnvURL, localAddr, testdb.HowTo)
	}
	return startCluster(bin, abort)
}

// probe reports whether url accepts a connection and a query within probeTimeout.
func probe(url string) error {
	return pgcluster.Probe(context.Background(), url)
}

// startCluster creates a cluster with the binaries in bin and starts it (see
// internal/pgcluster). The returned database's stop shuts it down and
// removes its directory. A signal on abort stops a cluster being started.
func startCluster(bin string, abort <-chan struct{}) (*database, error) {
	c, err := pgcluster.Create(bin)
	if err != nil {
		return nil, err
	}
	log.Printf("starting a throwaway PostgreSQL from %s in %s as user %s", bin, c.Dir, c.Owner)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	go func() {
		select {
		case <-abort:
			cancel()
		case <-ctx.Done():
		}
	}()
	stop := func() {
		if err := c.Remove(); err != nil {
			log.Printf("remove %s: %v", c.Dir, err)
			return
		}
		log.Printf("stopped the throwaway PostgreSQL and removed %s", c.Dir)
	}
	if err := c.Start(ctx); err != nil {
		stop()
		select {
		case <-abort:
			return nil, errAborted
		default:
		}
		return nil, err
	}
	return &database{
		url:  c.URL("postgres"),
		addr: c.Addr(),
		note: " (throwaway cluster, deleted afterwards)",
		stop: stop,
	}, nil
}
