package testdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	_ "github.com/glebarez/go-sqlite" // registers the "sqlite" database/sql driver
	"github.com/jackc/pgx/v5"
)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	return conn
}

func dbName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn := connect(t, os.Getenv(EnvURL))
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestPostgresGivesSeparateEmptyDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := Postgres(t), Postgres(t)
	if a == b {
		t.Fatalf("two calls returned the same DSN %s", a)
	}
	for _, dsn := range []string{a, b} {
		if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
			t.Errorf("DSN %q does not start with postgres:// or postgresql://", dsn)
		}
		if name := dbName(t, dsn); !strings.HasPrefix(name, "kwtest_") {
			t.Errorf("database name %q does not start with kwtest_", name)
		}
	}

	connA, connB := connect(t, a), connect(t, b)
	defer connA.Close(ctx)
	defer connB.Close(ctx)

	for dsn, conn := range map[string]*pgx.Conn{a: connA, b: connB} {
		var current, encoding string
		var tables int
		err := conn.QueryRow(ctx, `SELECT current_database(), pg_encoding_to_char(encoding),
			(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%')
			FROM pg_database WHERE datname = current_database()`).Scan(&current, &encoding, &tables)
		if err != nil {
			t.Fatal(err)
		}
		if current != dbName(t, dsn) {
			t.Errorf("DSN %s connects to database %q", dsn, current)
		}
		if encoding != "UTF8" {
			t.Errorf("database %s has encoding %s, want UTF8", current, encoding)
		}
		if tables != 0 {
			t.Errorf("database %s is not empty: %d relations", current, tables)
		}
	}

	// Usable, and isolated from each other.
	if _, err := connA.Exec(ctx, "CREATE TABLE keys (name text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := connA.Exec(ctx, "INSERT INTO keys VALUES ($1)", "clé de prod ✓"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := connA.QueryRow(ctx, "SELECT name FROM keys").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "clé de prod ✓" {
		t.Errorf("read back %q", got)
	}
	var reg *string
	if err := connB.QueryRow(ctx, "SELECT to_regclass('keys')::text").Scan(&reg); err != nil {
		t.Fatal(err)
	}
	if reg != nil {
		t.Errorf("a table created in one test database is visible in the other")
	}
}

func TestPostgresCleanupDropsDatabase(t *testing.T) {
	var name string
	var open *pgx.Conn
	t.Run("inner", func(t *testing.T) {
		dsn := Postgres(t)
		name = dbName(t, dsn)
		if !databaseExists(t, name) {
			t.Fatalf("database %s was not created", name)
		}
		// Left open on purpose: the drop must not wait for it.
		open = connect(t, dsn)
	})
	defer open.Close(context.Background())
	if databaseExists(t, name) {
		t.Errorf("database %s still exists after its test finished", name)
	}
}

// fatalRecorder stands in for a testing.TB to catch what Postgres fails with.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestPostgresWithoutURLFailsWithHowTo(t *testing.T) {
	t.Setenv(EnvURL, "")
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Postgres(rec)
		t.Error("Postgres returned without TEST_DATABASE_URL")
	}()
	<-done
	for _, want := range []string{"TEST_DATABASE_URL is not set", "make test", "go run ./cmd/testenv -- go test ./...", "install PostgreSQL", "TEST_DATABASE_URL=postgres://"} {
		if !strings.Contains(rec.msg, want) {
			t.Errorf("failure message lacks %q:\n%s", want, rec.msg)
		}
	}
}

func TestSQLiteGivesSeparateUsableFiles(t *testing.T) {
	a, b := SQLite(t), SQLite(t)
	if filepath.Dir(a) == filepath.Dir(b) {
		t.Fatalf("two calls share the directory %s", filepath.Dir(a))
	}
	for _, path := range []string{a, b} {
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s should not exist yet (stat: %v)", path, err)
		}
		if strings.ContainsAny(path, "?#%") {
			t.Errorf("path %q contains SQLite URI syntax", path)
		}
	}

	db, err := sql.Open("sqlite", "file:"+a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE keys (name TEXT NOT NULL); INSERT INTO keys VALUES ('k')"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a); err != nil {
		t.Errorf("the file: DSN did not create %s: %v", a, err)
	}
}

func TestSQLiteCleanupRemovesDirectory(t *testing.T) {
	var path string
	t.Run("inner", func(t *testing.T) {
		path = SQLite(t)
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still exists after its test finished (stat: %v)", filepath.Dir(path), err)
	}
}

func TestDialectsRunsBothWithTheirDSNForms(t *testing.T) {
	got := map[string]string{}
	Dialects(t, func(t *testing.T, dsn string) {
		got[t.Name()] = dsn
	})
	if len(got) != 2 {
		t.Fatalf("ran %d subtests, want 2: %v", len(got), got)
	}
	pg := got[t.Name()+"/postgres"]
	if !strings.HasPrefix(pg, "postgres://") && !strings.HasPrefix(pg, "postgresql://") {
		t.Errorf("postgres subtest got %q", pg)
	}
	lite := got[t.Name()+"/sqlite"]
	if !strings.HasPrefix(lite, "file:") || filepath.Base(lite) != "keyward.db" {
		t.Errorf("sqlite subtest got %q", lite)
	}
}
