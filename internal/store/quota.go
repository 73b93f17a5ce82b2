package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/keyward/keyward/internal/model"
)

// LeaseQuota takes a share of the key's quota for this instance to spend in
// memory, in one transaction: first a lazy refill (if the key refills per
// day or month and its budget belongs to an earlier UTC period than now's,
// the budget is set back to the refill amount for now's period), then the
// lease itself, one UPDATE … RETURNING that takes
// n = max(1, min(max, remaining/10)) units (all that is left when fewer
// remain) and returns what it took. Taking at most a tenth of what is left
// keeps leases small when the budget runs low, so that one instance does
// not hold the last units while another refuses.
//
// It returns a lease with Units 0 when nothing is left, and ENOTFOUND if the
// key does not exist or has no quota.
func (s *Store) LeaseQuota(ctx context.Context, keyID, max int64, now time.Time) (model.QuotaLease, error) {
	day, month := model.PeriodStart(model.RefillDay, now), model.PeriodStart(model.RefillMonth, now)
	leaseSQL, refillSQL := pgLeaseSQL, pgRefillSQL
	if s.dialect == SQLite {
		leaseSQL, refillSQL = sqliteLeaseSQL, sqliteRefillSQL
	}
	var row struct {
		QuotaLease        int64
		QuotaRemaining    int64
		QuotaVersion      int64
		QuotaPeriodStart  time.Time
		QuotaRefillPeriod string
		QuotaRefillAmount int64
	}
	var found bool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Exec(refillSQL, day, month, keyID, day, month).Error
		if err != nil {
			return err
		}
		res := tx.Raw(leaseSQL, max, max, keyID).Scan(&row)
		found = res.RowsAffected > 0
		return res.Error
	})
	if err != nil {
		return model.QuotaLease{}, translate(err)
	}
	if !found {
		return model.QuotaLease{}, model.Errorf(model.ENOTFOUND, "The key has no quota.")
	}
	return model.QuotaLease{
		KeyID: keyID, Units: row.QuotaLease, Remaining: row.QuotaRemaining, Version: row.QuotaVersion,
		PeriodStart: row.QuotaPeriodStart.UTC(), RefillPeriod: row.QuotaRefillPeriod, RefillAmount: row.QuotaRefillAmount,
	}, nil
}

// ReturnQuota gives units of a lease back to the key's quota, unless the
// quota was set anew (another version) or refilled (another period) since
// the lease was taken: then the units belong to a budget that no longer
// exists and are dropped. It is what a clean shutdown does with what it
// did not spend.
func (s *Store) ReturnQuota(ctx context.Context, l model.QuotaLease, units int64) error {
	if units <= 0 {
		return nil
	}
	err := s.db.WithContext(ctx).Exec(returnSQL, units, l.KeyID, l.Version, l.PeriodStart.UTC()).Error
	return translate(err)
}

const (
	// The refill statements' parameters: the day's and month's start, the
	// key, and the same two starts again.
	pgRefillSQL = `UPDATE api_keys SET
    quota_remaining = quota_refill_amount,
    quota_period_start = CASE quota_refill_period WHEN 'day' THEN CAST(? AS timestamptz) ELSE CAST(? AS timestamptz) END
WHERE id = ? AND quota_remaining IS NOT NULL AND quota_refill_period <> ''
  AND (quota_period_start IS NULL OR quota_period_start < CASE quota_refill_period WHEN 'day' THEN CAST(? AS timestamptz) ELSE CAST(? AS timestamptz) END)`

	sqliteRefillSQL = `UPDATE api_keys SET
    quota_remaining = quota_refill_amount,
    quota_period_start = CASE quota_refill_period WHEN 'day' THEN ? ELSE ? END
WHERE id = ? AND quota_remaining IS NOT NULL AND quota_refill_period <> ''
  AND (quota_period_start IS NULL OR quota_period_start < CASE quota_refill_period WHEN 'day' THEN ? ELSE ? END)`

	// The SET expressions all read the row as it was, so quota_lease is
	// the number of units taken from the old remaining.
	pgLeaseSQL = `UPDATE api_keys SET
    quota_lease = LEAST(quota_remaining, GREATEST(1, LEAST(CAST(? AS bigint), quota_remaining / 10))),
    quota_remaining = quota_remaining - LEAST(quota_remaining, GREATEST(1, LEAST(CAST(? AS bigint), quota_remaining / 10)))
WHERE id = ? AND quota_remaining IS NOT NULL
RETURNING quota_lease, quota_remaining, quota_version, quota_period_start, quota_refill_period, quota_refill_amount`

	sqliteLeaseSQL = `UPDATE api_keys SET
    quota_lease = MIN(quota_remaining, MAX(1, MIN(CAST(? AS INTEGER), quota_remaining / 10))),
    quota_remaining = quota_remaining - MIN(quota_remaining, MAX(1, MIN(CAST(? AS INTEGER), quota_remaining / 10)))
WHERE id = ? AND quota_remaining IS NOT NULL
RETURNING quota_lease, quota_remaining, quota_version, quota_period_start, quota_refill_period, quota_refill_amount`

	returnSQL = `UPDATE api_keys SET quota_remaining = quota_remaining + ?
WHERE id = ? AND quota_remaining IS NOT NULL AND quota_version = ? AND quota_period_start = ?`
)
