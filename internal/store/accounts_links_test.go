package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

func TestInvitationLifecycle(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		c := &clock{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		ctx := context.Background()
		owner, team := mustSetup(t, st, "owner@example.com", "Acme")
		act := model.UserActor(owner, "192.0.2.1")
		exp := c.t.Add(model.InvitationLifetime)

		inv, err := st.CreateInvitation(ctx, team.ID, " Ana@Example.com ", model.RoleAdmin, "hash-1", exp, act)
		if err != nil || inv.Email != "ana@example.com" || inv.InvitedBy != "owner@example.com" {
			t.Fatalf("create: %+v %v", inv, err)
		}
		if _, err := st.CreateInvitation(ctx, team.ID, "ANA@example.com", model.RoleMember, "hash-2", exp, act); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("second open invitation: %v, want ECONFLICT", err)
		}
		if _, err := st.CreateInvitation(ctx, team.ID, "owner@example.com", model.RoleMember, "hash-3", exp, act); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("inviting a member: %v, want ECONFLICT", err)
		}
		got, err := st.FindInvitationByToken(ctx, "hash-1")
		if err != nil || got.ID != inv.ID || got.Team.Name != "Acme" {
			t.Fatalf("find: %+v %v", got, err)
		}

		// Resend replaces the token; the old one is gone.
		if _, err := st.ResendInvitation(ctx, team.ID, inv.ID, "hash-4", exp, act); err != nil {
			t.Fatal(err)
		}
		if _, err := st.FindInvitationByToken(ctx, "hash-1"); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("old token after resend: %v", err)
		}
		// Another team cannot touch it.
		other, err := st.CreateTeam(ctx, "Other", act)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CancelInvitation(ctx, other.ID, inv.ID, act); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("cancel from another team: %v", err)
		}

		// Accepting creates the account and the membership, once.
		m, err := st.AcceptInvitation(ctx, "hash-4", 0, "pw-hash", "198.51.100.1")
		if err != nil || m.Role != model.RoleAdmin || m.TeamID != team.ID {
			t.Fatalf("accept: %+v %v", m, err)
		}
		u, err := st.FindUserByEmail(ctx, "ana@example.com")
		if err != nil || u.PasswordHash != "pw-hash" || u.MustChangePassword {
			t.Fatalf("new user %+v %v", u, err)
		}
		if _, err := st.AcceptInvitation(ctx, "hash-4", 0, "pw-hash", ""); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("second accept: %v, want ENOTFOUND", err)
		}
		open, err := st.FindOpenInvitations(ctx, team.ID)
		if err != nil || len(open) != 0 {
			t.Fatalf("open after accept: %v %v", open, err)
		}

		// An existing user accepts as themselves only; expiry is exact.
		inv2, err := st.CreateInvitation(ctx, other.ID, "ana@example.com", model.RoleMember, "hash-5", c.t.Add(time.Hour), act)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AcceptInvitation(ctx, "hash-5", owner.ID, "", ""); model.ErrorCode(err) != model.EFORBIDDEN {
			t.Fatalf("accept as another user: %v, want EFORBIDDEN", err)
		}
		c.t = inv2.ExpiresAt
		if _, err := st.AcceptInvitation(ctx, "hash-5", u.ID, "", ""); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("accept at expiry: %v, want ENOTFOUND", err)
		}
		c.t = inv2.ExpiresAt.Add(-time.Second)
		if _, err := st.AcceptInvitation(ctx, "hash-5", u.ID, "", ""); err != nil {
			t.Fatalf("accept a second before expiry: %v", err)
		}
	})
}

// Two people racing to use one invitation: exactly one account is made.
func TestInvitationAcceptedOnce(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		c := &clock{time.Now().UTC()}
		st := mustOpen(t, dsn, c)
		ctx := context.Background()
		owner, team := mustSetup(t, st, "owner@example.com", "Acme")
		if _, err := st.CreateInvitation(ctx, team.ID, "ana@example.com", model.RoleMember, "race", c.t.Add(time.Hour), model.UserActor(owner, "")); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := st.AcceptInvitation(ctx, "race", 0, "h", ""); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d accepts succeeded, want 1", ok)
		}
	})
}

func TestPasswordResetLink(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		c := &clock{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		ctx := context.Background()
		owner, _ := mustSetup(t, st, "owner@example.com", "Acme")
		if err := st.CreatePasswordReset(ctx, owner.ID, "r1", c.t.Add(time.Hour), 0, model.Actor{}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreatePasswordReset(ctx, owner.ID, "r2", c.t.Add(time.Hour), 0, model.Actor{}); err != nil {
			t.Fatal(err)
		}
		if u, err := st.FindPasswordReset(ctx, "r1"); err != nil || u.ID != owner.ID {
			t.Fatalf("find: %+v %v", u, err)
		}
		u, err := st.ResetPassword(ctx, "r1", "new-hash", "192.0.2.9")
		if err != nil || u.ID != owner.ID {
			t.Fatalf("reset: %v", err)
		}
		got, _ := st.FindUserByID(ctx, owner.ID)
		if got.PasswordHash != "new-hash" {
			t.Fatal("the password did not change")
		}
		// Used up, and so is the other open link.
		for _, tok := range []string{"r1", "r2"} {
			if _, err := st.ResetPassword(ctx, tok, "again", ""); model.ErrorCode(err) != model.ENOTFOUND {
				t.Fatalf("reset with %s after a reset: %v, want ENOTFOUND", tok, err)
			}
		}
		// Expired exactly at its end.
		if err := st.CreatePasswordReset(ctx, owner.ID, "r3", c.t.Add(time.Hour), 0, model.Actor{}); err != nil {
			t.Fatal(err)
		}
		c.t = c.t.Add(time.Hour)
		if _, err := st.FindPasswordReset(ctx, "r3"); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("expired link: %v, want ENOTFOUND", err)
		}
	})
}
