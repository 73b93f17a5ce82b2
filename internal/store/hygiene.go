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
	HygieneStale     = "stale"      // unused (or, if never used, created) since before the day StaleAfter ago
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

// staleCutoff is the start (UTC) of the day StaleAfter before now: a key is
// stale when its last use (or, if never used, its creation) came before
// it. Days, not instants, because the last use is read from the key
// list's index as its day (api_keys.last_used_day), which changes once a
// day per key, so that the last-use flushes update keys in place.
func staleCutoff(now time.Time) time.Time {
	return now.Add(-StaleAfter).UTC().Truncate(24 * time.Hour)
}

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
		f.UnusedSince = staleCutoff(now)
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

// KeyCounts is what the key list page counts of a team's keys: how many it
// has in all, the hygiene panel's counts and the reminders' notices.
type KeyCounts struct {
	// Total counts every key of the team, whatever its state.
	Total   int64
	Hygiene KeyHygiene
	Notices KeyNotices
}

// CountKeys counts the team's keys at now in one query: Total, the hygiene
// counts of CountKeyHygiene (rotation due only when rotationDays > 0) and
// the KeyNotices (active keys expiring within 7 days, keys not revoked that
// expired in the last 7). The counts are exact. On PostgreSQL it reads the
// team's range of the covering index api_keys_team_list_idx, not the
// table.
func (s *Store) CountKeys(ctx context.Context, teamID int64, now time.Time, rotationDays int) (KeyCounts, error) {
	now = now.UTC()
	rotationCutoff := time.Unix(0, 0).UTC()
	if rotationDays > 0 {
		rotationCutoff = now.AddDate(0, 0, -rotationDays)
	}
	// active is a key that still works: the state every hygiene count
	// looks at.
	const active = "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)"
	var r struct {
		Total, NeverUsed, Stale, NoExpiry, Expiring, RotationDue int64
		NoticeExpiring, NoticeExpired                            int64
	}
	err := s.db.WithContext(ctx).Model(&model.APIKey{}).
		Select(`COUNT(*) AS total,
COUNT(CASE WHEN `+active+` AND last_used_day IS NULL AND created_at < @madeBefore THEN 1 END) AS never_used,
COUNT(CASE WHEN `+active+` AND COALESCE(last_used_day, created_at) < @unusedSince THEN 1 END) AS stale,
COUNT(CASE WHEN revoked_at IS NULL AND expires_at IS NULL THEN 1 END) AS no_expiry,
COUNT(CASE WHEN revoked_at IS NULL AND expires_at > @now AND expires_at <= @expiringBy THEN 1 END) AS expiring,
COUNT(CASE WHEN `+active+` AND replaced_by = '' AND created_at <= @rotationCutoff THEN 1 END) AS rotation_due,
COUNT(CASE WHEN revoked_at IS NULL AND expires_at > @now AND expires_at <= @noticeBy THEN 1 END) AS notice_expiring,
COUNT(CASE WHEN revoked_at IS NULL AND expires_at <= @now AND expires_at > @expiredSince THEN 1 END) AS notice_expired`,
			map[string]any{
				"now": now, "madeBefore": now.Add(-NeverUsedAfter), "unusedSince": staleCutoff(now),
				"expiringBy": now.Add(model.ExpiresSoonWindow), "rotationCutoff": rotationCutoff,
				"noticeBy": now.Add(noticeWindow), "expiredSince": now.Add(-expiredWindow),
			}).
		Where("team_id = ?", teamID).
		Scan(&r).Error
	if err != nil {
		return KeyCounts{}, translate(err)
	}
	return KeyCounts{
		Total:   r.Total,
		Hygiene: KeyHygiene{NeverUsed: r.NeverUsed, Stale: r.Stale, NoExpiry: r.NoExpiry, Expiring: r.Expiring, RotationDue: r.RotationDue},
		Notices: KeyNotices{Expiring: r.NoticeExpiring, Expired: r.NoticeExpired},
	}, nil
}

// CountKeyHygiene counts the team's active keys at now that were never used
// (and are older than NeverUsedAfter),
// are stale, never expire, expire within model.ExpiresSoonWindow or, when
// rotationDays > 0, are due for rotation, in one query (CountKeys). The
// counts equal the totals FindKeys gives for HygieneFilter.
func (s *Store) CountKeyHygiene(ctx context.Context, teamID int64, now time.Time, rotationDays int) (KeyHygiene, error) {
	c, err := s.CountKeys(ctx, teamID, now, rotationDays)
	return c.Hygiene, err
}
