package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// mustOpen opens a migrated store on dsn with the given clock.
func mustOpen(t *testing.T, dsn string, c *clock) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{Now: c.Now})
	if err != nil {
		t.Fatalf("open %s: %v", store.DialectOf(dsn), err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}

// mustSetup creates an owner and team.
func mustSetup(t *testing.T, st *store.Store, email, team string) (model.User, model.Team) {
	t.Helper()
	u, tm, err := st.Setup(context.Background(), email, "hash", team, "192.0.2.1")
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	return u, tm
}

func newKey(t *testing.T, teamID int64, name string, set model.PermissionSet, scopes []string) (*model.APIKey, string) {
	t.Helper()
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	return &model.APIKey{
		PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: name, Environment: "live",
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: set, Scopes: scopes,
	}, raw
}

func TestMigrateIsIdempotent(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		st := mustOpen(t, dsn, &clock{time.Now()})
		n, err := st.Migrate(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("second migrate applied %d, err %v; want 0, nil", n, err)
		}
		pending, err := st.MigrationsPending(context.Background())
		if err != nil || pending {
			t.Fatalf("pending = %v, %v", pending, err)
		}
	})
}

func TestSetupOnce(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		st := mustOpen(t, dsn, &clock{time.Now()})
		ctx := context.Background()
		u, team := mustSetup(t, st, " Owner@Example.com ", "Acme")
		if u.Email != "owner@example.com" || team.Name != "Acme" {
			t.Fatalf("got %q %q", u.Email, team.Name)
		}
		m, err := st.FindMembership(ctx, team.ID, u.ID)
		if err != nil || m.Role != model.RoleOwner || m.Team.Name != "Acme" || m.User.Email != u.Email {
			t.Fatalf("membership %+v, %v", m, err)
		}
		if _, _, err := st.Setup(ctx, "x@example.com", "h", "Other", ""); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("second setup: %v, want ECONFLICT", err)
		}
		if _, err := st.FindUserByEmail(ctx, "OWNER@example.com"); err != nil {
			t.Fatalf("case-insensitive lookup: %v", err)
		}
		if _, err := st.CreateUser(ctx, "owner@EXAMPLE.com", "h"); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("duplicate e-mail: %v, want ECONFLICT", err)
		}
	})
}

func TestLastOwnerIsKept(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		st := mustOpen(t, dsn, &clock{time.Now()})
		ctx := context.Background()
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		m, _ := st.FindMembership(ctx, team.ID, u.ID)
		act := model.UserActor(u, "192.0.2.1")
		if _, err := st.UpdateMemberRole(ctx, team.ID, m.ID, model.RoleAdmin, act); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("demote last owner: %v", err)
		}
		if err := st.RemoveMember(ctx, team.ID, m.ID, act); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("remove last owner: %v", err)
		}
		other, _ := st.CreateUser(ctx, "b@example.com", "h")
		m2, err := st.AddMember(ctx, team.ID, other.ID, model.RoleOwner, act)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateMemberRole(ctx, team.ID, m.ID, model.RoleAdmin, act); err != nil {
			t.Fatalf("demote with a second owner: %v", err)
		}
		// Another team's id answers ENOTFOUND.
		if err := st.RemoveMember(ctx, team.ID+1000, m2.ID, act); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("other team: %v", err)
		}
	})
}

func TestKeyLifecycle(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		c := &clock{time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		ctx := context.Background()
		var changed []string
		st.OnKeyChange(func(h string) { changed = append(changed, h) })
		count0, err := st.KeyChanges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		_, other := func() (model.User, model.Team) {
			o, _ := st.CreateUser(ctx, "o@example.com", "h")
			tm, err := st.CreateTeam(ctx, "Other", model.UserActor(o, ""))
			if err != nil {
				t.Fatal(err)
			}
			return o, tm
		}()
		act := model.UserActor(u, "192.0.2.1")
		k, raw := newKey(t, team.ID, "Zapier <script>", model.PermRestricted, []string{"api_keys:read"})
		exp := c.t.Add(time.Hour)
		k.ExpiresAt = &exp
		if err := st.CreateKey(ctx, k, act); err != nil {
			t.Fatal(err)
		}
		got, err := st.FindKeyByHash(ctx, keys.Hash(raw))
		if err != nil || got.PublicID != k.PublicID || got.Name != "Zapier <script>" || got.Permission().Summary() != "Restricted · 1 scope" {
			t.Fatalf("by hash: %+v %v", got, err)
		}
		if _, err := st.FindKeyByID(ctx, other.ID, k.PublicID); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("other team's key: %v", err)
		}
		// Expired at exactly expires_at, active again after a new expiry.
		c.t = exp
		if s := got.Status(c.t); s != model.StatusExpired {
			t.Fatalf("status at expires_at = %s", s)
		}
		list, total, err := st.FindKeys(ctx, model.KeyFilter{TeamID: team.ID, Status: model.StatusExpired, Now: c.t})
		if err != nil || total != 1 || len(list) != 1 {
			t.Fatalf("expired filter: %d %v", total, err)
		}
		later := c.t.Add(48 * time.Hour)
		name := "Zapier"
		upd, err := st.UpdateKey(ctx, team.ID, k.PublicID, model.KeyUpdate{Name: &name, SetExpiry: true, ExpiresAt: &later}, act)
		if err != nil || upd.Status(c.t) != model.StatusActive || upd.KeyHash != k.KeyHash {
			t.Fatalf("update: %+v %v", upd, err)
		}
		if _, err := st.RevokeKey(ctx, other.ID, k.PublicID, act); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("revoke from other team: %v", err)
		}
		rev, err := st.RevokeKey(ctx, team.ID, k.PublicID, act)
		if err != nil || rev.Status(c.t) != model.StatusRevoked {
			t.Fatalf("revoke: %v", err)
		}
		if _, err := st.UpdateKey(ctx, team.ID, k.PublicID, model.KeyUpdate{Name: &name}, act); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("edit revoked: %v", err)
		}
		if _, err := st.DeleteKey(ctx, team.ID, k.PublicID, act); err != nil {
			t.Fatal(err)
		}
		if _, err := st.FindKeyByID(ctx, team.ID, k.PublicID); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("after delete: %v", err)
		}
		if len(changed) != 4 {
			t.Fatalf("key-change hooks ran %d times, want 4 (create, update, revoke, delete)", len(changed))
		}
		// One bump per committed transaction that changed the key; the
		// refused edit of the revoked key rolled back and bumped nothing.
		if n, err := st.KeyChanges(ctx); err != nil || n-count0 != 4 {
			t.Fatalf("key_changes moved by %d (%v), want 4", n-count0, err)
		}
	})
}

func TestFindKeysFiltersAndSorts(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		c := &clock{time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		ctx := context.Background()
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		act := model.UserActor(u, "")
		for _, n := range []string{"beta", "Alpha", "gamma_1", "100% done"} {
			c.t = c.t.Add(time.Minute)
			k, _ := newKey(t, team.ID, n, model.PermReadAll, nil)
			if err := st.CreateKey(ctx, k, act); err != nil {
				t.Fatal(err)
			}
		}
		names := func(f model.KeyFilter) []string {
			f.TeamID = team.ID
			ks, _, err := st.FindKeys(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, k := range ks {
				out = append(out, k.Name)
			}
			return out
		}
		if got := names(model.KeyFilter{Sort: model.KeySortName}); len(got) != 4 || got[0] != "100% done" || got[1] != "Alpha" {
			t.Fatalf("by name: %v", got)
		}
		if got := names(model.KeyFilter{}); got[0] != "100% done" || got[3] != "beta" {
			t.Fatalf("by created: %v", got)
		}
		// LIKE wildcards in the query are literal.
		if got := names(model.KeyFilter{Query: "%"}); len(got) != 1 {
			t.Fatalf("query %%: %v", got)
		}
		if got := names(model.KeyFilter{Query: "a_1"}); len(got) != 1 || got[0] != "gamma_1" {
			t.Fatalf("query a_1: %v", got)
		}
		if got := names(model.KeyFilter{Query: "' OR 1=1--"}); len(got) != 0 {
			t.Fatalf("injection: %v", got)
		}
		if got := names(model.KeyFilter{Limit: 2, Offset: 2}); len(got) != 2 {
			t.Fatalf("page 2: %v", got)
		}
	})
}

func TestAddNewMemberIsOneTransaction(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		st := mustOpen(t, dsn, &clock{time.Now()})
		ctx := context.Background()
		u, team := mustSetup(t, st, "owner@example.com", "Acme")
		act := model.UserActor(u, "192.0.2.1")
		m, err := st.AddNewMember(ctx, team.ID, "New@Example.com", "hash", model.RoleAdmin, act)
		if err != nil || m.User.Email != "new@example.com" || m.Role != model.RoleAdmin {
			t.Fatalf("add new member: %+v %v", m, err)
		}
		// A taken e-mail fails and leaves no membership behind.
		if _, err := st.AddNewMember(ctx, team.ID, "owner@example.com", "hash", model.RoleMember, act); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("taken e-mail: %v", err)
		}
		members, err := st.FindMembers(ctx, team.ID)
		if err != nil || len(members) != 2 {
			t.Fatalf("members: %d %v", len(members), err)
		}
	})
}
