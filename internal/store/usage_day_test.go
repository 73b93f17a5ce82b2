package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

// TestLastUsedDay: api_keys.last_used_day, which the hygiene counts read,
// is the UTC midnight of the last use, follows every flush, and is unset
// for a key never used.
func TestLastUsedDay(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 23, 59, 59, 0, time.UTC)
		st, acme, _, act := activityStore(t, dsn, &now)
		used := mustKey(t, st, acme.ID, "used", nil, act)
		mustKey(t, st, acme.ID, "never used", nil, act)
		count := func(where string, args ...any) int64 {
			t.Helper()
			var n int64
			if err := st.db.WithContext(ctx).Model(&model.APIKey{}).Where("team_id = ?", acme.ID).Where(where, args...).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count("last_used_day IS NULL"); n != 2 {
			t.Fatalf("%d keys without a last-used day before any use, want 2", n)
		}
		for _, at := range []time.Time{now, now.Add(2 * time.Second)} {
			if err := st.RecordUses(ctx, []model.KeyUse{{KeyID: used.ID, At: at, IP: "192.0.2.9", Requests: 1}}); err != nil {
				t.Fatal(err)
			}
			day := at.Truncate(24 * time.Hour)
			if n := count("last_used_day = ?", day); n != 1 {
				t.Fatalf("after a use at %v, %d keys have the last-used day %v, want 1", at, n, day)
			}
		}
	})
}

// TestLastUseUpdatesInPlace: on PostgreSQL, a flush that moves a key's
// last use within the same day changes no indexed column, so the rows are
// updated in place (HOT), adding no index entries. (While last_used_at was
// indexed, none was.)
func TestLastUseUpdatesInPlace(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	st, acme, _, act := activityStore(t, testdb.Postgres(t), &now)
	const n = 20
	var uses []model.KeyUse
	for range n {
		k := mustKey(t, st, acme.ID, "busy", nil, act)
		uses = append(uses, model.KeyUse{KeyID: k.ID, At: now, IP: "192.0.2.9", Requests: 3})
	}
	if err := st.RecordUses(ctx, uses); err != nil {
		t.Fatal(err)
	}
	// An update in place needs room on the row's page. The previous
	// flush's old row versions make that room once they are pruned, which
	// waits for every snapshot in the database older than that flush (an
	// autovacuum worker's, say). So the flush is tried a few times, each
	// moving the last use an hour on within the same day; while
	// last_used_at was indexed, no attempt updated a single row in place.
	var upd, hot int64
	for attempt := 1; attempt <= 5; attempt++ {
		time.Sleep(time.Duration(attempt-1) * 200 * time.Millisecond)
		for i := range uses {
			uses[i].At = now.Add(time.Duration(attempt) * time.Hour)
		}
		if upd, hot = flushInPlace(t, st, uses); upd == n && hot*10 >= upd*9 {
			return
		}
	}
	t.Fatalf("the flush updated %d rows, %d of them in place; want %d, at least 90 %% in place", upd, hot, n)
}

// flushInPlace runs the last-use flush's UPDATE for uses and returns how
// many rows it updated and how many of those in place (HOT).
func flushInPlace(t *testing.T, st *Store, uses []model.KeyUse) (upd, hot int64) {
	t.Helper()
	last, _ := st.groupUses(uses)
	lastJSON, err := json.Marshal(last)
	if err != nil {
		t.Fatal(err)
	}
	// The counters of this connection's statistics not yet reported, read
	// before and after the flush's UPDATE in one transaction (so on one
	// connection): their difference is that statement's.
	type counts struct{ Upd, Hot int64 }
	var before, after counts
	read := func(tx *gorm.DB, c *counts) error {
		return tx.Raw("SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_xact_user_tables WHERE relname = 'api_keys'").Scan(c).Error
	}
	err = st.db.WithContext(context.Background()).Transaction(func(tx *gorm.DB) error {
		if err := read(tx, &before); err != nil {
			return err
		}
		if err := tx.Exec(pgLastUsedSQL, string(lastJSON)).Error; err != nil {
			return err
		}
		return read(tx, &after)
	})
	if err != nil {
		t.Fatal(err)
	}
	return after.Upd - before.Upd, after.Hot - before.Hot
}
