package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
)

// A rolled key keeps its predecessor's restrictions, and its quota starts
// from what the old key's budget holds.
func TestRollKeepsRestrictions(t *testing.T) {
	testdb.Dialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		c := &clock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		st := mustOpen(t, dsn, c)
		u, acme := mustSetup(t, st, "owner@example.com", "Acme")
		act := model.UserActor(u, "192.0.2.1")
		old, _ := newKey(t, acme.ID, "Edge", model.PermReadAll, nil)
		old.SetRestrictions(model.Restrictions{AllowedIPs: []string{"10.0.0.0/8"}, AllowedReferrers: []string{"*.example.com"},
			RateLimit: &model.RateLimit{Limit: 100, Period: "1m"}, Quota: &model.Quota{Remaining: 500, RefillAmount: 1000, RefillPeriod: "month"}}, c.t)
		if err := st.CreateKey(ctx, old, act); err != nil {
			t.Fatal(err)
		}
		if _, err := st.LeaseQuota(ctx, old.ID, 1000, c.t); err != nil { // 50 units spent elsewhere
			t.Fatal(err)
		}
		n, err := st.RollKey(ctx, acme.ID, old.PublicID, store.KeyRoll{New: successor(t, "live"), Grace: time.Hour}, act)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.FindKeyByID(ctx, acme.ID, n.PublicID)
		if err != nil {
			t.Fatal(err)
		}
		r := got.Restrictions()
		if strings.Join(r.AllowedIPs, ",") != "10.0.0.0/8" || strings.Join(r.AllowedReferrers, ",") != "*.example.com" ||
			r.RateLimit == nil || r.RateLimit.String() != "100/1m" || r.Quota == nil || r.Quota.Remaining != 450 ||
			r.Quota.RefillAmount != 1000 || r.Quota.RefillPeriod != "month" {
			t.Fatalf("the rolled key's restrictions %+v (quota %+v)", r, r.Quota)
		}
	})
}
