package store

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

// openUsageStore opens a migrated store with a team and two keys.
func openUsageStore(t *testing.T, dsn string, now time.Time) (*Store, model.APIKey, model.APIKey) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, dsn, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, team, err := st.Setup(ctx, "owner@example.com", "hash", "Acme", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string) model.APIKey {
		raw, _ := keys.Generate("kw", "live")
		k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: team.ID, Name: name, Environment: "live",
			KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll}
		if err := st.CreateKey(ctx, &k, model.UserActor(u, "")); err != nil {
			t.Fatal(err)
		}
		return k
	}
	return st, mk("one"), mk("two")
}

type usageRow struct {
	Requests      int64
	Refused       int64
	LastRefusedAt *time.Time
	LastRefusedIP string
}

func usageOn(t *testing.T, st *Store, keyID int64, day time.Time) usageRow {
	t.Helper()
	var r usageRow
	err := st.db.Table("key_usage").Select("requests, refused, last_refused_at, last_refused_ip").
		Where("key_id = ? AND day = ?", keyID, st.formatDay(day)).Take(&r).Error
	if err != nil {
		t.Fatalf("usage of key %d on %s: %v", keyID, day.Format(time.DateOnly), err)
	}
	return r
}

func TestRecordUses(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		day1 := time.Date(2026, 5, 1, 23, 59, 58, 500_000_000, time.UTC)
		day2 := day1.Add(3 * time.Second) // just past midnight UTC
		st, one, two := openUsageStore(t, dsn, day1)

		err := st.RecordUses(ctx, []model.KeyUse{
			{KeyID: one.ID, At: day1.Add(-time.Minute), IP: "192.0.2.10", Requests: 5},
			{KeyID: one.ID, At: day1, IP: "192.0.2.11", Requests: 2},
			{KeyID: one.ID, At: day2, IP: "2001:db8::1", Requests: 1},
			{KeyID: two.ID, At: day1, IP: "192.0.2.20", Refused: 3},
			{KeyID: 999999, At: day1, IP: "192.0.2.99", Requests: 1}, // deleted meanwhile
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.FindKeyByID(ctx, one.TeamID, one.PublicID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(day2) || got.LastUsedIP != "2001:db8::1" {
			t.Fatalf("key one last used %v from %q; want %v from 2001:db8::1", got.LastUsedAt, got.LastUsedIP, day2)
		}
		if got, _ := st.FindKeyByID(ctx, two.TeamID, two.PublicID); got.LastUsedAt != nil {
			t.Fatalf("a refused key's last use moved to %v", got.LastUsedAt)
		}
		if r := usageOn(t, st, one.ID, day1); r.Requests != 7 || r.Refused != 0 || r.LastRefusedAt != nil {
			t.Fatalf("key one day 1: %+v", r)
		}
		if r := usageOn(t, st, one.ID, day2); r.Requests != 1 {
			t.Fatalf("key one day 2: %+v", r)
		}
		if r := usageOn(t, st, two.ID, day1); r.Refused != 3 || r.Requests != 0 || r.LastRefusedAt == nil ||
			!r.LastRefusedAt.Equal(day1) || r.LastRefusedIP != "192.0.2.20" {
			t.Fatalf("key two day 1: %+v", r)
		}

		// A later flush with an older use adds its counts but never moves
		// the time (or IP) back.
		err = st.RecordUses(ctx, []model.KeyUse{
			{KeyID: one.ID, At: day1.Add(-time.Hour), IP: "198.51.100.1", Requests: 4},
			{KeyID: two.ID, At: day1.Add(-time.Hour), IP: "198.51.100.2", Refused: 1},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ = st.FindKeyByID(ctx, one.TeamID, one.PublicID)
		if !got.LastUsedAt.Equal(day2) || got.LastUsedIP != "2001:db8::1" {
			t.Fatalf("last use went back to %v from %q", got.LastUsedAt, got.LastUsedIP)
		}
		if r := usageOn(t, st, one.ID, day1); r.Requests != 11 {
			t.Fatalf("key one day 1 after second flush: %+v, want 11 requests", r)
		}
		if r := usageOn(t, st, two.ID, day1); r.Refused != 4 || !r.LastRefusedAt.Equal(day1) || r.LastRefusedIP != "192.0.2.20" {
			t.Fatalf("key two day 1 after second flush: %+v", r)
		}

		// A newer use moves it forward, and FindKeyUsage reads the days back.
		later := day2.Add(time.Hour)
		if err := st.RecordUses(ctx, []model.KeyUse{{KeyID: one.ID, At: later, IP: "192.0.2.12", Requests: 1}}); err != nil {
			t.Fatal(err)
		}
		got, _ = st.FindKeyByID(ctx, one.TeamID, one.PublicID)
		if !got.LastUsedAt.Equal(later) || got.LastUsedIP != "192.0.2.12" {
			t.Fatalf("last use %v from %q; want %v", got.LastUsedAt, got.LastUsedIP, later)
		}
		days, err := st.FindKeyUsage(ctx, one.ID, day1.Add(-48*time.Hour), later)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 2 || !days[0].Day.Equal(day1.Truncate(24*time.Hour)) || days[0].Requests != 11 ||
			!days[1].Day.Equal(day2.Truncate(24*time.Hour)) || days[1].Requests != 2 {
			t.Fatalf("usage days: %+v", days)
		}
		if days, _ := st.FindKeyUsage(ctx, one.ID, day2, day2); len(days) != 1 || days[0].Requests != 2 {
			t.Fatalf("usage of day 2 only: %+v", days)
		}
		if err := st.RecordUses(ctx, nil); err != nil {
			t.Fatalf("empty batch: %v", err)
		}
	})
}

func TestRecordUsesUnavailable(t *testing.T) {
	st, one, _ := openUsageStore(t, testdb.Postgres(t), time.Now())
	st.Close()
	err := st.RecordUses(context.Background(), []model.KeyUse{{KeyID: one.ID, At: time.Now(), Requests: 1}})
	if err == nil {
		t.Fatal("RecordUses on a closed store succeeded")
	}
}
