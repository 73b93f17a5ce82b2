package store

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

// activityStore opens a migrated store on dsn whose clock reads *now, with
// a team Acme (and its owner as actor) and a team Other.
func activityStore(t *testing.T, dsn string, now *time.Time) (st *Store, acme, other model.Team, act model.Actor) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, dsn, Options{Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, acme, err := st.Setup(ctx, "owner@example.com", "hash", "Acme", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	other, err = st.CreateTeam(ctx, "Other", model.Actor{Label: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	return st, acme, other, model.UserActor(u, "192.0.2.1")
}

// mustKey creates a key of the team named name, expiring at expires (nil: never).
func mustKey(t *testing.T, st *Store, teamID int64, name string, expires *time.Time, act model.Actor) model.APIKey {
	t.Helper()
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: name, Environment: "live",
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll, ExpiresAt: expires}
	if err := st.CreateKey(context.Background(), &k, act); err != nil {
		t.Fatal(err)
	}
	return k
}

func ptime(t time.Time) *time.Time { return &t }

func TestCountKeyHygiene(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		now := start
		st, acme, other, act := activityStore(t, dsn, &now)
		day := 24 * time.Hour

		// Created on Jan 1 (120 days before May 1).
		mustKey(t, st, acme.ID, "old, never used, no expiry", nil, act)
		oldUsedLongAgo := mustKey(t, st, acme.ID, "old, used in January", ptime(start.Add(400*day)), act)
		oldUsedRecently := mustKey(t, st, acme.ID, "old, used last week", nil, act)
		revoked := mustKey(t, st, acme.ID, "revoked, never used", nil, act)
		mustKey(t, st, acme.ID, "expired, never used", ptime(start.Add(30*day)), act)
		mustKey(t, st, other.ID, "another team's, never used", nil, model.Actor{Label: "cli"})

		now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) // the clock the counts use
		mustKey(t, st, acme.ID, "new today, never used", ptime(now.Add(7*day)), act)
		soon := mustKey(t, st, acme.ID, "new today, expires in 3 days", ptime(now.Add(3*day)), act)
		mustKey(t, st, acme.ID, "new today, expires in 8 days", ptime(now.Add(8*day)), act)
		if _, err := st.RevokeKey(ctx, acme.ID, revoked.PublicID, act); err != nil {
			t.Fatal(err)
		}
		err := st.RecordUses(ctx, []model.KeyUse{
			{KeyID: oldUsedLongAgo.ID, At: start.Add(10 * day), IP: "192.0.2.9", Requests: 1},
			{KeyID: oldUsedRecently.ID, At: now.Add(-7 * day), IP: "192.0.2.9", Requests: 1},
			{KeyID: soon.ID, At: now, IP: "192.0.2.9", Requests: 1},
		})
		if err != nil {
			t.Fatal(err)
		}

		h, err := st.CountKeyHygiene(ctx, acme.ID, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		// never used: old-never-used only (not revoked, not expired; the
		// never-used keys made today have not had their chance yet)
		// stale: old-never-used (created 120 days ago), old-used-in-January
		// no expiry: old-never-used, old-used-recently
		// expiring within 7 days: new-never-used (exactly 7 days), 3 days
		want := KeyHygiene{NeverUsed: 1, Stale: 2, NoExpiry: 2, Expiring: 2}
		if h != want {
			t.Fatalf("hygiene at %v = %+v, want %+v", now, h, want)
		}
		if !h.Any() || (KeyHygiene{}).Any() {
			t.Fatal("Any is wrong")
		}

		// The filtered table shows exactly the keys counted.
		for kind, n := range map[string]int64{HygieneNeverUsed: h.NeverUsed, HygieneStale: h.Stale, HygieneNoExpiry: h.NoExpiry, HygieneExpiring: h.Expiring} {
			_, total, err := st.FindKeys(ctx, HygieneFilter(model.KeyFilter{TeamID: acme.ID}, kind, now))
			if err != nil {
				t.Fatal(err)
			}
			if total != n {
				t.Errorf("%s: the filtered table has %d keys, the panel counts %d", kind, total, n)
			}
		}

		// A day later the 8-day key enters the 7-day window too.
		later := now.Add(day + time.Hour)
		h2, err := st.CountKeyHygiene(ctx, acme.ID, later, 0)
		if err != nil {
			t.Fatal(err)
		}
		if h2.Expiring != 3 {
			t.Fatalf("expiring a day later = %d, want 3", h2.Expiring)
		}
		// ... and the keys made today and still unused count as never used
		// (new-never-used and 8-days; 3-days was used).
		if h2.NeverUsed != 3 {
			t.Fatalf("never used a day later = %d, want 3", h2.NeverUsed)
		}
		for kind, n := range map[string]int64{HygieneNeverUsed: h2.NeverUsed, HygieneExpiring: h2.Expiring} {
			_, total, err := st.FindKeys(ctx, HygieneFilter(model.KeyFilter{TeamID: acme.ID}, kind, later))
			if err != nil {
				t.Fatal(err)
			}
			if total != n {
				t.Errorf("%s a day later: the filtered table has %d keys, the panel counts %d", kind, total, n)
			}
		}
		// 91 days after its last use, the key used last week is stale too.
		h3, err := st.CountKeyHygiene(ctx, acme.ID, now.Add(84*day), 0)
		if err != nil {
			t.Fatal(err)
		}
		// By then every expiring key has expired; the never-used new keys
		// are gone too (expired); old-never-used, January and last-week keys remain.
		if want := (KeyHygiene{NeverUsed: 1, Stale: 3, NoExpiry: 2, Expiring: 0}); h3 != want {
			t.Fatalf("hygiene 84 days later = %+v, want %+v", h3, want)
		}

		// Another team sees only its own.
		ho, err := st.CountKeyHygiene(ctx, other.ID, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := (KeyHygiene{NeverUsed: 1, Stale: 1, NoExpiry: 1}); ho != want {
			t.Fatalf("other team's hygiene = %+v, want %+v", ho, want)
		}
	})
}

func TestHygieneFilter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	base := model.KeyFilter{TeamID: 7, Query: "x"}
	tests := []struct {
		kind string
		want model.KeyFilter
	}{
		{HygieneNeverUsed, model.KeyFilter{TeamID: 7, Query: "x", Now: now, Status: model.StatusActive, NeverUsed: true, MadeBefore: now.Add(-NeverUsedAfter)}},
		{HygieneStale, model.KeyFilter{TeamID: 7, Query: "x", Now: now, Status: model.StatusActive, UnusedSince: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)}},
		{HygieneNoExpiry, model.KeyFilter{TeamID: 7, Query: "x", Now: now, Status: model.StatusActive, NeverExpire: true}},
		{HygieneExpiring, model.KeyFilter{TeamID: 7, Query: "x", Now: now, Status: model.StatusActive, ExpiringBy: now.Add(model.ExpiresSoonWindow)}},
		{"", base},
		{"bogus", base},
	}
	for _, tt := range tests {
		got := HygieneFilter(base, tt.kind, now)
		if got != tt.want {
			t.Errorf("HygieneFilter(%q) = %+v, want %+v", tt.kind, got, tt.want)
		}
	}
	// A status chosen in the table stays.
	if got := HygieneFilter(model.KeyFilter{Status: model.StatusExpired}, HygieneNeverUsed, now); got.Status != model.StatusExpired {
		t.Fatalf("status replaced: %+v", got)
	}
}
