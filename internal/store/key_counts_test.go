package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

// mustEnvKey creates a key of the team in environment env ("live" or
// "test"), expiring at expires (nil: never).
func mustEnvKey(t *testing.T, st *Store, teamID int64, name, env string, expires *time.Time, act model.Actor) model.APIKey {
	t.Helper()
	raw, err := keys.Generate("kw", env)
	if err != nil {
		t.Fatal(err)
	}
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: teamID, Name: name, Environment: env,
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll, ExpiresAt: expires}
	if err := st.CreateKey(context.Background(), &k, act); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCountKeys(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		day := 24 * time.Hour
		start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		now := start
		st, acme, other, act := activityStore(t, dsn, &now)

		empty, err := st.CountKeys(ctx, acme.ID, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		if empty != (KeyCounts{}) {
			t.Fatalf("a team without keys: %+v", empty)
		}

		// Made on Jan 1, 120 days before the counts.
		mustEnvKey(t, st, acme.ID, "live, no expiry", "live", nil, act)
		mustEnvKey(t, st, acme.ID, "test, no expiry", "test", nil, act)
		revoked := mustEnvKey(t, st, acme.ID, "revoked, would expire in 3 days", "live", ptime(start.Add(123*day)), act)
		revokedExpired := mustEnvKey(t, st, acme.ID, "revoked, expired 2 days ago", "test", ptime(start.Add(118*day)), act)
		mustEnvKey(t, st, acme.ID, "expired 2 days ago", "test", ptime(start.Add(118*day)), act)
		mustEnvKey(t, st, acme.ID, "expired exactly 7 days ago", "live", ptime(start.Add(113*day)), act)
		mustEnvKey(t, st, acme.ID, "expired 8 days ago", "live", ptime(start.Add(112*day)), act)
		mustEnvKey(t, st, acme.ID, "test, expires in 3 days", "test", ptime(start.Add(123*day)), act)
		mustEnvKey(t, st, acme.ID, "expires in exactly 7 days", "live", ptime(start.Add(127*day)), act)
		mustEnvKey(t, st, acme.ID, "expires in 8 days", "live", ptime(start.Add(128*day)), act)
		// Another team's keys in every state count for it alone.
		mustEnvKey(t, st, other.ID, "other, expires in 3 days", "live", ptime(start.Add(123*day)), model.Actor{Label: "cli"})
		mustEnvKey(t, st, other.ID, "other, expired 2 days ago", "live", ptime(start.Add(118*day)), model.Actor{Label: "cli"})
		otherRevoked := mustEnvKey(t, st, other.ID, "other, revoked", "test", nil, model.Actor{Label: "cli"})

		now = start.Add(120 * day)
		mustEnvKey(t, st, acme.ID, "test, made today", "test", nil, act)
		for _, k := range []model.APIKey{revoked, revokedExpired} {
			if _, err := st.RevokeKey(ctx, acme.ID, k.PublicID, act); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.RevokeKey(ctx, other.ID, otherRevoked.PublicID, model.Actor{Label: "cli"}); err != nil {
			t.Fatal(err)
		}

		got, err := st.CountKeys(ctx, acme.ID, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Active: live no-expiry, test no-expiry, test 3 days, 7 days, 8
		// days, made today. None was used; all but today's are 120 days old.
		want := KeyCounts{
			Total:   11,
			Hygiene: KeyHygiene{NeverUsed: 5, Stale: 5, NoExpiry: 3, Expiring: 2},
			// Expiring: 3 days and exactly 7; expired: 2 days ago (not
			// revoked; exactly 7 days ago is out of the window).
			Notices: KeyNotices{Expiring: 2, Expired: 1},
		}
		if got != want {
			t.Fatalf("counts = %+v, want %+v", got, want)
		}
		if h, err := st.CountKeyHygiene(ctx, acme.ID, now, 0); err != nil || h != want.Hygiene {
			t.Fatalf("CountKeyHygiene = %+v, %v; want %+v", h, err, want.Hygiene)
		}
		// Each count equals what the table lists for it.
		for kind, n := range map[string]int64{HygieneNeverUsed: got.Hygiene.NeverUsed, HygieneStale: got.Hygiene.Stale,
			HygieneNoExpiry: got.Hygiene.NoExpiry, HygieneExpiring: got.Hygiene.Expiring} {
			_, total, err := st.FindKeys(ctx, HygieneFilter(model.KeyFilter{TeamID: acme.ID}, kind, now))
			if err != nil {
				t.Fatal(err)
			}
			if total != n {
				t.Errorf("%s: the table lists %d keys, the count is %d", kind, total, n)
			}
		}
		_, all, err := st.FindKeys(ctx, model.KeyFilter{TeamID: acme.ID, Now: now})
		if err != nil || all != got.Total {
			t.Fatalf("the table lists %d keys (%v), the count is %d", all, err, got.Total)
		}

		// Under a 100-day rotation policy the five 120-day-old active keys
		// are due, not today's.
		rot, err := st.CountKeys(ctx, acme.ID, now, 100)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Hygiene.RotationDue != 5 {
			t.Fatalf("rotation due = %d, want 5", rot.Hygiene.RotationDue)
		}

		o, err := st.CountKeys(ctx, other.ID, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := (KeyCounts{Total: 3, Hygiene: KeyHygiene{NeverUsed: 1, Stale: 1, Expiring: 1},
			Notices: KeyNotices{Expiring: 1, Expired: 1}}); o != want {
			t.Fatalf("other team's counts = %+v, want %+v", o, want)
		}

		// A day later the 8-day key expires within 7 days too; four days
		// later the 3-day key has expired and joins the key that expired
		// 2 days before (now 6).
		later, err := st.CountKeys(ctx, acme.ID, now.Add(day), 0)
		if err != nil {
			t.Fatal(err)
		}
		if later.Notices != (KeyNotices{Expiring: 3, Expired: 1}) || later.Hygiene.Expiring != 3 {
			t.Fatalf("a day later: %+v", later)
		}
		later, err = st.CountKeys(ctx, acme.ID, now.Add(4*day), 0)
		if err != nil {
			t.Fatal(err)
		}
		if later.Notices != (KeyNotices{Expiring: 2, Expired: 2}) || later.Hygiene.Expiring != 2 || later.Hygiene.NoExpiry != 3 {
			t.Fatalf("four days later: %+v", later)
		}
	})
}

// TestFindKeyRows: a page found by its ids first has the same rows, in the
// same order, as the whole rows sorted, for every sort, filter and offset,
// and never another team's keys.
func TestFindKeyRows(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		st, acme, other, act := activityStore(t, dsn, &now)
		names := []string{"billing", "Search", "crm", "Billing", "ingest"}
		var used []model.KeyUse
		for i := range 23 {
			env := "live"
			if i%4 == 3 {
				env = "test"
			}
			k := mustEnvKey(t, st, acme.ID, fmt.Sprintf("%s %02d", names[i%len(names)], i%7), env, nil, act)
			if i%3 == 0 {
				used = append(used, model.KeyUse{KeyID: k.ID, At: now.Add(time.Duration(i%5) * time.Minute), IP: "192.0.2.1", Requests: 1})
			}
			if i%6 == 5 {
				if _, err := st.RevokeKey(ctx, acme.ID, k.PublicID, act); err != nil {
					t.Fatal(err)
				}
			}
			mustEnvKey(t, st, other.ID, "billing other", "live", nil, model.Actor{Label: "cli"})
			if i%2 == 0 {
				now = now.Add(time.Minute) // some keys share created_at, so the id breaks ties
			}
		}
		if err := st.RecordUses(ctx, used); err != nil {
			t.Fatal(err)
		}
		ids := func(ks []model.APIKey) []int64 {
			out := make([]int64, len(ks))
			for i, k := range ks {
				out[i] = k.ID
			}
			return out
		}
		for _, sort := range []string{model.KeySortCreated, model.KeySortLastUsed, model.KeySortName} {
			for _, f := range []model.KeyFilter{{}, {Query: "billing"}, {Status: model.StatusActive}, {Environment: "test"}, {Status: model.StatusRevoked}} {
				f.TeamID, f.Sort, f.Now, f.Limit = acme.ID, sort, now, 200
				every, total, err := st.FindKeys(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(every)) != total || total == 0 {
					t.Fatalf("%+v: %d rows of %d", f, len(every), total)
				}
				for _, k := range every {
					if k.TeamID != acme.ID {
						t.Fatalf("%+v: another team's key %s", f, k.Name)
					}
				}
				for _, off := range []int{0, 4, 20, 40} {
					f.Offset, f.Limit = off, 4
					rows, err := st.FindKeyRows(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					want := every[min(off, len(every)):min(off+4, len(every))]
					if !slices.Equal(ids(rows), ids(want)) {
						t.Errorf("sort %s, %+v, offset %d: rows %v, want %v", sort, f, off, ids(rows), ids(want))
					}
				}
			}
		}
	})
}
