package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keys"
)

// database is the benchmark's own database on the server named by
// TEST_DATABASE_URL, dropped at the end of the run.
type database struct {
	base string // TEST_DATABASE_URL
	name string
	dsn  string
}

// createDatabase makes a fresh, empty database for the run.
func createDatabase(ctx context.Context, base string) (*database, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("TEST_DATABASE_URL must be a postgres:// URL")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := &database{base: base, name: "kwbench_" + hex.EncodeToString(b)}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db.name}.Sanitize()+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		return nil, fmt.Errorf("create database on %s (the role needs CREATEDB): %w", u.Redacted(), err)
	}
	d := *u
	d.Path = "/" + db.name
	d.RawPath = ""
	db.dsn = d.String()
	return db, nil
}

// drop removes the database, closing any connection still open to it.
func (db *database) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.name}.Sanitize()+" WITH (FORCE)")
	return err
}

// as returns the database's DSN with an application_name, by which the
// statement counters tell the instances apart.
func (db *database) as(app string) string {
	u, _ := url.Parse(db.dsn)
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String()
}

// layout says which key goes where: teamKeys keys in the bench team, spread
// evenly through the table as if created over time among the other teams'
// keys, which come in teams of otherTeamSize.
type layout struct {
	total, teamKeys int
	stride          int
}

const otherTeamSize = 100

func newLayout(total, teamKeys int) layout {
	return layout{total: total, teamKeys: teamKeys, stride: total / teamKeys}
}

// key returns the index of the key in row r and whether it is a bench team key.
func (l layout) key(r int) (int, bool) {
	if r%l.stride == 0 && r/l.stride < l.teamKeys {
		return r / l.stride, true
	}
	return l.teamKeys + r - min(l.teamKeys, r/l.stride+1), false
}

func (l layout) otherTeams() int {
	return (l.total - l.teamKeys + otherTeamSize - 1) / otherTeamSize
}

var keyColumns = []string{"public_id", "team_id", "name", "environment", "key_hash", "hint", "permission", "scopes",
	"expires_at", "revoked_at", "revoked_by", "created_by", "created_at", "updated_at", "last_used_at", "last_used_ip"}

// seedKeys writes l.total keys with COPY over several connections, showing
// a progress bar on stderr. It returns the time the copy took.
func seedKeys(ctx context.Context, dsn string, g keyGen, l layout, teamID int64, now time.Time) (time.Duration, error) {
	start := time.Now()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	var others []int64
	rows, err := conn.Query(ctx, `INSERT INTO teams (name, created_at) SELECT 'Team ' || g, $2 FROM generate_series(1, $1::int) g RETURNING id`, l.otherTeams(), now)
	if err == nil {
		others, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	}
	conn.Close(ctx)
	if err != nil {
		return 0, fmt.Errorf("create teams: %w", err)
	}

	const workers = 3
	var done atomic.Int64
	bar := newProgress("seeding keys", int64(l.total))
	stopBar := bar.run(&done)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	per := (l.total + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min(l.total, (w+1)*per)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = copyRows(ctx, dsn, g, l, teamID, others, now, lo, hi, &done)
		}()
	}
	wg.Wait()
	stopBar()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

func copyRows(ctx context.Context, dsn string, g keyGen, l layout, teamID int64, others []int64, now time.Time, lo, hi int, done *atomic.Int64) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	r, pending := lo, int64(0)
	row := make([]any, len(keyColumns))
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if r >= hi {
			return nil, nil
		}
		i, inTeam := l.key(r)
		team := teamID
		if !inTeam {
			team = others[(i-l.teamKeys)/otherTeamSize]
		}
		raw := g.raw(i)
		perm, scopes := permission(i)
		created, expires, revoked, lastUsed := times(i, r, l.total, now)
		revokedBy := ""
		if revoked != nil {
			revokedBy = "bench"
		}
		row[0], row[1], row[2], row[3] = g.publicID(i), team, keyName(i), env(i)
		row[4], row[5], row[6], row[7] = keys.Hash(raw), keys.Hint(raw), string(perm), scopes
		row[8], row[9], row[10], row[11] = timeOrNil(expires), timeOrNil(revoked), revokedBy, "bench@example.com"
		row[12], row[13], row[14], row[15] = created, created, timeOrNil(lastUsed), lastUsedIP(lastUsed)
		r++
		if pending++; pending == 1000 || r == hi {
			done.Add(pending)
			pending = 0
		}
		return row, nil
	})
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"api_keys"}, keyColumns, src)
	if err != nil {
		return fmt.Errorf("copy keys: %w", err)
	}
	return nil
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

func lastUsedIP(t *time.Time) string {
	if t == nil {
		return ""
	}
	return "203.0.113.7"
}

// prepare brings the table to a steady state after the bulk load, as
// autovacuum would on a live database: statistics for the planner and a
// visibility map for index-only scans.
func prepare(ctx context.Context, dsn string) (time.Duration, error) {
	start := time.Now()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	for _, t := range []string{"api_keys", "teams"} {
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return 0, fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	return time.Since(start), nil
}

// Statement counting. pg_stat_statements needs shared_preload_libraries,
// which a stock server lacks, so the bench counts in PostgreSQL itself: a
// statement-level trigger (FOR EACH STATEMENT fires once per UPDATE, however
// many rows it touches, even none) adds one to a counter row per
// application_name, table and operation. Every instance connects with its
// own application_name, so each one's statements are counted apart. The
// counter is written in the counted statement's transaction: a statement
// that rolls back is not counted.
const countingSQL = `
CREATE TABLE bench_statements (
    app TEXT   NOT NULL,
    tbl TEXT   NOT NULL,
    op  TEXT   NOT NULL,
    n   BIGINT NOT NULL,
    PRIMARY KEY (app, tbl, op)
);
CREATE FUNCTION bench_count_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_statements VALUES (current_setting('application_name'), TG_TABLE_NAME,
        CASE WHEN TG_OP = 'UPDATE' AND position('SET last_used_at' IN current_query()) > 0 THEN 'UPDATE last use' ELSE TG_OP END, 1)
    ON CONFLICT (app, tbl, op) DO UPDATE SET n = bench_statements.n + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER bench_count_update AFTER UPDATE ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION bench_count_statement();
CREATE TRIGGER bench_count_insert AFTER INSERT ON key_usage FOR EACH STATEMENT EXECUTE FUNCTION bench_count_statement();
`

// counter reads the statement counts.
type counter struct{ conn *pgx.Conn }

func installCounting(ctx context.Context, dsn string) (*counter, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, countingSQL); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("install statement counting: %w", err)
	}
	return &counter{conn: conn}, nil
}

// updates returns how many UPDATE statements that write last use app has
// run on api_keys. The quota leases of restricted keys are UPDATEs of
// api_keys too, one per lease whatever the flush interval, and are not
// counted: at full speed a key spends a lease of 1,000 units in a
// fraction of a second.
func (c *counter) updates(ctx context.Context, app string) (int64, error) {
	var n int64
	err := c.conn.QueryRow(ctx, `SELECT COALESCE(sum(n), 0) FROM bench_statements WHERE app = $1 AND tbl = 'api_keys' AND op = 'UPDATE last use'`, app).Scan(&n)
	return n, err
}

func (c *counter) close() { c.conn.Close(context.Background()) }

// progress draws a bar on stderr.
type progress struct {
	label string
	total int64
	start time.Time
	tty   bool
}

func newProgress(label string, total int64) *progress {
	fi, err := os.Stderr.Stat()
	return &progress{label: label, total: total, start: time.Now(), tty: err == nil && fi.Mode()&os.ModeCharDevice != 0}
}

// run redraws the bar from done until the returned stop is called. Off a
// terminal it prints a line every few seconds instead of redrawing.
func (p *progress) run(done *atomic.Int64) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		every := 200 * time.Millisecond
		if !p.tty {
			every = 5 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				p.draw(done.Load(), true)
				return
			case <-t.C:
				p.draw(done.Load(), false)
			}
		}
	}()
	return func() { close(quit); <-finished }
}

func (p *progress) draw(n int64, last bool) {
	const width = 30
	frac := float64(n) / float64(max(p.total, 1))
	fill := int(frac * width)
	el := time.Since(p.start).Seconds()
	rate := float64(n) / max(el, 1e-9)
	line := fmt.Sprintf("%s [%s%s] %3.0f%% %s/%s %.1fs %s rows/s", p.label,
		strings.Repeat("#", fill), strings.Repeat("-", width-fill), 100*frac, thousands(n), thousands(p.total), el, thousands(int64(rate)))
	switch {
	case p.tty && last:
		fmt.Fprintf(os.Stderr, "\r%s\n", line)
	case p.tty:
		fmt.Fprintf(os.Stderr, "\r%s", line)
	default:
		fmt.Fprintln(os.Stderr, line)
	}
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
