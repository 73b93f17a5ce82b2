package store

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
)

// quotaKey gives k a quota through UpdateKey and returns the stored key.
func setQuota(t *testing.T, st *Store, k model.APIKey, q model.Quota) model.APIKey {
	t.Helper()
	r := k.Restrictions()
	r.Quota = &q
	out, err := st.UpdateKey(context.Background(), k.TeamID, k.PublicID, model.KeyUpdate{Restrictions: &r}, model.Actor{Label: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLeaseQuota(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC)
		st, k, other := openUsageStore(t, dsn, now)
		k = setQuota(t, st, k, model.Quota{Remaining: 25})

		// A lease takes a tenth of what is left (at least 1), at most max.
		var got []int64
		var last model.QuotaLease
		for {
			l, err := st.LeaseQuota(ctx, k.ID, 1000, now)
			if err != nil {
				t.Fatal(err)
			}
			if l.Units == 0 {
				last = l
				break
			}
			got = append(got, l.Units)
		}
		// 25 → 2, 23 → 2, 21 → 2, then 19 leases of 1.
		sum := int64(0)
		for i, n := range got {
			sum += n
			if i < 3 && n != 2 || i >= 3 && n != 1 {
				t.Fatalf("lease %d took %d; leases %v", i, n, got)
			}
		}
		if sum != 25 || len(got) != 22 {
			t.Fatalf("leases %v (sum %d), want 3 of 2 and 19 of 1", got, sum)
		}
		if last.Remaining != 0 || last.Version != k.QuotaVersion {
			t.Fatalf("empty lease %+v", last)
		}
		if l, _ := st.LeaseQuota(ctx, k.ID, 3, now); l.Units != 0 {
			t.Fatalf("a spent quota leased %d", l.Units)
		}
		// max caps a lease.
		k = setQuota(t, st, k, model.Quota{Remaining: 1000})
		l, err := st.LeaseQuota(ctx, k.ID, 7, now)
		if err != nil || l.Units != 7 || l.Remaining != 993 {
			t.Fatalf("lease %+v, %v; want 7 of 1000", l, err)
		}
		// Returning puts units back, unless the quota was set anew since.
		if err := st.ReturnQuota(ctx, l, 5); err != nil {
			t.Fatal(err)
		}
		if k2, _ := st.FindKeyByID(ctx, k.TeamID, k.PublicID); *k2.QuotaRemaining != 998 {
			t.Fatalf("after return: %d left, want 998", *k2.QuotaRemaining)
		}
		k = setQuota(t, st, k, model.Quota{Remaining: 10})
		if err := st.ReturnQuota(ctx, l, 2); err != nil {
			t.Fatal(err)
		}
		if k2, _ := st.FindKeyByID(ctx, k.TeamID, k.PublicID); *k2.QuotaRemaining != 10 {
			t.Fatalf("a lease of an older quota came back: %d left, want 10", *k2.QuotaRemaining)
		}
		// A key without a quota has none to lease.
		if _, err := st.LeaseQuota(ctx, other.ID, 10, now); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("lease of a key without a quota: %v, want ENOTFOUND", err)
		}
	})
}

// Refill is lazy, on the next lease after the UTC period boundary, and a
// lease from the old period is not returned into the new one.
func TestQuotaRefillOnPeriodBoundary(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		now := time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC)
		st, k, other := openUsageStore(t, dsn, now)
		k = setQuota(t, st, k, model.Quota{Remaining: 3, RefillAmount: 100, RefillPeriod: model.RefillDay})
		other = setQuota(t, st, other, model.Quota{Remaining: 3, RefillAmount: 50, RefillPeriod: model.RefillMonth})

		old, err := st.LeaseQuota(ctx, k.ID, 1000, now)
		if err != nil || old.Units != 1 || !old.PeriodStart.Equal(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("lease %+v, %v", old, err)
		}
		// One second before midnight: no refill yet.
		l, _ := st.LeaseQuota(ctx, k.ID, 1000, time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC))
		if l.Remaining != 1 {
			t.Fatalf("refilled early: %+v", l)
		}
		next := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		l, err = st.LeaseQuota(ctx, k.ID, 1000, next)
		if err != nil || l.Units != 10 || l.Remaining != 90 || !l.PeriodStart.Equal(next) {
			t.Fatalf("lease after midnight %+v, %v; want 10 of a refilled 100", l, err)
		}
		if err := st.ReturnQuota(ctx, old, 1); err != nil {
			t.Fatal(err)
		}
		if k2, _ := st.FindKeyByID(ctx, k.TeamID, k.PublicID); *k2.QuotaRemaining != 90 {
			t.Fatalf("a lease of yesterday came back into today: %d left", *k2.QuotaRemaining)
		}
		// A second lease the same day does not refill again.
		if l, _ := st.LeaseQuota(ctx, k.ID, 1000, next.Add(time.Hour)); l.Remaining != 81 {
			t.Fatalf("second lease %+v", l)
		}
		// Monthly: refilled on the 1st.
		if l, _ := st.LeaseQuota(ctx, other.ID, 1000, next); l.Units != 5 || l.Remaining != 45 {
			t.Fatalf("monthly lease on the 1st %+v", l)
		}
	})
}
