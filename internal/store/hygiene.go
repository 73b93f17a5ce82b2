package store

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// Kinds of keys the hygiene panel counts. Each is a lens on the team's
// active keys (revoked and expired keys already fail every call).
const (
	HygieneNeverUsed = "never_used" // never used, and created more than NeverUsedAfter ago
	HygieneStale     = "stale"      // unused (or, if never used, created) more than StaleAfter ago
	HygieneNoExpiry  = "no_expiry"  // never expire
	HygieneExpiring  = "expiring"   // expire within model.ExpiresSoonWindow
	// HygieneRotationDue: not rolled and older than the team's rotation_days.
	HygieneRotationDue = "rotation_due"
)

// NeverUsedAfter is how old an unused key must be to count as never used:
// a key made today has not had its chance yet.
const NeverUsedAfter = 24 * time.Hour

// StaleAfter is how long a key may go unused before it is a candidate for
// cleanup.
const StaleAfter = 90 * 24 * time.Hour

// KeyHygiene counts a team's active keys that deserve a look. A key may be
// counted more than once (a key never used in 100 days is also stale).
type KeyHygiene struct {
	NeverUsed int64
	Stale     int64
	NoExpiry  int64
	Expiring  int64
	// RotationDue counts only under a rotation policy.
	RotationDue int64
}

// Any reports whether any count is above zero.
func (h KeyHygiene) Any() bool {
	return h.NeverUsed > 0 || h.Stale > 0 || h.NoExpiry > 0 || h.Expiring > 0 || h.RotationDue > 0
}

// ValidHygiene reports whether kind is one of the Hygiene* kinds.
func ValidHygiene(kind string) bool {
	switch kind {
	case HygieneNeverUsed, HygieneStale, HygieneNoExpiry, HygieneExpiring, HygieneRotationDue:
		return true
	}
	return false
}

// HygieneFilter narrows f to the keys that CountKeyHygiene counts under kind
// at now: active keys (unless f asks for a status of its own) that are
// never used, stale, without expiry, expiring soon or due for rotation
// (under f.RotationDays; without a policy no key is due). An unknown kind
// leaves f as it is.
func HygieneFilter(f model.KeyFilter, kind string, now time.Time) model.KeyFilter {
	if !ValidHygiene(kind) {
		return f
	}
	now = now.UTC()
	f.Now = now
	if f.Status == "" {
		f.Status = model.StatusActive
	}
	switch kind {
	case HygieneNeverUsed:
		f.NeverUsed = true
		f.MadeBefore = now.Add(-NeverUsedAfter)
	case HygieneStale:
		f.UnusedSince = now.Add(-StaleAfter)
	case HygieneNoExpiry:
		f.NeverExpire = true
	case HygieneExpiring:
		f.ExpiringBy = now.Add(model.ExpiresSoonWindow)
	case HygieneRotationDue:
		if f.RotationDays > 0 {
			f.CreatedBefore = now.AddDate(0, 0, -f.RotationDays)
		} else {
			// No policy: a cutoff before any key, so nothing is due.
			f.CreatedBefore = time.Unix(0, 0).UTC()
		}
	}
	return f
}

// CountKeyHygiene counts the team's active keys at now that were never used
// (and are older than NeverUsedAfter),
// are stale, never expire, expire within model.ExpiresSoonWindow or, when
// rotationDays > 0, are due for rotation, in one query. The counts equal the
// totals FindKeys gives for HygieneFilter.
func (s *Store) CountKeyHygiene(ctx context.Context, teamID int64, now time.Time, rotationDays int) (KeyHygiene, error) {
	now = now.UTC()
	rotationCutoff := time.Unix(0, 0).UTC()
	if rotationDays > 0 {
		rotationCutoff = now.AddDate(0, 0, -rotationDays)
	}
	var h KeyHygiene
	err := s.db.WithContext(ctx).Model(&model.APIKey{}).
		Select(`COUNT(CASE WHEN last_used_at IS NULL AND created_at < ? THEN 1 END) AS never_used,
COUNT(CASE WHEN COALESCE(last_used_at, created_at) < ? THEN 1 END) AS stale,
COUNT(CASE WHEN expires_at IS NULL THEN 1 END) AS no_expiry,
COUNT(CASE WHEN expires_at <= ? THEN 1 END) AS expiring,
COUNT(CASE WHEN replaced_by = '' AND created_at <= ? THEN 1 END) AS rotation_due`,
			now.Add(-NeverUsedAfter), now.Add(-StaleAfter), now.Add(model.ExpiresSoonWindow), rotationCutoff).
		Where("team_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", teamID, now).
		Scan(&h).Error
	return h, translate(err)
}
