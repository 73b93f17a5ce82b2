package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

func TestSSOSignIn(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		st := mustOpen(t, dsn, &clock{time.Now().UTC()})
		ctx := context.Background()
		owner, acme := mustSetup(t, st, "owner@example.com", "Acme")
		act := model.Actor{Label: "single sign-on (test)"}

		// A new person: an account without a password, and the roles.
		u, notes, err := st.SSOSignIn(ctx, "Ana@Example.com", "iss sub-ana", map[string]model.Role{"Acme": model.RoleAdmin, "Globex": ""}, act)
		if err != nil || u.Email != "ana@example.com" || u.PasswordHash != "" || len(notes) != 0 {
			t.Fatalf("new: %+v %v %v", u, notes, err)
		}
		if m, err := st.FindMembership(ctx, acme.ID, u.ID); err != nil || m.Role != model.RoleAdmin {
			t.Fatalf("membership %+v %v", m, err)
		}
		if _, err := st.FindTeamByName(ctx, "Globex"); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatal("a team with no role was created")
		}
		ms, err := st.FindMembers(ctx, acme.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			want := []string{model.SignInPassword}
			if m.UserID == u.ID {
				want = []string{model.SignInSSO}
			}
			if len(m.SignInMethods) != 1 || m.SignInMethods[0] != want[0] {
				t.Fatalf("%s signs in by %v, want %v", m.User.Email, m.SignInMethods, want)
			}
		}

		// The same subject again, with another e-mail at the provider: the
		// same account.
		again, _, err := st.SSOSignIn(ctx, "ana.new@example.com", "iss sub-ana", nil, act)
		if err != nil || again.ID != u.ID {
			t.Fatalf("same subject: %+v %v", again, err)
		}

		// The owner's password account is linked by e-mail; then another
		// subject with that e-mail is refused.
		linked, _, err := st.SSOSignIn(ctx, "owner@example.com", "iss sub-owner", nil, act)
		if err != nil || linked.ID != owner.ID || linked.OIDCSubject != "iss sub-owner" {
			t.Fatalf("link: %+v %v", linked, err)
		}
		if _, _, err := st.SSOSignIn(ctx, "owner@example.com", "iss someone-else", nil, act); model.ErrorCode(err) != model.EFORBIDDEN {
			t.Fatalf("another subject for a linked e-mail: %v, want EFORBIDDEN", err)
		}

		// The last owner keeps the role the groups no longer give.
		_, notes, err = st.SSOSignIn(ctx, "owner@example.com", "iss sub-owner", map[string]model.Role{"Acme": ""}, act)
		if err != nil || len(notes) != 1 {
			t.Fatalf("last owner: notes %v, err %v", notes, err)
		}
		if m, err := st.FindMembership(ctx, acme.ID, owner.ID); err != nil || m.Role != model.RoleOwner {
			t.Fatalf("the last owner lost the role: %+v %v", m, err)
		}
	})
}

func TestAcceptInvitationSSO(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		st := mustOpen(t, dsn, &clock{time.Now().UTC()})
		ctx := context.Background()
		_, acme := mustSetup(t, st, "owner@example.com", "Acme")
		act := model.Actor{Label: "single sign-on (test)", IP: "198.51.100.7"}
		exp := time.Now().UTC().Add(time.Hour)
		if _, err := st.CreateInvitation(ctx, acme.ID, "ana@example.com", model.RoleMember, "inv-ana", exp, model.Actor{Label: "owner@example.com"}); err != nil {
			t.Fatal(err)
		}
		pending := func() {
			t.Helper()
			if _, err := st.FindInvitationByToken(ctx, "inv-ana"); err != nil {
				t.Fatalf("the invitation is not pending any more: %v", err)
			}
			if _, err := st.FindUserByEmail(ctx, "ana@example.com"); model.ErrorCode(err) != model.ENOTFOUND {
				t.Fatal("a refused acceptance left an account behind")
			}
		}

		// Another e-mail, or a roles file that gives no role in Acme: refused, nothing kept.
		if _, _, err := st.AcceptInvitationSSO(ctx, "inv-ana", "ben@example.com", "iss sub-ben", nil, act); model.ErrorCode(err) != model.EFORBIDDEN {
			t.Fatalf("another e-mail: %v, want EFORBIDDEN", err)
		}
		pending()
		if _, _, err := st.AcceptInvitationSSO(ctx, "inv-ana", "Ana@example.com", "iss sub-ana", map[string]model.Role{"Acme": ""}, act); model.ErrorCode(err) != model.EFORBIDDEN {
			t.Fatalf("no role from the roles file: %v, want EFORBIDDEN", err)
		}
		pending()

		// Accepted: a linked account without a password, the groups' role, once.
		m, _, err := st.AcceptInvitationSSO(ctx, "inv-ana", "Ana@example.com", "iss sub-ana", map[string]model.Role{"Acme": model.RoleAdmin}, act)
		if err != nil || m.TeamID != acme.ID || m.Role != model.RoleAdmin || m.User.OIDCSubject != "iss sub-ana" || m.User.PasswordHash != "" {
			t.Fatalf("accepted: %+v %v", m, err)
		}
		if _, _, err := st.AcceptInvitationSSO(ctx, "inv-ana", "ana@example.com", "iss sub-ana", nil, act); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("used twice: %v, want ENOTFOUND", err)
		}
	})
}
