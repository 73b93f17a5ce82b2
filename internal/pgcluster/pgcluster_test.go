package pgcluster

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A cluster starts, keeps its data across a stop and a start on the same
// port, refuses connections while stopped, and is gone after Remove.
func TestStopStartKeepsData(t *testing.T) {
	bin := FindBinaries()
	if bin == "" {
		t.Fatal("no PostgreSQL binaries (initdb, postgres) in PATH or /usr/lib/postgresql/*/bin: install PostgreSQL")
	}
	c, err := Create(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove() })
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	if c.Running() || Probe(ctx, c.URL("postgres")) == nil {
		t.Fatal("the cluster still answers after Stop")
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := exec("DO $$ BEGIN IF (SELECT x FROM kept) <> 42 THEN RAISE 'lost'; END IF; END $$"); err != nil {
		t.Fatalf("data after a restart: %v", err)
	}
	if err := c.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Fatalf("%s is still there: %v", c.Dir, err)
	}
}
