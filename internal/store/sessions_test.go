package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

func TestSessionLifecycle(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		c := &clock{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		u, _ := mustSetup(t, st, "owner@example.com", "Acme")
		other, err := st.CreateUser(ctx, "other@example.com", "hash")
		if err != nil {
			t.Fatal(err)
		}
		now := c.t
		mk := func(id string, userID int64, expires time.Time) {
			t.Helper()
			err := st.CreateSession(ctx, model.Session{ID: id, UserID: userID, Data: []byte{1, 2, 3},
				CreatedAt: now, LastSeenAt: now, ExpiresAt: expires})
			if err != nil {
				t.Fatalf("create session %s: %v", id, err)
			}
		}
		mk("a", u.ID, now.Add(30*time.Minute))
		mk("b", u.ID, now.Add(5*time.Minute))
		mk("c", other.ID, now.Add(time.Minute))
		if err := st.CreateSession(ctx, model.Session{ID: "a", UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now}); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("duplicate id: err %v, want ECONFLICT", err)
		}

		got, err := st.FindSession(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if got.UserID != u.ID || !bytes.Equal(got.Data, []byte{1, 2, 3}) || !got.CreatedAt.Equal(now) || !got.ExpiresAt.Equal(now.Add(30*time.Minute)) {
			t.Fatalf("found %+v", got)
		}
		if _, err := st.FindSession(ctx, "missing"); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("missing session: err %v, want ENOTFOUND", err)
		}

		later := now.Add(10 * time.Minute)
		if err := st.TouchSession(ctx, "a", []byte("new"), later, later.Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, _ = st.FindSession(ctx, "a")
		if string(got.Data) != "new" || !got.LastSeenAt.Equal(later) || !got.ExpiresAt.Equal(later.Add(30*time.Minute)) {
			t.Fatalf("after touch %+v", got)
		}
		if err := st.TouchSession(ctx, "missing", nil, later, later); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("touching a missing session: err %v, want ENOTFOUND", err)
		}

		// Expired ones go, live ones stay.
		n, err := st.DeleteExpiredSessions(ctx, now.Add(5*time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("delete expired: %d, %v; want 2 (b and c)", n, err)
		}
		if _, err := st.FindSession(ctx, "a"); err != nil {
			t.Fatalf("a live session was deleted: %v", err)
		}

		mk("d", u.ID, now.Add(time.Hour))
		mk("e", other.ID, now.Add(time.Hour))
		if err := st.DeleteSession(ctx, "d"); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteSession(ctx, "d"); err != nil {
			t.Fatalf("deleting twice: %v", err)
		}
		if _, err := st.FindSession(ctx, "d"); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("deleted session found: %v", err)
		}
		if err := st.DeleteUserSessions(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.FindSession(ctx, "a"); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("user's session survived DeleteUserSessions: %v", err)
		}
		if _, err := st.FindSession(ctx, "e"); err != nil {
			t.Fatalf("another user's session was deleted: %v", err)
		}

		// A password change ends the user's sessions.
		if err := st.UpdatePassword(ctx, other.ID, "hash2", model.Actor{Label: "test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.FindSession(ctx, "e"); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("session survived a password change: %v", err)
		}
	})
}

func TestRecordLoginFailed(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st := mustOpen(t, dsn, &clock{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		second, err := st.CreateTeam(ctx, "Second", model.UserActor(u, "192.0.2.1"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddMember(ctx, second.ID, u.ID, model.RoleMember, model.UserActor(u, "")); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordLoginFailed(ctx, u, "198.51.100.9"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []int64{team.ID, second.ID} {
			if n := countAudit(t, st, id, model.ActionSessionLoginFailed); n != 1 {
				t.Errorf("team %d: %d session.login_failed events, want 1", id, n)
			}
		}
	})
}

func countAudit(t *testing.T, st *store.Store, teamID int64, action string) int64 {
	t.Helper()
	return store.CountAuditEvents(st, teamID, action)
}
