package store

import (
	"context"

	"github.com/keyward/keyward/internal/model"
)

// auditChunk is how many events EachAuditEvent reads at a time.
const auditChunk = 500

// EachAuditEvent calls fn with every event of the team matching f, newest
// first, as FindAuditEvents orders them, starting after f.BeforeID if set
// (f.Limit is ignored). It reads the log in keyset pages of a few hundred
// events, so memory stays flat however long the log is and no connection is
// held while fn writes to a slow client; events appended meanwhile are newer
// than the first page and are not included. It stops at the first error fn
// returns, and returns it.
func (s *Store) EachAuditEvent(ctx context.Context, f AuditFilter, fn func(model.AuditEvent) error) error {
	f.Limit = auditChunk
	for {
		evs, err := s.FindAuditEvents(ctx, f)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return err
			}
		}
		if len(evs) < f.Limit {
			return nil
		}
		f.BeforeID = evs[len(evs)-1].ID
	}
}
