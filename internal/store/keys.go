package store

import (
	"context"
	"reflect"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/keyward/keyward/internal/model"
)

// CreateKey inserts k (whose KeyHash, Hint and PublicID the caller made) and
// writes api_key.created in the same transaction. Like every key change it is
// announced to the key-change hooks and by NOTIFY, so that verify caches
// drop a "not found" they may hold for the new key's hash. It returns
// EINVALID (field expires_at) when the team's maximum key lifetime does not
// allow k's expiry, ENOTFOUND for an unknown team, ECONFLICT on a
// duplicate hash or public id, and EFORBIDDEN when an acting key may not
// create it (model.Actor.MayCreate).
func (s *Store) CreateKey(ctx context.Context, k *model.APIKey, actor model.Actor) error {
	if err := actor.MayCreate(*k); err != nil {
		return err
	}
	now := s.Now()
	k.CreatedAt, k.UpdatedAt = now, now
	k.CreatedBy = actor.Label
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	return s.inTx(ctx, func(tx *txn) error {
		if err := tx.checkLifetime(k.TeamID, k.ExpiresAt, now); err != nil {
			return err
		}
		if err := tx.Create(k).Error; err != nil {
			return err
		}
		if err := tx.notifyKey(k.KeyHash); err != nil {
			return err
		}
		return tx.audit(k.TeamID, actor, model.ActionKeyCreated, k.PublicID, k.Name, keyDetail(*k))
	})
}

func keyDetail(k model.APIKey) map[string]any {
	d := map[string]any{
		"environment": k.Environment,
		"permission":  string(k.PermissionSet),
		"scopes":      k.Permission().ScopeStrings(),
		"hint":        k.Hint,
	}
	if k.ExpiresAt != nil {
		d["expires_at"] = k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if r := k.Restrictions(); !r.IsZero() {
		d["restrictions"] = r
	}
	return d
}

// FindKeyByID returns the team's key with that public id, or ENOTFOUND (also
// when the key belongs to another team).
func (s *Store) FindKeyByID(ctx context.Context, teamID int64, publicID string) (model.APIKey, error) {
	var k model.APIKey
	err := s.db.WithContext(ctx).Where("team_id = ? AND public_id = ?", teamID, publicID).Take(&k).Error
	if err != nil {
		if model.ErrorCode(translate(err)) == model.ENOTFOUND {
			return k, model.Errorf(model.ENOTFOUND, "API key not found.")
		}
		return k, translate(err)
	}
	return k, nil
}

// FindKeyByHash returns the key whose raw value hashes to hash, or ENOTFOUND.
// It is the verify path's only query.
func (s *Store) FindKeyByHash(ctx context.Context, hash string) (model.APIKey, error) {
	var k model.APIKey
	err := s.db.WithContext(ctx).Where("key_hash = ?", hash).Take(&k).Error
	return k, translate(err)
}

func (s *Store) keyQuery(ctx context.Context, f model.KeyFilter) *gorm.DB {
	now := f.Now
	if now.IsZero() {
		now = s.Now()
	}
	return filterKeys(s.db.WithContext(ctx).Model(&model.APIKey{}), f, now)
}

// filterKeys adds f's conditions, at now, to q (a query on api_keys, in a
// transaction or not): the one definition of every filter and hygiene view.
func filterKeys(q *gorm.DB, f model.KeyFilter, now time.Time) *gorm.DB {
	q = q.Where("team_id = ?", f.TeamID)
	if f.Query != "" {
		q = q.Where(`lower(name) LIKE ? ESCAPE '\'`, likePattern(f.Query))
	}
	switch f.Status {
	case model.StatusActive:
		q = q.Where("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", now)
	case model.StatusExpired:
		q = q.Where("revoked_at IS NULL AND expires_at <= ?", now)
	case model.StatusRevoked:
		q = q.Where("revoked_at IS NOT NULL")
	}
	if f.Environment != "" {
		q = q.Where("environment = ?", f.Environment)
	}
	if f.NeverUsed {
		q = q.Where("last_used_day IS NULL")
	}
	if !f.MadeBefore.IsZero() {
		q = q.Where("created_at < ?", f.MadeBefore)
	}
	if !f.UnusedSince.IsZero() {
		q = q.Where("COALESCE(last_used_day, created_at) < ?", f.UnusedSince)
	}
	if f.NeverExpire {
		q = q.Where("expires_at IS NULL")
	}
	if !f.CreatedBefore.IsZero() {
		q = q.Where("replaced_by = '' AND created_at <= ?", f.CreatedBefore)
	}
	if !f.ExpiringBy.IsZero() {
		q = q.Where("revoked_at IS NULL AND expires_at > ? AND expires_at <= ?", now, f.ExpiringBy)
	}
	return q
}

// keyOrder maps a sort name to a fixed ORDER BY; user input never reaches Order.
func keyOrder(sort string) string {
	switch sort {
	case model.KeySortLastUsed:
		// The day first (api_keys_team_used_day_idx gives the keys in its
		// order), then the time within it: the same order as
		// last_used_at's, with only a day's keys to sort.
		return "last_used_day DESC NULLS LAST, last_used_at DESC NULLS LAST, id DESC"
	case model.KeySortName:
		return "lower(name) ASC, id ASC"
	}
	return "created_at DESC, id DESC"
}

// FindKeys returns one page of the team's keys matching f and the number of
// keys that match in all. Limit defaults to 50 and is capped at 200.
func (s *Store) FindKeys(ctx context.Context, f model.KeyFilter) ([]model.APIKey, int64, error) {
	var total int64
	if err := s.keyQuery(ctx, f).Count(&total).Error; err != nil {
		return nil, 0, translate(err)
	}
	out, err := s.FindKeyRows(ctx, f)
	return out, total, err
}

// FindKeyRows returns one page of the team's keys matching f, at f.Offset,
// as FindKeys does, without counting them (for a caller that knows the
// total). The page's ids are found first, reading only the columns the
// filter and the order need (on PostgreSQL the covering index
// api_keys_team_list_idx holds them all), and only the page's rows are read
// whole: a deep page neither sorts nor reads every key before it.
func (s *Store) FindKeyRows(ctx context.Context, f model.KeyFilter) ([]model.APIKey, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 200)
	order := keyOrder(f.Sort)
	ids := s.keyQuery(ctx, f).Select("id").Order(order).Offset(max(f.Offset, 0)).Limit(f.Limit)
	var out []model.APIKey
	err := s.db.WithContext(ctx).Where("id IN (?)", ids).Order(order).Find(&out).Error
	return out, translate(err)
}

// UpdateKey changes a key's name, permission and expiry (never its value) and
// writes api_key.updated. It returns ENOTFOUND for another team's key,
// EFORBIDDEN for a key the acting key may not manage, and ECONFLICT for a
// revoked key, which cannot be edited.
func (s *Store) UpdateKey(ctx context.Context, teamID int64, publicID string, u model.KeyUpdate, actor model.Actor) (model.APIKey, error) {
	var k model.APIKey
	err := s.inTx(ctx, func(tx *txn) error {
		if err := tx.lockKey(teamID, publicID, actor, &k); err != nil {
			return err
		}
		if k.RevokedAt != nil {
			return model.Errorf(model.ECONFLICT, "A revoked key cannot be edited.")
		}
		changes := map[string]any{}
		detail := map[string]any{}
		if u.Name != nil && *u.Name != k.Name {
			detail["name"] = map[string]string{"from": k.Name, "to": *u.Name}
			changes["name"], k.Name = *u.Name, *u.Name
		}
		if u.Permission != nil {
			before := k.Permission().ScopeStrings()
			set, scopes := u.Permission.Set, u.Permission.ScopeStrings()
			if set != model.PermRestricted {
				scopes = []string{}
			}
			if set != k.PermissionSet || !slices.Equal(before, u.Permission.ScopeStrings()) {
				detail["permission"] = map[string]any{"from": string(k.PermissionSet), "to": string(set), "scopes": u.Permission.ScopeStrings()}
				k.PermissionSet, k.Scopes = set, scopes
				changes["permission"] = string(set)
				changes["scopes"] = jsonStrings(scopes)
			}
		}
		if u.SetExpiry && !equalTimes(k.ExpiresAt, u.ExpiresAt) {
			detail["expires_at"] = map[string]any{"from": timeOrNil(k.ExpiresAt), "to": timeOrNil(u.ExpiresAt)}
			k.ExpiresAt = u.ExpiresAt
			changes["expires_at"] = u.ExpiresAt
		}
		if u.Restrictions != nil {
			before := k.Restrictions()
			if !reflect.DeepEqual(before, u.Restrictions.Clone()) {
				detail["restrictions"] = map[string]any{"from": before, "to": *u.Restrictions}
				quotaSame := reflect.DeepEqual(before.Quota, u.Restrictions.Quota)
				version := k.QuotaVersion
				k.SetRestrictions(*u.Restrictions, s.Now())
				changes["allowed_ips"] = k.AllowedIPs
				changes["allowed_referrers"] = k.AllowedReferrers
				changes["rate_limit"], changes["rate_period"] = k.RateLimit, k.RatePeriod
				// The quota is set anew only when it changed, so that
				// changing an allowlist leaves the budget being spent alone.
				if quotaSame {
					k.QuotaVersion = version
				} else {
					changes["quota_remaining"], changes["quota_refill_amount"] = k.QuotaRemaining, k.QuotaRefillAmount
					changes["quota_refill_period"], changes["quota_period_start"] = k.QuotaRefillPeriod, k.QuotaPeriodStart
					changes["quota_version"] = k.QuotaVersion
				}
			}
		}
		if len(changes) == 0 {
			return nil
		}
		k.UpdatedAt = s.Now()
		changes["updated_at"] = k.UpdatedAt
		if err := tx.Model(&model.APIKey{}).Where("id = ?", k.ID).Updates(changes).Error; err != nil {
			return err
		}
		if err := tx.notifyKey(k.KeyHash); err != nil {
			return err
		}
		return tx.audit(teamID, actor, model.ActionKeyUpdated, k.PublicID, k.Name, detail)
	})
	return k, err
}

// RevokeKey revokes a key for good and writes api_key.revoked; the verify
// caches of every instance are told before it returns on this instance and
// through NOTIFY on the others. It returns ENOTFOUND for another team's key,
// EFORBIDDEN for a key the acting key may not manage, and ECONFLICT if the
// key is revoked already.
func (s *Store) RevokeKey(ctx context.Context, teamID int64, publicID string, actor model.Actor) (model.APIKey, error) {
	var k model.APIKey
	err := s.inTx(ctx, func(tx *txn) error {
		if err := tx.lockKey(teamID, publicID, actor, &k); err != nil {
			return err
		}
		if k.RevokedAt != nil {
			return model.Errorf(model.ECONFLICT, "This key is revoked already.")
		}
		return tx.revoke(&k, actor)
	})
	return k, err
}

func (t *txn) revoke(k *model.APIKey, actor model.Actor) error {
	now := t.s.Now()
	k.RevokedAt, k.RevokedBy, k.UpdatedAt = &now, actor.Label, now
	err := t.Model(&model.APIKey{}).Where("id = ?", k.ID).
		Updates(map[string]any{"revoked_at": now, "revoked_by": actor.Label, "updated_at": now}).Error
	if err != nil {
		return err
	}
	if err := t.notifyKey(k.KeyHash); err != nil {
		return err
	}
	return t.audit(k.TeamID, actor, model.ActionKeyRevoked, k.PublicID, k.Name, map[string]any{"hint": k.Hint})
}

// RevokeKeys revokes several of the team's keys in one transaction, one audit
// event per key. It returns ENOTFOUND, changing nothing, if any id is not an
// active-or-expired key of the team. Already revoked keys are skipped.
func (s *Store) RevokeKeys(ctx context.Context, teamID int64, publicIDs []string, actor model.Actor) ([]model.APIKey, error) {
	var out []model.APIKey
	err := s.inTx(ctx, func(tx *txn) error {
		for _, id := range publicIDs {
			var k model.APIKey
			if err := tx.lockKey(teamID, id, actor, &k); err != nil {
				return err
			}
			if k.RevokedAt != nil {
				continue
			}
			if err := tx.revoke(&k, actor); err != nil {
				return err
			}
			out = append(out, k)
		}
		return nil
	})
	return out, err
}

// DeleteKey removes a key and writes api_key.deleted (the event keeps the
// key's id, name and hint). It returns ENOTFOUND for another team's key and
// EFORBIDDEN for a key the acting key may not manage.
func (s *Store) DeleteKey(ctx context.Context, teamID int64, publicID string, actor model.Actor) (model.APIKey, error) {
	var k model.APIKey
	err := s.inTx(ctx, func(tx *txn) error {
		if err := tx.lockKey(teamID, publicID, actor, &k); err != nil {
			return err
		}
		if err := tx.Where("id = ?", k.ID).Delete(&model.APIKey{}).Error; err != nil {
			return err
		}
		if err := tx.notifyKey(k.KeyHash); err != nil {
			return err
		}
		return tx.audit(teamID, actor, model.ActionKeyDeleted, k.PublicID, k.Name, map[string]any{"hint": k.Hint})
	})
	return k, err
}

// lockKey loads the team's key for update, or returns ENOTFOUND; an acting
// key that may not manage it (model.Actor.MayManage: a narrower key, or a
// test key and a live key) gets EFORBIDDEN, checked under the row lock.
func (t *txn) lockKey(teamID int64, publicID string, actor model.Actor, k *model.APIKey) error {
	q := t.Where("team_id = ? AND public_id = ?", teamID, publicID)
	if t.s.dialect == Postgres {
		q = q.Clauses(forUpdate)
	}
	if err := q.Take(k).Error; err != nil {
		if model.ErrorCode(translate(err)) == model.ENOTFOUND {
			return model.Errorf(model.ENOTFOUND, "API key not found.")
		}
		return err
	}
	return actor.MayManage(*k)
}
