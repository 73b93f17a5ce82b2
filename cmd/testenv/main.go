// Command testenv runs a command with a PostgreSQL for the tests.
//
// Usage:
//
//	go run ./cmd/testenv -- <command> [args...]
//
// It finds a PostgreSQL, exports its URL as TEST_DATABASE_URL to the command,
// runs the command with stdin, stdout and stderr passed through, forwards
// SIGINT and SIGTERM to it, and exits with its exit code. The PostgreSQL is,
// in this order:
//
//  1. TEST_DATABASE_URL, if it is set;
//  2. the server on 127.0.0.1:5432 (postgres://postgres@127.0.0.1:5432/test),
//     if it answers within 2 seconds; set KEYWARD_TESTENV_SKIP_LOCAL=1 to
//     pass over it;
//  3. a throwaway cluster started from the installed PostgreSQL binaries
//     (initdb and postgres, found in PATH or /usr/lib/postgresql/*/bin) in a
//     temporary directory, on a free port, with trust authentication; it is
//     stopped and deleted when the command ends. As root, the cluster runs as
//     the user postgres (or nobody), since PostgreSQL refuses to run as root.
//
// If there is none, testenv fails and says how to get one. It logs on stderr,
// each line prefixed with "testenv: ", and never prints passwords.
package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"

	"github.com/keyward/keyward/internal/testdb"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("testenv: ")
	os.Exit(run(os.Args[1:]))
}

// run does the work of main and returns the exit code, so that deferred
// clean-up (stopping a throwaway cluster) happens before the process exits.
func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		log.Print("usage: go run ./cmd/testenv -- <command> [args...]")
		return 2
	}

	// Catch signals from the start: during set-up they abort it (and remove
	// a half-started cluster); once the command runs they are forwarded.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	fwd := &forwarder{abort: make(chan struct{})}
	go fwd.loop(sigs)

	db, err := findPostgres(fwd.abort)
	if err != nil {
		return failure(err)
	}
	defer db.close()
	log.Printf("using PostgreSQL at %s%s", db.addr, db.note)

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), testdb.EnvURL+"="+db.url)
	if err := fwd.start(cmd); err != nil {
		return failure(err)
	}
	return exitCode(cmd.Wait())
}

// failure logs why the command could not be run and returns the exit code.
func failure(err error) int {
	log.Print(err)
	if errors.Is(err, errAborted) {
		return 130
	}
	return 1
}

// forwarder aborts set-up on the first signal and, once the command has
// started, forwards every signal to it.
type forwarder struct {
	mu      sync.Mutex
	child   *os.Process
	abort   chan struct{}
	aborted bool
}

func (f *forwarder) loop(sigs <-chan os.Signal) {
	for sig := range sigs {
		f.mu.Lock()
		switch {
		case f.child != nil:
			_ = f.child.Signal(sig)
		case !f.aborted:
			f.aborted = true
			close(f.abort)
		}
		f.mu.Unlock()
	}
}

// start starts cmd unless a signal has already aborted the run.
func (f *forwarder) start(cmd *exec.Cmd) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.aborted {
		return errAborted
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Args[0], err)
	}
	f.child = cmd.Process
	return nil
}

// exitCode turns the result of waiting for the command into testenv's own
// exit code: the command's code, or 128 plus the signal that ended it.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		log.Print(err)
		return 1
	}
	if code := exit.ExitCode(); code >= 0 {
		return code
	}
	if sig, ok := signalOf(exit.ProcessState); ok {
		return 128 + sig
	}
	return 1
}
