// Package testdb gives each test a clean database of its own.
//
// Tests run against a real PostgreSQL, named by TEST_DATABASE_URL, and never
// skip: run them with "make test" (or "go run ./cmd/testenv -- go test ./..."),
// which finds or starts a PostgreSQL and sets TEST_DATABASE_URL for the run.
//
// The DSNs handed out are the ones internal/store opens:
//
//   - PostgreSQL: a URL that starts with postgres:// or postgresql://, the same
//     as TEST_DATABASE_URL with the database name replaced, e.g.
//     postgres://postgres@127.0.0.1:5432/kwtest_3f9c0a1b2d4e5f60?sslmode=disable
//   - SQLite: "file:" followed by a plain file path, e.g. file:/tmp/kwtest-sqlite-123/keyward.db
//
// This package only creates and drops databases; callers open them with the
// store and apply the migrations themselves (testdb must not import the store,
// whose own tests use testdb).
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the environment variable that points the tests at a
// PostgreSQL server. The role in it must be allowed to CREATE DATABASE.
const EnvURL = "TEST_DATABASE_URL"

// HowTo tells a developer how to get a PostgreSQL for the tests. It is shared
// by this package and cmd/testenv so that both failures read the same.
const HowTo = `Get a PostgreSQL for the tests in one of these ways:
  - install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql)
    and run the tests with "make test" (or "go run ./cmd/testenv -- go test ./..."): it uses the
    server on 127.0.0.1:5432 if one answers, and otherwise starts a throwaway cluster for the run;
  - or point the tests at a server you have, whose role may CREATE DATABASE:
    TEST_DATABASE_URL=postgres://user:password@host:5432/dbname?sslmode=disable make test`

// opTimeout bounds each CREATE or DROP DATABASE.
const opTimeout = 30 * time.Second

// admin is the one connection pool per test binary that creates and drops the
// test databases, on the database named by TEST_DATABASE_URL.
var admin struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

func adminPool(base string) (*pgxpool.Pool, error) {
	admin.once.Do(func() {
		cfg, err := pgxpool.ParseConfig(base)
		if err != nil {
			admin.err = err
			return
		}
		cfg.MaxConns = 4
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
		admin.pool, admin.err = pgxpool.NewWithConfig(context.Background(), cfg)
	})
	return admin.pool, admin.err
}

// Postgres creates a fresh, empty PostgreSQL database for t and returns a
// postgres:// URL for it. The database is dropped (WITH (FORCE), so open
// connections do not hold it up) when t and its subtests finish.
//
// It fails t, never skips it, when TEST_DATABASE_URL is unset or unusable.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Fatalf("testdb: %s is not set. Tests run against a real PostgreSQL and never skip.\n%s", EnvURL, HowTo)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("testdb: %s must be a postgres:// or postgresql:// URL.\n%s", EnvURL, HowTo)
	}
	pool, err := adminPool(base)
	if err != nil {
		t.Fatalf("testdb: cannot use %s (%s): %v", EnvURL, u.Redacted(), err)
	}

	name := "kwtest_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// template0 is never connected to, so concurrent creates cannot collide on
	// it, and it is always pristine; UTF8 because key names are any Unicode.
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("testdb: create database %s on %s (the role needs CREATEDB): %v", name, u.Redacted(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("testdb: drop database %s: %v", name, err)
		}
	})

	dsn := *u
	dsn.Path = "/" + name
	dsn.RawPath = ""
	return dsn.String()
}

// SQLite returns the path of a SQLite database file that does not exist yet,
// in a fresh directory removed when t finishes. As a DSN, use "file:" + path.
//
// The directory comes from os.MkdirTemp rather than t.TempDir because the
// latter is named after the test and may contain '#' or '%' (from duplicate
// subtest names), which SQLite would read as URI syntax in "file:" DSNs.
func SQLite(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp(os.Getenv("GOTMPDIR"), "kwtest-sqlite-")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	return filepath.Join(dir, "keyward.db")
}

// Dialects runs fn as two subtests of t, "postgres" and "sqlite", each with a
// fresh database: dsn is a postgres:// URL from Postgres, then "file:<path>"
// with a path from SQLite. Store tests use it to run on both dialects.
func Dialects(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
	t.Run("sqlite", func(t *testing.T) { fn(t, "file:"+SQLite(t)) })
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b)
}
