package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

func TestFindKeysUsage(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 5, 14, 12, 0, 0, 0, time.UTC)
		st, acme, _, act := activityStore(t, dsn, &now)
		a := mustKey(t, st, acme.ID, "a", nil, act)
		b := mustKey(t, st, acme.ID, "b", nil, act)
		c := mustKey(t, st, acme.ID, "c, unused", nil, act)
		day := 24 * time.Hour
		err := st.RecordUses(ctx, []model.KeyUse{
			{KeyID: a.ID, At: now.Add(-20 * day), Requests: 9}, // before the window
			{KeyID: a.ID, At: now.Add(-13 * day), Requests: 2}, // first day of the window
			{KeyID: a.ID, At: now.Add(-2 * day), Requests: 5},
			{KeyID: a.ID, At: now, Requests: 1},
			{KeyID: b.ID, At: now.Add(-1 * day), Requests: 7, Refused: 3},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.FindKeysUsage(ctx, []int64{a.ID, b.ID, c.ID}, now.Add(-13*day), now)
		if err != nil {
			t.Fatal(err)
		}
		counts := func(days []model.UsageDay) []int64 {
			var out []int64
			for _, d := range days {
				out = append(out, d.Requests)
			}
			return out
		}
		if len(got) != 2 {
			t.Fatalf("usage of %d keys, want 2 (c has none): %+v", len(got), got)
		}
		if c := counts(got[a.ID]); !slices.Equal(c, []int64{2, 5, 1}) {
			t.Fatalf("key a: %v, want [2 5 1]", c)
		}
		if !got[a.ID][0].Day.Equal(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("first day of a = %v", got[a.ID][0].Day)
		}
		if d := got[b.ID]; len(d) != 1 || d[0].Requests != 7 || d[0].Refused != 3 || d[0].KeyID != b.ID {
			t.Fatalf("key b: %+v", d)
		}
		if got, err := st.FindKeysUsage(ctx, nil, now, now); err != nil || len(got) != 0 {
			t.Fatalf("no keys: %v, %v", got, err)
		}
	})
}

func TestFindRefusedCalls(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		st, acme, other, act := activityStore(t, dsn, &now)
		revoked := mustKey(t, st, acme.ID, "revoked", nil, act)
		expired := mustKey(t, st, acme.ID, "expired", ptime(now.Add(time.Hour)), act)
		active := mustKey(t, st, acme.ID, "active", nil, act)
		foreign := mustKey(t, st, other.ID, "foreign", nil, model.Actor{Label: "cli"})

		// Refusals from before the revocation (an earlier spell as an
		// expired key) are not counted as refused since it was revoked.
		if err := st.RecordUses(ctx, []model.KeyUse{{KeyID: revoked.ID, At: now.Add(-48 * time.Hour), IP: "198.51.100.1", Refused: 4}}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Hour) // 11:00: the expired key expired at 10:00
		if _, err := st.RevokeKey(ctx, acme.ID, revoked.PublicID, act); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RevokeKey(ctx, other.ID, foreign.PublicID, model.Actor{Label: "cli"}); err != nil {
			t.Fatal(err)
		}
		err := st.RecordUses(ctx, []model.KeyUse{
			{KeyID: revoked.ID, At: now.Add(time.Minute), IP: "203.0.113.5", Refused: 5},
			{KeyID: revoked.ID, At: now.Add(26 * time.Hour), IP: "203.0.113.7", Refused: 7},
			{KeyID: revoked.ID, At: now.Add(25 * time.Hour), IP: "203.0.113.6", Refused: 1},
			{KeyID: expired.ID, At: now, IP: "2001:db8::9", Refused: 2},
			{KeyID: active.ID, At: now, IP: "192.0.2.3", Requests: 3},
			{KeyID: foreign.ID, At: now.Add(time.Minute), IP: "192.0.2.66", Refused: 9},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.FindRefusedCalls(ctx, acme.ID, []int64{revoked.ID, expired.ID, active.ID, foreign.ID})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]RefusedCalls{
			revoked.ID: {KeyID: revoked.ID, Count: 13, LastAt: now.Add(26 * time.Hour), LastIP: "203.0.113.7"},
			expired.ID: {KeyID: expired.ID, Count: 2, LastAt: now, LastIP: "2001:db8::9"},
		}
		if len(got) != len(want) {
			t.Fatalf("refused calls of %d keys, want %d: %+v", len(got), len(want), got)
		}
		for id, w := range want {
			g := got[id]
			if g.KeyID != w.KeyID || g.Count != w.Count || !g.LastAt.Equal(w.LastAt) || g.LastIP != w.LastIP {
				t.Errorf("key %d: got %+v, want %+v", id, g, w)
			}
		}
		if got, err := st.FindRefusedCalls(ctx, acme.ID, nil); err != nil || len(got) != 0 {
			t.Fatalf("no keys: %v, %v", got, err)
		}
	})
}

func TestFindKeysByIDs(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		st, acme, other, act := activityStore(t, dsn, &now)
		a := mustKey(t, st, acme.ID, "a", nil, act)
		b := mustKey(t, st, acme.ID, "b", nil, act)
		foreign := mustKey(t, st, other.ID, "foreign", nil, model.Actor{Label: "cli"})

		got, err := st.FindKeysByIDs(ctx, acme.ID, []string{b.PublicID, a.PublicID, b.PublicID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != b.ID || got[1].ID != a.ID {
			t.Fatalf("got %+v, want b then a", got)
		}
		for _, ids := range [][]string{{a.PublicID, foreign.PublicID}, {"key_nope"}} {
			if _, err := st.FindKeysByIDs(ctx, acme.ID, ids); model.ErrorCode(err) != model.ENOTFOUND {
				t.Fatalf("ids %v: err %v, want ENOTFOUND", ids, err)
			}
		}
		exists, err := st.ExistingKeyIDs(ctx, acme.ID, []string{a.PublicID, foreign.PublicID, "key_nope"})
		if err != nil {
			t.Fatal(err)
		}
		if len(exists) != 1 || !exists[a.PublicID] {
			t.Fatalf("existing = %v, want only a", exists)
		}
	})
}
