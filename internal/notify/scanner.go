package notify

import (
	"context"
	"log/slog"
	"time"

	"github.com/keyward/keyward/internal/store"
)

// Scanner emits expiry reminders (api_key.expiring at 7 days and 1 day,
// api_key.expired) and the weekly rotation digest (api_key.rotation_due)
// every Interval. On PostgreSQL one instance at a time scans, under an
// advisory lock; what was emitted is kept in the database, so each reminder
// and digest goes out once across restarts and instances.
type Scanner struct {
	st       *store.Store
	log      *slog.Logger
	Interval time.Duration
}

// NewScanner returns a scanner over st that runs every minute.
func NewScanner(st *store.Store, log *slog.Logger) *Scanner {
	if log == nil {
		log = slog.Default()
	}
	return &Scanner{st: st, log: log, Interval: time.Minute}
}

// Scan runs one pass and returns how many events it wrote.
func (s *Scanner) Scan(ctx context.Context) (int, error) {
	total := 0
	for _, scan := range []func(context.Context, int) (int, bool, error){s.st.ScanExpiry, s.st.ScanRotation} {
		for {
			n, ran, err := scan(ctx, 500)
			total += n
			if err != nil {
				return total, err
			}
			if !ran || n < 500 {
				break
			}
		}
	}
	return total, nil
}

// Run scans at once and then every Interval until ctx ends.
func (s *Scanner) Run(ctx context.Context) {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		if n, err := s.Scan(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reminder scan failed", "err", err)
		} else if n > 0 {
			s.log.Info("reminders emitted", "events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
