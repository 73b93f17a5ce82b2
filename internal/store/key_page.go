package store

import (
	"context"

	"github.com/keyward/keyward/internal/model"
)

// FindKeyPage returns one page of the team's keys matching f (the filters
// and sort of FindKeys), continuing after the key whose public id is f.After,
// and the cursor of the next page ("" on the last page). Pages are keyset
// pages: keys created or deleted meanwhile neither shift nor repeat rows
// (with the last_used sort a key used meanwhile can move). Limit defaults to
// 50 and is capped at 200. It returns EINVALID for an After that names no
// key of the team.
func (s *Store) FindKeyPage(ctx context.Context, f model.KeyFilter) ([]model.APIKey, string, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 200)
	q := s.keyQuery(ctx, f)
	if f.After != "" {
		var c model.APIKey
		err := s.db.WithContext(ctx).Select("id", "last_used_at").
			Where("team_id = ? AND public_id = ?", f.TeamID, f.After).Take(&c).Error
		if err != nil {
			if model.ErrorCode(translate(err)) == model.ENOTFOUND {
				return nil, "", model.Errorf(model.EINVALID, "The cursor is not valid (its key may have been deleted). Start again without it.")
			}
			return nil, "", translate(err)
		}
		switch f.Sort {
		case model.KeySortName:
			q = q.Where("(lower(name), id) > (SELECT lower(name), id FROM api_keys WHERE id = ?)", c.ID)
		case model.KeySortLastUsed:
			if c.LastUsedAt == nil {
				q = q.Where("last_used_at IS NULL AND id < ?", c.ID)
			} else {
				q = q.Where("(last_used_at IS NULL OR (last_used_at, id) < (SELECT last_used_at, id FROM api_keys WHERE id = ?))", c.ID)
			}
		default:
			q = q.Where("(created_at, id) < (SELECT created_at, id FROM api_keys WHERE id = ?)", c.ID)
		}
	}
	var out []model.APIKey
	if err := q.Order(keyOrder(f.Sort)).Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, "", translate(err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].PublicID
	}
	return out, next, nil
}
