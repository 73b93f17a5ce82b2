package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

func TestEachAuditEvent(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		st, acme, other, act := activityStore(t, dsn, &now)
		// 2 chunks and a bit: team.created plus 1,101 key events, several
		// sharing a time (the id breaks ties).
		const n = 2*auditChunk + 100
		for i := range n {
			if i%3 == 0 {
				now = now.Add(time.Second)
			}
			mustKey(t, st, acme.ID, "k", nil, act)
		}
		mustKey(t, st, other.ID, "foreign", nil, model.Actor{Label: "cli"})

		var ids []int64
		var last model.AuditEvent
		err := st.EachAuditEvent(ctx, AuditFilter{TeamID: acme.ID, Limit: 3}, func(ev model.AuditEvent) error {
			if ev.TeamID != acme.ID {
				t.Fatalf("event of team %d", ev.TeamID)
			}
			if len(ids) > 0 && (ev.CreatedAt.After(last.CreatedAt) || (ev.CreatedAt.Equal(last.CreatedAt) && ev.ID > last.ID)) {
				t.Fatalf("event %d after %d is not older", ev.ID, last.ID)
			}
			ids = append(ids, ev.ID)
			last = ev
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != n+1 {
			t.Fatalf("visited %d events, want %d", len(ids), n+1)
		}
		seen := map[int64]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("event %d visited twice", id)
			}
			seen[id] = true
		}
		if last.Action != model.ActionTeamCreated {
			t.Fatalf("oldest event is %s, want team.created", last.Action)
		}

		// Filters apply; an error from fn stops the walk and comes back.
		count := 0
		err = st.EachAuditEvent(ctx, AuditFilter{TeamID: acme.ID, Actions: []string{"team.*"}}, func(model.AuditEvent) error {
			count++
			return nil
		})
		if err != nil || count != 1 {
			t.Fatalf("team.* events: %d, %v; want 1", count, err)
		}
		stop := errors.New("stop")
		count = 0
		err = st.EachAuditEvent(ctx, AuditFilter{TeamID: acme.ID}, func(model.AuditEvent) error {
			count++
			if count == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || count != 10 {
			t.Fatalf("stopped after %d with %v", count, err)
		}
	})
}
