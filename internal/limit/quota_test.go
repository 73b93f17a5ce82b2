package limit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// quotaKey opens a migrated store on dsn and creates a key with quota q.
func quotaKey(t *testing.T, dsn string, now func() time.Time, q model.Quota) (*store.Store, model.APIKey) {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, dsn, now)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, team, err := st.Setup(ctx, "owner@example.com", "hash", "Acme", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := keys.Generate("kw", "live")
	k := model.APIKey{PublicID: keys.NewPublicID("key"), TeamID: team.ID, Name: "metered", Environment: "live",
		KeyHash: keys.Hash(raw), Hint: keys.Hint(raw), PermissionSet: model.PermReadAll}
	k.SetRestrictions(model.Restrictions{Quota: &q}, now())
	if err := st.CreateKey(ctx, &k, model.UserActor(u, "")); err != nil {
		t.Fatal(err)
	}
	return st, k
}

func openStore(t *testing.T, dsn string, now func() time.Time) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func remaining(t *testing.T, st *store.Store, k model.APIKey) int64 {
	t.Helper()
	got, err := st.FindKeyByID(context.Background(), k.TeamID, k.PublicID)
	if err != nil || got.QuotaRemaining == nil {
		t.Fatalf("%+v %v", got.QuotaRemaining, err)
	}
	return *got.QuotaRemaining
}

// Two instances (two stores, two Quotas) spend one quota of N under
// concurrent load. Units are leased before they are spent, so together they
// never admit more than N (the documented overshoot bound is zero; what a
// lease holds makes an instance refuse early at worst). Clients keep going
// until each has been refused, so that every lease is spent: then exactly N
// were admitted. A clean shutdown (Close) returns what is unspent, so that
// admitted + what the database holds is N at every stop.
func TestQuotaTwoInstances(t *testing.T) {
	const n = 1500
	dsn := testdb.Postgres(t)
	now := func() time.Time { return time.Now() }
	stA, k := quotaKey(t, dsn, now, model.Quota{Remaining: n})
	stB := openStore(t, dsn, now)
	a := limit.NewQuotas(stA, limit.QuotaOptions{MaxLease: 50})
	b := limit.NewQuotas(stB, limit.QuotaOptions{MaxLease: 50})

	var admitted atomic.Int64
	run := func(stopAfter int64) {
		var wg sync.WaitGroup
		for w := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := a
				if w%2 == 1 {
					q = b
				}
				for i := int64(0); stopAfter == 0 || i < stopAfter; i++ {
					res, err := q.Spend(context.Background(), k.ID, k.QuotaVersion, time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					if !res.Allowed {
						return
					}
					admitted.Add(1)
				}
			}()
		}
		wg.Wait()
	}
	// Part of the budget, then a clean shutdown of both.
	run(40)
	if got := admitted.Load(); got != 12*40 {
		t.Fatalf("admitted %d of the first %d calls", got, 12*40)
	}
	if err := a.Close(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if left := remaining(t, stA, k); admitted.Load()+left != n {
		t.Fatalf("after a clean shutdown %d admitted + %d left = %d, want exactly %d", admitted.Load(), left, admitted.Load()+left, n)
	}
	// The rest, until every client is refused.
	run(0)
	if got := admitted.Load(); got != n {
		t.Fatalf("admitted %d in all, want exactly %d", got, n)
	}
	if left := remaining(t, stA, k); left != 0 {
		t.Fatalf("%d left in the database", left)
	}
	for _, q := range []*limit.Quotas{a, b} {
		if res, err := q.Spend(context.Background(), k.ID, k.QuotaVersion, time.Now()); err != nil || res.Allowed {
			t.Fatalf("a spent quota: %+v, %v", res, err)
		}
	}
}

// A quota refilled per day is refilled lazily at the first call after UTC
// midnight (an injected clock), and what a lease of the old day held is
// not spent in the new one.
func TestQuotaRefillWithClock(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		var clock atomic.Pointer[time.Time]
		set := func(at time.Time) { clock.Store(&at) }
		now := func() time.Time { return *clock.Load() }
		set(time.Date(2026, 6, 1, 23, 59, 50, 0, time.UTC))
		st, k := quotaKey(t, dsn, now, model.Quota{Remaining: 4, RefillAmount: 20, RefillPeriod: model.RefillDay})
		q := limit.NewQuotas(st, limit.QuotaOptions{})
		spend := func() limit.QuotaResult {
			t.Helper()
			res, err := q.Spend(context.Background(), k.ID, k.QuotaVersion, now())
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		for i := range 4 {
			if res := spend(); !res.Allowed || !res.NextRefill.Equal(time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("call %d: %+v", i+1, res)
			}
		}
		if spend().Allowed {
			t.Fatal("admitted past the quota")
		}
		set(time.Date(2026, 6, 1, 23, 59, 59, 999_000_000, time.UTC))
		if spend().Allowed {
			t.Fatal("refilled before midnight")
		}
		set(time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC))
		admitted := 0
		for spend().Allowed {
			admitted++
		}
		if admitted != 20 {
			t.Fatalf("after midnight %d admitted, want the refill of 20", admitted)
		}
	})
}

// TestQuotaLeaseOutlivesItsCaller: the lease a request takes serves every
// later request of the key, so a caller that goes away does not cut it
// short: it is taken and kept, and no unit is lost.
func TestQuotaLeaseOutlivesItsCaller(t *testing.T) {
	const n = 100
	now := func() time.Time { return time.Now() }
	st, k := quotaKey(t, testdb.Postgres(t), now, model.Quota{Remaining: n})
	q := limit.NewQuotas(st, limit.QuotaOptions{MaxLease: 10})
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := q.Spend(gone, k.ID, k.QuotaVersion, now())
	if err != nil || !res.Allowed {
		t.Fatalf("a request whose caller went away: %+v %v, want its lease taken and the unit spent", res, err)
	}
	left, ok := q.Left(k.ID)
	if !ok {
		t.Fatal("no lease held after the canceled caller's request")
	}
	if db := remaining(t, st, k); left != n-1 || db != n-10 {
		t.Fatalf("left %d (database %d), want %d with %d in the database", left, db, n-1, n-10)
	}
	if err := q.Close(context.Background(), now()); err != nil {
		t.Fatal(err)
	}
	if db := remaining(t, st, k); db != n-1 {
		t.Fatalf("after Close the database holds %d, want %d: units lost", db, n-1)
	}
}
