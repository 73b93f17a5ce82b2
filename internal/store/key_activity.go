package store

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// FindKeysUsage returns the usage per UTC day from from to to (inclusive
// days) of several keys at once, oldest first per key; days without use are
// absent, and so are keys without any. It is one query, whatever the number
// of keys (the key table's sparklines).
func (s *Store) FindKeysUsage(ctx context.Context, keyIDs []int64, from, to time.Time) (map[int64][]model.UsageDay, error) {
	out := map[int64][]model.UsageDay{}
	if len(keyIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		KeyID    int64
		Day      time.Time
		Requests int64
		Refused  int64
		model.RefusedCounts
	}
	err := s.db.WithContext(ctx).Table("key_usage").
		Select("key_id, day, requests, refused, refused_revoked AS revoked, refused_expired AS expired, refused_ip AS ip, "+
			"refused_referrer AS referrer, refused_rate AS rate, refused_quota AS quota").
		Where("key_id IN ? AND day >= ? AND day <= ?", keyIDs, s.formatDay(from), s.formatDay(to)).
		Order("key_id, day").Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, r := range rows {
		out[r.KeyID] = append(out[r.KeyID], model.UsageDay{KeyID: r.KeyID, Day: r.Day.UTC(), Requests: r.Requests, Refused: r.Refused,
			RefusedBy: r.RefusedCounts})
	}
	return out, nil
}

// RefusedCalls sums the calls a key refused since it stopped working.
type RefusedCalls struct {
	KeyID int64
	// Count is the number of refused calls.
	Count int64
	// LastAt and LastIP are the latest refused call's time and client IP.
	LastAt time.Time
	LastIP string
}

// FindRefusedCalls sums, for each of the team's keys in keyIDs that is
// revoked or expired, the calls it refused since then: on the days whose
// latest refusal is at or after its revocation (or, if it is not revoked,
// its expiry). Keys without such calls are absent. It is one query, whatever
// the number of keys.
func (s *Store) FindRefusedCalls(ctx context.Context, teamID int64, keyIDs []int64) (map[int64]RefusedCalls, error) {
	out := map[int64]RefusedCalls{}
	if len(keyIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		KeyID         int64
		Refused       int64
		LastRefusedAt time.Time
		LastRefusedIP string
	}
	err := s.db.WithContext(ctx).Table("key_usage").
		Select("key_usage.key_id, key_usage.refused, key_usage.last_refused_at, key_usage.last_refused_ip").
		Joins("JOIN api_keys ON api_keys.id = key_usage.key_id").
		Where("key_usage.key_id IN ? AND api_keys.team_id = ? AND key_usage.refused > 0", keyIDs, teamID).
		Where("key_usage.last_refused_at >= COALESCE(api_keys.revoked_at, api_keys.expires_at)").
		Order("key_usage.key_id, key_usage.day").Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, r := range rows {
		rc := out[r.KeyID]
		rc.KeyID = r.KeyID
		rc.Count += r.Refused
		if at := r.LastRefusedAt.UTC(); !at.Before(rc.LastAt) {
			rc.LastAt, rc.LastIP = at, r.LastRefusedIP
		}
		out[r.KeyID] = rc
	}
	return out, nil
}

// FindKeysByIDs returns the team's keys with those public ids, in the order
// given, skipping repeats. It returns ENOTFOUND if any id is not a key of the
// team (so a request naming another team's key learns nothing else).
func (s *Store) FindKeysByIDs(ctx context.Context, teamID int64, publicIDs []string) ([]model.APIKey, error) {
	if len(publicIDs) == 0 {
		return nil, nil
	}
	var found []model.APIKey
	err := s.db.WithContext(ctx).Where("team_id = ? AND public_id IN ?", teamID, publicIDs).Find(&found).Error
	if err != nil {
		return nil, translate(err)
	}
	byID := make(map[string]model.APIKey, len(found))
	for _, k := range found {
		byID[k.PublicID] = k
	}
	out := make([]model.APIKey, 0, len(found))
	seen := map[string]bool{}
	for _, id := range publicIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		k, ok := byID[id]
		if !ok {
			return nil, model.Errorf(model.ENOTFOUND, "API key not found.")
		}
		out = append(out, k)
	}
	return out, nil
}

// ExistingKeyIDs returns which of publicIDs name keys the team still has
// (the audit log links only those).
func (s *Store) ExistingKeyIDs(ctx context.Context, teamID int64, publicIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(publicIDs) == 0 {
		return out, nil
	}
	var ids []string
	err := s.db.WithContext(ctx).Model(&model.APIKey{}).Where("team_id = ? AND public_id IN ?", teamID, publicIDs).
		Pluck("public_id", &ids).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
