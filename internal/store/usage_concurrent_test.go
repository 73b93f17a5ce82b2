package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

// TestConcurrentRecordUses flushes overlapping batches at the same time,
// as several instances serving the same keys do. Each batch must lock its
// rows in one order (key id, then day): otherwise two flushes lock the same
// rows in different orders and PostgreSQL aborts one as a deadlock.
func TestConcurrentRecordUses(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
		st, first, _ := openUsageStore(t, dsn, now)
		const nKeys, flushes = 200, 8
		// SQLite has one writer at a time and one instance; two writers
		// there keep the waits well inside its busy timeout.
		writers := 4
		if st.Dialect() == SQLite {
			writers = 2
		}
		batch := make([]model.APIKey, nKeys)
		for i := range batch {
			raw, _ := keys.Generate("kw", "live")
			batch[i] = model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: first.TeamID, Name: fmt.Sprintf("k%d", i),
				Environment: "live", KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll,
				Scopes: []string{}, CreatedBy: "test", CreatedAt: now, UpdatedAt: now}
		}
		if err := st.db.WithContext(ctx).Create(&batch).Error; err != nil {
			t.Fatal(err)
		}
		yesterday := now.Add(-24 * time.Hour)
		var wg sync.WaitGroup
		errs := make(chan error, writers*flushes)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for f := range flushes {
					uses := make([]model.KeyUse, 0, 2*nKeys)
					for _, k := range batch {
						at := now.Add(time.Duration(w*flushes+f) * time.Millisecond)
						uses = append(uses,
							model.KeyUse{KeyID: k.ID, At: at, IP: "192.0.2.1", Requests: 1},
							model.KeyUse{KeyID: k.ID, At: yesterday, IP: "192.0.2.2", Refused: 1})
					}
					r.Shuffle(len(uses), func(i, j int) { uses[i], uses[j] = uses[j], uses[i] })
					if err := st.RecordUses(ctx, uses); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent flush failed: %v", err)
		}
		for _, k := range []model.APIKey{batch[0], batch[nKeys/2], batch[nKeys-1]} {
			if got := usageOn(t, st, k.ID, now); got.Requests != int64(writers*flushes) {
				t.Fatalf("key %d: %d requests today, want %d", k.ID, got.Requests, writers*flushes)
			}
			if got := usageOn(t, st, k.ID, yesterday); got.Refused != int64(writers*flushes) {
				t.Fatalf("key %d: %d refused yesterday, want %d", k.ID, got.Refused, writers*flushes)
			}
		}
	})
}
