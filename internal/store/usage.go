package store

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/keyward/keyward/internal/model"
)

// sqliteTime is how the SQLite driver writes a time.Time (its default
// layout). Times this file passes inside JSON must read the same, so that
// SQLite's text comparisons of UTC times order them in time.
const sqliteTime = "2006-01-02 15:04:05.999999999-07:00"

// lastUse is one key's latest successful use, for the api_keys update.
type lastUse struct {
	ID int64  `json:"id"`
	At string `json:"at"`
	IP string `json:"ip"`
}

// dayUse is one key's counts on one UTC day, for the key_usage upsert.
type dayUse struct {
	ID        int64   `json:"id"`
	Day       string  `json:"day"`
	Requests  int64   `json:"requests"`
	Refused   int64   `json:"refused"`
	RefusedAt *string `json:"refused_at"`
	RefusedIP string  `json:"refused_ip"`
	// Refused by reason.
	Revoked  int64 `json:"r_revoked"`
	Expired  int64 `json:"r_expired"`
	IPs      int64 `json:"r_ip"`
	Referrer int64 `json:"r_referrer"`
	Rate     int64 `json:"r_rate"`
	Quota    int64 `json:"r_quota"`

	refusedAt time.Time
}

// RecordUses writes a batch of key uses in one transaction of at most two
// statements, whatever the batch size: one UPDATE of api_keys setting
// last_used_at and last_used_ip from each key's latest use with Requests > 0
// (never moving last_used_at back), and one upsert of key_usage adding the
// request and refused counts per key and UTC day of At (with the latest
// refused attempt's time and IP). Several uses of one key may be given; keys
// deleted meanwhile are skipped. It returns EUNAVAILABLE if the database
// cannot be reached, and writes nothing then.
func (s *Store) RecordUses(ctx context.Context, uses []model.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	last, days := s.groupUses(uses)
	lastJSON, err := json.Marshal(last)
	if err != nil {
		return model.Wrap(model.EINTERNAL, err, "")
	}
	daysJSON, err := json.Marshal(days)
	if err != nil {
		return model.Wrap(model.EINTERNAL, err, "")
	}
	updateSQL, upsertSQL := pgLastUsedSQL, pgUsageSQL
	if s.dialect == SQLite {
		updateSQL, upsertSQL = sqliteLastUsedSQL, sqliteUsageSQL
	}
	unlock := s.lockWrites()
	defer unlock()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if len(last) > 0 {
			if err := tx.Exec(updateSQL, string(lastJSON)).Error; err != nil {
				return err
			}
		}
		return tx.Exec(upsertSQL, string(daysJSON)).Error
	})
	return translate(err)
}

// groupUses folds uses into one latest use per key and one row per key and
// day, with times written as the dialect compares them.
func (s *Store) groupUses(uses []model.KeyUse) ([]lastUse, []dayUse) {
	type dayKey struct {
		id  int64
		day string
	}
	latest := map[int64]model.KeyUse{}
	perDay := map[dayKey]*dayUse{}
	for _, u := range uses {
		u.At = u.At.UTC()
		if l, ok := latest[u.KeyID]; u.Requests > 0 && (!ok || u.At.After(l.At)) {
			latest[u.KeyID] = u
		}
		k := dayKey{u.KeyID, s.formatDay(u.At)}
		d := perDay[k]
		if d == nil {
			d = &dayUse{ID: u.KeyID, Day: k.day}
			perDay[k] = d
		}
		d.Requests += u.Requests
		d.Refused += u.Refused
		by := u.RefusedBy
		d.Revoked += by.Revoked
		d.Expired += by.Expired
		d.IPs += by.IP
		d.Referrer += by.Referrer
		d.Rate += by.Rate
		d.Quota += by.Quota
		if u.Refused > 0 && (d.RefusedAt == nil || u.At.After(d.refusedAt)) {
			t := s.formatTime(u.At)
			d.refusedAt, d.RefusedAt, d.RefusedIP = u.At, &t, u.IP
		}
	}
	last := make([]lastUse, 0, len(latest))
	for _, l := range latest {
		last = append(last, lastUse{ID: l.KeyID, At: s.formatTime(l.At), IP: l.IP})
	}
	days := make([]dayUse, 0, len(perDay))
	for _, d := range perDay {
		days = append(days, *d)
	}
	// Rows are written in one order, key id then day, so that instances
	// flushing the same keys at once lock them in the same order instead
	// of deadlocking.
	slices.SortFunc(last, func(a, b lastUse) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(days, func(a, b dayUse) int { return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Day, b.Day)) })
	return last, days
}

func (s *Store) formatTime(t time.Time) string {
	if s.dialect == SQLite {
		return t.UTC().Format(sqliteTime)
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// formatDay is the UTC day of t: a date for PostgreSQL, midnight in the
// driver's time layout for SQLite (so that days compare with bound times).
func (s *Store) formatDay(t time.Time) string {
	day := t.UTC().Truncate(24 * time.Hour)
	if s.dialect == SQLite {
		return day.Format(sqliteTime)
	}
	return day.Format(time.DateOnly)
}

// The statements take their rows as one JSON parameter, so a batch of any
// size is one statement with one bound value.
const (
	pgLastUsedSQL = `UPDATE api_keys AS k
SET last_used_at = GREATEST(k.last_used_at, u.at),
    last_used_ip = CASE WHEN k.last_used_at IS NULL OR u.at >= k.last_used_at THEN u.ip ELSE k.last_used_ip END
FROM (SELECT r.id, r.at, r.ip FROM jsonb_to_recordset(CAST(? AS jsonb)) AS r(id bigint, at timestamptz, ip text)
      JOIN api_keys l ON l.id = r.id ORDER BY r.id FOR UPDATE OF l) AS u
WHERE k.id = u.id`

	pgUsageSQL = `INSERT INTO key_usage AS ku (key_id, day, requests, refused, last_refused_at, last_refused_ip,
    refused_revoked, refused_expired, refused_ip, refused_referrer, refused_rate, refused_quota)
SELECT u.id, u.day, u.requests, u.refused, u.refused_at, COALESCE(u.refused_ip, ''),
    COALESCE(u.r_revoked, 0), COALESCE(u.r_expired, 0), COALESCE(u.r_ip, 0), COALESCE(u.r_referrer, 0), COALESCE(u.r_rate, 0), COALESCE(u.r_quota, 0)
FROM jsonb_to_recordset(CAST(? AS jsonb)) AS u(id bigint, day date, requests bigint, refused bigint, refused_at timestamptz, refused_ip text,
    r_revoked bigint, r_expired bigint, r_ip bigint, r_referrer bigint, r_rate bigint, r_quota bigint)
JOIN api_keys k ON k.id = u.id
ORDER BY u.id, u.day
ON CONFLICT (key_id, day) DO UPDATE SET
    requests = ku.requests + EXCLUDED.requests,
    refused = ku.refused + EXCLUDED.refused,
    refused_revoked = ku.refused_revoked + EXCLUDED.refused_revoked,
    refused_expired = ku.refused_expired + EXCLUDED.refused_expired,
    refused_ip = ku.refused_ip + EXCLUDED.refused_ip,
    refused_referrer = ku.refused_referrer + EXCLUDED.refused_referrer,
    refused_rate = ku.refused_rate + EXCLUDED.refused_rate,
    refused_quota = ku.refused_quota + EXCLUDED.refused_quota,
    last_refused_ip = CASE WHEN EXCLUDED.last_refused_at IS NOT NULL AND (ku.last_refused_at IS NULL OR EXCLUDED.last_refused_at >= ku.last_refused_at)
        THEN EXCLUDED.last_refused_ip ELSE ku.last_refused_ip END,
    last_refused_at = GREATEST(ku.last_refused_at, EXCLUDED.last_refused_at)`

	// SQLite's two-argument MAX is NULL if either is; COALESCE picks the other.
	sqliteLastUsedSQL = `UPDATE api_keys SET
    last_used_ip = CASE WHEN api_keys.last_used_at IS NULL OR u.at >= api_keys.last_used_at THEN u.ip ELSE api_keys.last_used_ip END,
    last_used_at = COALESCE(MAX(api_keys.last_used_at, u.at), u.at)
FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.at') AS at, json_extract(value, '$.ip') AS ip
      FROM json_each(?)) AS u
WHERE api_keys.id = u.id`

	sqliteUsageSQL = `INSERT INTO key_usage (key_id, day, requests, refused, last_refused_at, last_refused_ip,
    refused_revoked, refused_expired, refused_ip, refused_referrer, refused_rate, refused_quota)
SELECT u.id, u.day, u.requests, u.refused, u.refused_at, COALESCE(u.refused_ip, ''),
    u.r_revoked, u.r_expired, u.r_ip, u.r_referrer, u.r_rate, u.r_quota
FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.day') AS day,
             json_extract(value, '$.requests') AS requests, json_extract(value, '$.refused') AS refused,
             json_extract(value, '$.refused_at') AS refused_at, json_extract(value, '$.refused_ip') AS refused_ip,
             json_extract(value, '$.r_revoked') AS r_revoked, json_extract(value, '$.r_expired') AS r_expired,
             json_extract(value, '$.r_ip') AS r_ip, json_extract(value, '$.r_referrer') AS r_referrer,
             json_extract(value, '$.r_rate') AS r_rate, json_extract(value, '$.r_quota') AS r_quota
      FROM json_each(?)) AS u
JOIN api_keys k ON k.id = u.id
WHERE true
ON CONFLICT (key_id, day) DO UPDATE SET
    requests = key_usage.requests + excluded.requests,
    refused = key_usage.refused + excluded.refused,
    refused_revoked = key_usage.refused_revoked + excluded.refused_revoked,
    refused_expired = key_usage.refused_expired + excluded.refused_expired,
    refused_ip = key_usage.refused_ip + excluded.refused_ip,
    refused_referrer = key_usage.refused_referrer + excluded.refused_referrer,
    refused_rate = key_usage.refused_rate + excluded.refused_rate,
    refused_quota = key_usage.refused_quota + excluded.refused_quota,
    last_refused_ip = CASE WHEN excluded.last_refused_at IS NOT NULL AND (key_usage.last_refused_at IS NULL OR excluded.last_refused_at >= key_usage.last_refused_at)
        THEN excluded.last_refused_ip ELSE key_usage.last_refused_ip END,
    last_refused_at = COALESCE(MAX(key_usage.last_refused_at, excluded.last_refused_at), key_usage.last_refused_at, excluded.last_refused_at)`
)

// FindKeyUsage returns the key's usage per UTC day from from to to
// (inclusive days), oldest first; days without use are absent.
func (s *Store) FindKeyUsage(ctx context.Context, keyID int64, from, to time.Time) ([]model.UsageDay, error) {
	byKey, err := s.FindKeysUsage(ctx, []int64{keyID}, from, to)
	return byKey[keyID], err
}
