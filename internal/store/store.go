// Package store is keyward's data layer: the only package that sees
// *gorm.DB. It speaks PostgreSQL (production, many instances) and an embedded
// SQLite file (the zero-setup default) through one API that returns model
// types and coded *model.Error values.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/keyward/keyward/internal/model"
)

// Dialects.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// KeyChangeChannel is the PostgreSQL NOTIFY channel on which a changed key's
// hash is sent, inside the transaction that changes it.
const KeyChangeChannel = "keyward_key_changed"

// Options tune Open.
type Options struct {
	// Now is the clock; time.Now when nil. Tests inject their own.
	Now func() time.Time
	// MaxOpenConns bounds the pool (PostgreSQL); 0 means 20.
	MaxOpenConns int
	Logger       *slog.Logger
	// AppName is the application_name of the store's PostgreSQL
	// connections, as pg_stat_activity shows them (see WithAppName).
	AppName string
	// SkipEvents turns the outbox off: changes write no events. Only the
	// benchmark uses it, to measure what writing events costs.
	SkipEvents bool
}

// Store is the data layer. It is safe for concurrent use.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	dialect string
	dsn     string
	now     func() time.Time
	log     *slog.Logger

	mu        sync.RWMutex
	onChanged []func(hash string)
	onEvents  []func()

	skipEvents bool
	// writeMu queues write transactions on SQLite, which has one writer
	// at a time: waiting here is first come, first served, while SQLite's
	// busy handler lets one writer win again and again until another's
	// busy timeout runs out.
	writeMu sync.Mutex
}

// lockWrites takes the SQLite write queue (a no-op on PostgreSQL) and
// returns its release.
func (s *Store) lockWrites() func() {
	if s.dialect != SQLite {
		return func() {}
	}
	s.writeMu.Lock()
	return s.writeMu.Unlock
}

// Dialect reports which database the store runs on.
func DialectOf(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// Open connects to dsn: a postgres:// URL, or "file:<path>" (or a bare path)
// for SQLite, whose folder is created if missing. It returns EUNAVAILABLE if
// the database cannot be reached and EINVALID for a malformed DSN.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	s := &Store{dialect: DialectOf(dsn), dsn: dsn, now: opts.Now, log: opts.Logger, skipEvents: opts.SkipEvents}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		PrepareStmt:            s.dialect == Postgres,
		NowFunc:                func() time.Time { return s.now().UTC() },
		TranslateError:         false,
	}
	var dial gorm.Dialector
	switch s.dialect {
	case Postgres:
		if _, err := url.Parse(dsn); err != nil {
			return nil, model.Wrap(model.EINVALID, err, "DATABASE_URL is not a valid postgres:// URL")
		}
		if opts.AppName != "" {
			dsn = WithAppName(dsn, opts.AppName)
		}
		dial = postgres.Open(dsn)
	default:
		path := strings.TrimPrefix(dsn, "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, model.Wrap(model.EINVALID, err, "cannot create the data directory "+filepath.Dir(path))
		}
		// WAL lets readers run beside the single writer; busy_timeout waits
		// out short write locks instead of failing requests.
		dial = sqlite.Open("file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	}
	db, err := gorm.Open(dial, cfg)
	if err != nil {
		return nil, model.Wrap(model.EUNAVAILABLE, err, "cannot open the database")
	}
	s.db = db
	if s.sqlDB, err = db.DB(); err != nil {
		return nil, model.Wrap(model.EINTERNAL, err, "cannot open the database")
	}
	if s.dialect == Postgres {
		n := opts.MaxOpenConns
		if n <= 0 {
			n = 20
		}
		s.sqlDB.SetMaxOpenConns(n)
		s.sqlDB.SetMaxIdleConns(n)
		s.sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	} else {
		s.sqlDB.SetMaxOpenConns(4)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Ping(pingCtx); err != nil {
		_ = s.sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// Dialect returns Postgres or SQLite.
func (s *Store) Dialect() string { return s.dialect }

// DSN returns the connection string the store was opened with.
func (s *Store) DSN() string { return s.dsn }

// Now returns the store's clock reading in UTC.
func (s *Store) Now() time.Time { return s.now().UTC() }

// Close closes the connection pool.
func (s *Store) Close() error { return s.sqlDB.Close() }

// Ping checks that the database answers. It returns EUNAVAILABLE if not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return model.Wrap(model.EUNAVAILABLE, err, "The database is unreachable.")
	}
	return nil
}

// KeyChanges returns the count of committed transactions that changed keys.
// It only grows (a transaction bumps it before it commits), so an instance
// that cannot hear NOTIFY learns that keys changed by reading it again. It
// returns EUNAVAILABLE if the database cannot be read.
func (s *Store) KeyChanges(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Raw("SELECT n FROM key_changes").Scan(&n).Error; err != nil {
		return 0, translate(err)
	}
	return n, nil
}

// OnKeyChange registers fn to run after any transaction that changes a key
// commits, with that key's hash. The verify cache uses it to invalidate
// locally at once; other instances learn through NOTIFY.
func (s *Store) OnKeyChange(fn func(hash string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChanged = append(s.onChanged, fn)
}

func (s *Store) keysChanged(hashes []string) {
	s.mu.RLock()
	fns := s.onChanged
	s.mu.RUnlock()
	for _, h := range hashes {
		for _, fn := range fns {
			fn(h)
		}
	}
}

// txn is a transaction in progress with the keys it changed.
type txn struct {
	*gorm.DB
	s       *Store
	changed []string
	// events counts the outbox events the transaction wrote.
	events int
}

// tryScanLock takes, for the rest of the transaction, the PostgreSQL
// advisory lock that lets one instance at a time run a periodic scan, and
// reports whether it got it. Under SQLite, one instance by design, it
// always does.
func (tx *txn) tryScanLock(lock int64) (bool, error) {
	if tx.s.dialect != Postgres {
		return true, nil
	}
	var got bool
	err := tx.Raw("SELECT pg_try_advisory_xact_lock(?)", lock).Scan(&got).Error
	return got, err
}

// notifyKey records that the key with hash changed; on PostgreSQL it sends
// the NOTIFY inside the transaction so it is delivered only on commit.
func (t *txn) notifyKey(hash string) error {
	t.changed = append(t.changed, hash)
	if t.s.dialect == Postgres {
		return t.Exec("SELECT pg_notify(?, ?)", KeyChangeChannel, hash).Error
	}
	return nil
}

// notifyKeys is notifyKey for many keys, in one statement.
func (t *txn) notifyKeys(hashes []string) error {
	if len(hashes) == 0 {
		return nil
	}
	t.changed = append(t.changed, hashes...)
	if t.s.dialect != Postgres {
		return nil
	}
	for part := range slices.Chunk(hashes, leakChunk) {
		// Hashes are hex: joined by commas, they travel as one parameter.
		if err := t.Exec("SELECT pg_notify(?, h) FROM unnest(string_to_array(?, ',')) AS h", KeyChangeChannel, strings.Join(part, ",")).Error; err != nil {
			return err
		}
	}
	return nil
}

// inTx runs fn in a transaction and, after commit, tells the key-change hooks.
// A transaction that changed keys bumps the key_changes count before it
// commits (see KeyChanges).
func (s *Store) inTx(ctx context.Context, fn func(tx *txn) error) error {
	var changed []string
	events := 0
	unlock := s.lockWrites()
	err := s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		t := &txn{DB: db, s: s}
		if err := fn(t); err != nil {
			return err
		}
		if len(t.changed) > 0 {
			if err := t.Exec("UPDATE key_changes SET n = n + 1").Error; err != nil {
				return err
			}
		}
		changed, events = t.changed, t.events
		return nil
	})
	unlock()
	if err != nil {
		return translate(err)
	}
	s.keysChanged(changed)
	if events > 0 {
		s.eventsWritten()
	}
	return nil
}

// translate turns driver errors into coded errors; *model.Error passes through.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var me *model.Error
	if errors.As(err, &me) {
		return err
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return model.Wrap(model.ENOTFOUND, err, "Not found.")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return model.Wrap(model.EUNAVAILABLE, err, "The database did not answer in time.")
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "SQLSTATE 23505"), strings.Contains(msg, "UNIQUE constraint failed"):
		return model.Wrap(model.ECONFLICT, err, "That already exists.")
	case isUnavailable(msg):
		return model.Wrap(model.EUNAVAILABLE, err, "The database is unreachable.")
	}
	return model.Wrap(model.EINTERNAL, err, "")
}

func isUnavailable(msg string) bool {
	for _, s := range []string{"connection refused", "failed to connect", "broken pipe", "connection reset",
		"bad connection", "SQLSTATE 57P01", "SQLSTATE 57P03", "server closed", "unexpected EOF", "no such host", "i/o timeout", "conn closed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// audit appends an audit event inside tx and, for a key, member or
// webhook-endpoint action, the outbox event of the same change. The detail
// is marshalled once for both rows, and on PostgreSQL both rows go in one
// statement, so the event adds no round trip to the change.
func (t *txn) audit(teamID int64, actor model.Actor, action, targetID, targetName string, detail map[string]any) error {
	now := t.s.Now()
	var detailJSON []byte
	if len(detail) > 0 {
		b, err := json.Marshal(detail)
		if err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
		detailJSON = b
	}
	auditDetail := "{}"
	if detailJSON != nil {
		auditDetail = string(detailJSON)
	}
	args := []any{teamID, actor.UserID, actor.KeyID, actor.Label, action, targetID, targetName, actor.IP, auditDetail, now}
	if !model.IsEventType(action) || t.s.skipEvents {
		if err := t.Exec(auditInsert, args...).Error; err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
		return nil
	}
	payload, err := auditEventPayload(action, targetID, targetName, actor.Label, actor.KeyID != nil, detailJSON)
	if err != nil {
		return err
	}
	args = append(args, newID("evt"), teamID, action, targetID, payload, now)
	if t.s.dialect == Postgres {
		err = t.Exec("WITH audit AS ("+auditInsert+") "+eventInsert, args...).Error
	} else {
		// SQLite has no INSERT in WITH, and no network between the two.
		if err = t.Exec(auditInsert, args[:10]...).Error; err == nil {
			err = t.Exec(eventInsert, args[10:]...).Error
		}
	}
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	t.events++
	return nil
}

// The audit row and the outbox event of an audited change, as audit writes them.
const (
	auditInsert = `INSERT INTO audit_events (team_id, actor_user_id, actor_key_id, actor_label, action, target_id, target_name, ip, detail, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	eventInsert = `INSERT INTO events (public_id, team_id, type, target_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)`
)
