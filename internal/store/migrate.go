package store

import (
	"context"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/migrations"
)

func (s *Store) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations.FS, s.dialect)
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
		// A session-level advisory lock serializes instances that start
		// together; the others wait and then find nothing left to apply.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, s.sqlDB, fsys, opts...)
}

// Migrate applies every pending migration and returns how many it applied.
// On PostgreSQL concurrent callers are serialized by an advisory lock.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	p, err := s.provider()
	if err != nil {
		return 0, model.Wrap(model.EINTERNAL, err, "cannot load migrations")
	}
	res, err := p.Up(ctx)
	if err != nil {
		return 0, translate(err)
	}
	return len(res), nil
}

// MigrationsPending reports whether the database lacks any migration, for
// readiness checks.
func (s *Store) MigrationsPending(ctx context.Context) (bool, error) {
	p, err := s.provider()
	if err != nil {
		return false, model.Wrap(model.EINTERNAL, err, "cannot load migrations")
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, translate(err)
	}
	return pending, nil
}
