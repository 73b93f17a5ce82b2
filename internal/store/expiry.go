package store

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// Expiry thresholds of the scanner.
const (
	Expiry7Days = "7d"
	Expiry1Day  = "1d"
	ExpiryPast  = "expired"
)

// expiryScanLock is the PostgreSQL advisory lock that lets one instance at a
// time scan for expiring keys.
const expiryScanLock = 0x6b77_6578 // "kwex"

// expiredWindow is how long after its expiry a key still gets its
// api_key.expired event (a scanner that was down catches up within it).
const expiredWindow = 7 * 24 * time.Hour

// ScanExpiry emits api_key.expiring for keys that expire within 7 days and
// within 1 day, and api_key.expired for keys that expired in the last 7
// days: once per key, threshold and expiry date (an edited expiry starts
// over), remembered in key_expiry_notices so restarts and other instances
// do not repeat them. On PostgreSQL it runs only if it gets the scan's
// advisory lock (ran reports whether it did). It handles at most limit keys
// per call and returns how many events it wrote.
func (s *Store) ScanExpiry(ctx context.Context, limit int) (emitted int, ran bool, err error) {
	err = s.inTx(ctx, func(tx *txn) error {
		if got, err := tx.tryScanLock(expiryScanLock); err != nil || !got {
			return err
		}
		ran = true
		now := s.Now()
		in1, in7 := now.Add(24*time.Hour), now.Add(7*24*time.Hour)
		var ks []model.APIKey
		err := tx.Raw(`SELECT * FROM api_keys k
			WHERE k.revoked_at IS NULL AND k.expires_at IS NOT NULL AND k.expires_at <= ? AND k.expires_at > ?
			AND NOT EXISTS (SELECT 1 FROM key_expiry_notices n WHERE n.key_id = k.id AND n.expires_at = k.expires_at
				AND n.threshold = (CASE WHEN k.expires_at <= ? THEN 'expired' WHEN k.expires_at <= ? THEN '1d' ELSE '7d' END))
			ORDER BY k.expires_at, k.id LIMIT ?`, in7, now.Add(-expiredWindow), now, in1, limit).Scan(&ks).Error
		if err != nil {
			return err
		}
		for _, k := range ks {
			threshold, typ := Expiry7Days, model.EventKeyExpiring
			switch {
			case !k.ExpiresAt.After(now):
				threshold, typ = ExpiryPast, model.EventKeyExpired
			case !k.ExpiresAt.After(in1):
				threshold = Expiry1Day
			}
			// The expiry is copied by the database, so the NOT EXISTS above
			// compares a value with itself whatever the driver's time format.
			res := tx.Exec(`INSERT INTO key_expiry_notices (key_id, threshold, expires_at, created_at)
				SELECT id, ?, expires_at, ? FROM api_keys WHERE id = ? ON CONFLICT DO NOTHING`, threshold, now, k.ID)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				continue
			}
			data := map[string]any{
				"object": "api_key", "id": k.PublicID, "name": k.Name, "environment": k.Environment, "hint": k.Hint,
				"expires_at": k.ExpiresAt.UTC().Format(time.RFC3339), "threshold": threshold,
			}
			if _, err := tx.emit(k.TeamID, typ, k.PublicID, data); err != nil {
				return err
			}
			emitted++
		}
		return nil
	})
	return emitted, ran, err
}

// KeyNotices counts a team's keys that need attention, for the notice on
// the API keys page: active keys expiring within 7 days and keys that
// expired within the last 7 days (not revoked). CountKeys counts them.
type KeyNotices struct {
	Expiring int64
	Expired  int64
}

// noticeWindow is how soon an active key must expire to be in the API keys
// page's notice.
const noticeWindow = 7 * 24 * time.Hour
