package store_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// successor builds the value part of a roll's new key in env.
func successor(t *testing.T, env string) *model.APIKey {
	t.Helper()
	raw, err := keys.Generate("kw", env)
	if err != nil {
		t.Fatal(err)
	}
	return &model.APIKey{PublicID: keys.NewPublicID("key"), KeyHash: keys.Hash(raw), Hint: keys.Hint(raw)}
}

func TestRollKey(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		c := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		u, acme := mustSetup(t, st, "owner@example.com", "Acme")
		other, err := st.CreateTeam(ctx, "Other", model.Actor{})
		if err != nil {
			t.Fatal(err)
		}
		act := model.UserActor(u, "192.0.2.1")

		old, _ := newKey(t, acme.ID, "Billing worker", model.PermRestricted, []string{"api_keys:read"})
		exp := c.t.Add(30 * 24 * time.Hour)
		old.ExpiresAt = &exp
		restr := model.Restrictions{AllowedIPs: []string{"203.0.113.7", "10.0.0.0/8"}, AllowedReferrers: []string{"*.example.com"},
			RateLimit: &model.RateLimit{Limit: 50, Period: "1m"}, Quota: &model.Quota{Remaining: 900, RefillAmount: 1000, RefillPeriod: "month"}}
		old.SetRestrictions(restr, c.t)
		if err := st.CreateKey(ctx, old, act); err != nil {
			t.Fatal(err)
		}
		var changed []string
		var mu sync.Mutex
		st.OnKeyChange(func(h string) { mu.Lock(); changed = append(changed, h); mu.Unlock() })

		// Another team's id is not found and changes nothing.
		if _, err := st.RollKey(ctx, other.ID, old.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: time.Hour}, act); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("roll from another team: %v, want ENOTFOUND", err)
		}
		// A grace over 7 days is refused.
		if _, err := st.RollKey(ctx, acme.ID, old.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: 8 * 24 * time.Hour}, act); model.ErrorCode(err) != model.EINVALID {
			t.Fatalf("roll with 8 days of grace: %v, want EINVALID", err)
		}
		// A refusing check refuses the roll.
		if _, err := st.RollKey(ctx, acme.ID, old.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: time.Hour,
			Check: func(model.APIKey) error { return model.Errorf(model.EFORBIDDEN, "no") }}, act); model.ErrorCode(err) != model.EFORBIDDEN {
			t.Fatalf("roll refused by check: %v, want EFORBIDDEN", err)
		}

		n := successor(t, "live")
		got, err := st.RollKey(ctx, acme.ID, old.PublicID, store.KeyRoll{New: n, Grace: 24 * time.Hour}, act)
		if err != nil {
			t.Fatal(err)
		}
		wantEnd := c.t.Add(24 * time.Hour)
		if got.ReplacedBy != n.PublicID || got.ExpiresAt == nil || !got.ExpiresAt.Equal(wantEnd) {
			t.Fatalf("old key after roll: replaced_by %q expires %v; want %q, %v", got.ReplacedBy, got.ExpiresAt, n.PublicID, wantEnd)
		}
		stored, err := st.FindKeyByID(ctx, acme.ID, old.PublicID)
		if err != nil || stored.ReplacedBy != n.PublicID || !stored.ExpiresAt.Equal(wantEnd) {
			t.Fatalf("stored old key: %+v, %v", stored, err)
		}
		nk, err := st.FindKeyByID(ctx, acme.ID, n.PublicID)
		if err != nil {
			t.Fatal(err)
		}
		if nk.RolledFrom != old.PublicID || nk.Name != "Billing worker" || nk.Environment != "live" ||
			nk.PermissionSet != model.PermRestricted || strings.Join(nk.Scopes, ",") != "api_keys:read" || nk.CreatedBy != u.Email {
			t.Fatalf("new key does not copy the old one: %+v", nk)
		}
		if got := nk.Restrictions(); !reflect.DeepEqual(got, restr) {
			t.Fatalf("new key's restrictions %+v, want the old key's %+v", got, restr)
		}
		if nk.KeyHash == old.KeyHash {
			t.Fatal("new key has the old key's hash")
		}
		mu.Lock()
		if len(changed) != 2 || changed[0] != nk.KeyHash || changed[1] != old.KeyHash {
			t.Errorf("key-change hooks told %v, want the new key's hash (created) and the old key's (its expiry) once each", changed)
		}
		mu.Unlock()

		evs, err := st.FindKeyAuditEvents(ctx, acme.ID, old.PublicID, 10)
		if err != nil || len(evs) == 0 || evs[0].Action != model.ActionKeyRolled || evs[0].Detail["replaced_by"] != n.PublicID {
			t.Fatalf("old key's trail: %+v, %v", evs, err)
		}

		// Rolled already: refused, naming the successor.
		_, err = st.RollKey(ctx, acme.ID, old.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: time.Hour}, act)
		if model.ErrorCode(err) != model.ECONFLICT || model.ErrorFields(err)["replaced_by"] != n.PublicID {
			t.Fatalf("second roll: %v, want ECONFLICT naming %s", err, n.PublicID)
		}

		// The window never extends an expiry: a key expiring in 2 hours
		// rolled with 7 days of grace still expires in 2 hours.
		short, _ := newKey(t, acme.ID, "Short", model.PermReadAll, nil)
		in2h := c.t.Add(2 * time.Hour)
		short.ExpiresAt = &in2h
		if err := st.CreateKey(ctx, short, act); err != nil {
			t.Fatal(err)
		}
		got, err = st.RollKey(ctx, acme.ID, short.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: model.MaxRollGrace}, act)
		if err != nil || !got.ExpiresAt.Equal(in2h) {
			t.Fatalf("roll of a key expiring sooner: expires %v, %v; want %v", got.ExpiresAt, err, in2h)
		}

		// Grace 0 ends the old key at once.
		now0, _ := newKey(t, acme.ID, "Now", model.PermReadAll, nil)
		if err := st.CreateKey(ctx, now0, act); err != nil {
			t.Fatal(err)
		}
		got, err = st.RollKey(ctx, acme.ID, now0.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: 0}, act)
		if err != nil || got.Status(c.t) != model.StatusExpired {
			t.Fatalf("roll with no grace: status %s, %v; want expired", got.Status(c.t), err)
		}

		// A revoked key cannot be rolled.
		rev, _ := newKey(t, acme.ID, "Revoked", model.PermReadAll, nil)
		if err := st.CreateKey(ctx, rev, act); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RevokeKey(ctx, acme.ID, rev.PublicID, act); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RollKey(ctx, acme.ID, rev.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: time.Hour}, act); model.ErrorCode(err) != model.ECONFLICT {
			t.Fatalf("roll of a revoked key: %v, want ECONFLICT", err)
		}
	})
}

// TestRollKeyConcurrent rolls one key from many goroutines: exactly one
// roll wins, the others are refused, and one successor exists.
func TestRollKeyConcurrent(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		c := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		u, acme := mustSetup(t, st, "owner@example.com", "Acme")
		act := model.UserActor(u, "")
		old, _ := newKey(t, acme.ID, "Busy", model.PermReadAll, nil)
		if err := st.CreateKey(ctx, old, act); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = st.RollKey(ctx, acme.ID, old.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: time.Hour}, act)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch model.ErrorCode(err) {
			case "":
				ok++
			case model.ECONFLICT:
			default:
				t.Errorf("concurrent roll: %v", err)
			}
		}
		_, total, err := st.FindKeys(ctx, model.KeyFilter{TeamID: acme.ID})
		if ok != 1 || err != nil || total != 2 {
			t.Fatalf("%d rolls succeeded and the team has %d keys (%v); want 1 and 2", ok, total, err)
		}
	})
}

func TestTeamSettingsAndLifetimePolicy(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		c := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		u, acme := mustSetup(t, st, "owner@example.com", "Acme")
		act := model.UserActor(u, "192.0.2.1")

		if _, err := st.UpdateTeamSettings(ctx, acme.ID, model.TeamSettings{RotationDays: -1}, act); model.ErrorCode(err) != model.EINVALID {
			t.Fatalf("negative rotation days: %v, want EINVALID", err)
		}
		team, err := st.UpdateTeamSettings(ctx, acme.ID, model.TeamSettings{RotationDays: 90, MaxKeyLifetimeDays: 30}, act)
		if err != nil || team.RotationDays != 90 || team.MaxKeyLifetimeDays != 30 {
			t.Fatalf("update settings: %+v, %v", team, err)
		}
		found, err := st.FindTeamByID(ctx, acme.ID)
		if err != nil || found.Settings() != (model.TeamSettings{RotationDays: 90, MaxKeyLifetimeDays: 30, LeakAction: model.LeakRevoke}) {
			t.Fatalf("stored settings: %+v, %v", found, err)
		}
		evs, err := st.FindAuditEvents(ctx, store.AuditFilter{TeamID: acme.ID, Actions: []string{model.ActionTeamSettings}})
		if err != nil || len(evs) != 1 {
			t.Fatalf("settings audit events: %+v, %v", evs, err)
		}
		if m, ok := evs[0].Detail["max_key_lifetime_days"].(map[string]any); !ok || m["to"] != float64(30) {
			t.Fatalf("audit detail: %+v", evs[0].Detail)
		}
		// Saving the same settings again writes nothing.
		if _, err := st.UpdateTeamSettings(ctx, acme.ID, model.TeamSettings{RotationDays: 90, MaxKeyLifetimeDays: 30}, act); err != nil {
			t.Fatal(err)
		}
		if evs, _ := st.FindAuditEvents(ctx, store.AuditFilter{TeamID: acme.ID, Actions: []string{model.ActionTeamSettings}}); len(evs) != 1 {
			t.Fatalf("unchanged settings wrote %d events, want 1 in all", len(evs))
		}

		// A key without expiry, or beyond 30 days, is refused naming the policy.
		never, _ := newKey(t, acme.ID, "Never", model.PermReadAll, nil)
		err = st.CreateKey(ctx, never, act)
		if model.ErrorCode(err) != model.EINVALID || !strings.Contains(model.ErrorFields(err)["expires_at"], "maximum key lifetime") {
			t.Fatalf("key without expiry under a 30-day policy: %v", err)
		}
		far, _ := newKey(t, acme.ID, "Far", model.PermReadAll, nil)
		in40 := c.t.AddDate(0, 0, 40)
		far.ExpiresAt = &in40
		if err := st.CreateKey(ctx, far, act); model.ErrorCode(err) != model.EINVALID {
			t.Fatalf("key expiring in 40 days under a 30-day policy: %v", err)
		}
		ok, _ := newKey(t, acme.ID, "Fine", model.PermReadAll, nil)
		in30 := c.t.AddDate(0, 0, 30)
		ok.ExpiresAt = &in30
		if err := st.CreateKey(ctx, ok, act); err != nil {
			t.Fatalf("key expiring in 30 days under a 30-day policy: %v", err)
		}
		// A roll whose new key breaks the policy is refused too, and
		// changes nothing.
		_, err = st.RollKey(ctx, acme.ID, ok.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: time.Hour}, act)
		if model.ErrorCode(err) != model.EINVALID {
			t.Fatalf("roll to a key without expiry under the policy: %v", err)
		}
		if k, _ := st.FindKeyByID(ctx, acme.ID, ok.PublicID); k.ReplacedBy != "" || !k.ExpiresAt.Equal(in30) {
			t.Fatalf("a refused roll changed the key: %+v", k)
		}

	})
}

func TestRotationDue(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		c := &clock{t0}
		st := mustOpen(t, dsn, c)
		u, acme := mustSetup(t, st, "owner@example.com", "Acme")
		act := model.UserActor(u, "")
		create := func(name string) *model.APIKey {
			k, _ := newKey(t, acme.ID, name, model.PermReadAll, nil)
			if err := st.CreateKey(ctx, k, act); err != nil {
				t.Fatal(err)
			}
			return k
		}
		create("Old")
		rolled := create("Rolled")
		revoked := create("Revoked")
		c.t = t0.AddDate(0, 0, 10)
		create("Young")
		if _, err := st.RollKey(ctx, acme.ID, rolled.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: model.MaxRollGrace}, act); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RevokeKey(ctx, acme.ID, revoked.PublicID, act); err != nil {
			t.Fatal(err)
		}

		at := t0.AddDate(0, 0, 95)
		// On day 95: Old (day 0) is due from 0 to 95 days of policy; Young
		// and the successor (day 10) from 0 to 85; the rolled and the
		// revoked keys never.
		for _, tt := range []struct {
			days int
			want int64
		}{{0, 0}, {90, 1}, {86, 1}, {85, 3}, {60, 3}, {200, 0}} {
			h, err := st.CountKeyHygiene(ctx, acme.ID, at, tt.days)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			f := store.HygieneFilter(model.KeyFilter{TeamID: acme.ID, RotationDays: tt.days}, store.HygieneRotationDue, at)
			rows, total, err := st.FindKeys(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if h.RotationDue != want || total != want {
				t.Errorf("rotation %d days: count %d, table %d; want %d", tt.days, h.RotationDue, total, want)
			}
			for _, k := range rows {
				if !k.RotationDue(at, tt.days) {
					t.Errorf("rotation %d days: the table lists %s, which RotationDue says is not due", tt.days, k.Name)
				}
			}
		}
	})
}
