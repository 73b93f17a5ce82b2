package store

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// KeyRoll is a roll's request: the new key (whose PublicID, KeyHash and
// Hint the caller made, in the old key's environment) and when the old key
// stops working.
type KeyRoll struct {
	// New receives the old key's name, permission and restrictions; its
	// ExpiresAt is the new key's expiry (nil: never), checked against the
	// team's maximum key lifetime.
	New *model.APIKey
	// Grace is how long the old key keeps working, from 0 to
	// model.MaxRollGrace. The old key's expiry becomes now + Grace, never
	// later than it was.
	Grace time.Duration
	// Check, if set, runs on the locked old key before anything changes;
	// its error refuses the roll (the no-escalation rule of API keys).
	Check func(old model.APIKey) error
}

// RollKey replaces the team's key publicID by r.New in one transaction: the
// new key copies the old one's name, permission and restrictions (IPs,
// referrers, rate limit, quota with its remaining units) and links
// back to it (rolled_from); the old key links forward (replaced_by) and
// expires at the end of the grace window; api_key.rolled is written on the
// old key. The verify caches are told the old key changed, on every
// instance. It returns the old key as it now is.
//
// It returns ENOTFOUND for another team's key, ECONFLICT for a revoked key
// or one rolled already (the message names the successor), EINVALID for a
// grace outside 0..7 days or an expiry the team's policy refuses, and what
// r.Check returns.
func (s *Store) RollKey(ctx context.Context, teamID int64, publicID string, r KeyRoll, actor model.Actor) (model.APIKey, error) {
	if r.Grace < 0 || r.Grace > model.MaxRollGrace {
		return model.APIKey{}, model.Errorf(model.EINVALID, "The old key can keep working for at most 7 days.")
	}
	var old model.APIKey
	err := s.inTx(ctx, func(tx *txn) error {
		if err := tx.lockKey(teamID, publicID, actor, &old); err != nil {
			return err
		}
		if old.RevokedAt != nil {
			return model.Errorf(model.ECONFLICT, "A revoked key cannot be rolled. Create a new key instead.")
		}
		if old.ReplacedBy != "" {
			return &model.Error{Code: model.ECONFLICT, Message: "This key was rolled already; its successor is " + old.ReplacedBy + ".",
				Fields: map[string]string{"replaced_by": old.ReplacedBy}}
		}
		if r.Check != nil {
			if err := r.Check(old); err != nil {
				return err
			}
		}
		now := s.Now()
		if err := tx.checkLifetime(teamID, r.New.ExpiresAt, now); err != nil {
			return err
		}
		n := r.New
		n.TeamID, n.Name, n.Environment = old.TeamID, old.Name, old.Environment
		n.PermissionSet, n.Scopes = old.PermissionSet, old.Scopes
		if n.Scopes == nil {
			n.Scopes = []string{}
		}
		// Restrictions too: IP and referrer allowlists, the rate limit, and
		// the quota with what is left of it (a new refill period starts).
		n.SetRestrictions(old.Restrictions(), now)
		n.RolledFrom, n.ReplacedBy = old.PublicID, ""
		n.CreatedAt, n.UpdatedAt, n.CreatedBy = now, now, actor.Label
		n.RevokedAt, n.RevokedBy, n.LastUsedAt, n.LastUsedIP = nil, "", nil, ""
		if err := tx.Create(n).Error; err != nil {
			return err
		}
		// A created key is announced like any other (see CreateKey).
		if err := tx.notifyKey(n.KeyHash); err != nil {
			return err
		}

		end := now.Add(r.Grace)
		if old.ExpiresAt != nil && old.ExpiresAt.Before(end) {
			end = old.ExpiresAt.UTC()
		}
		before := timeOrNil(old.ExpiresAt)
		old.ExpiresAt, old.ReplacedBy, old.UpdatedAt = &end, n.PublicID, now
		err := tx.Model(&model.APIKey{}).Where("id = ?", old.ID).
			Updates(map[string]any{"expires_at": end, "replaced_by": n.PublicID, "updated_at": now}).Error
		if err != nil {
			return err
		}
		if err := tx.notifyKey(old.KeyHash); err != nil {
			return err
		}
		detail := map[string]any{
			"hint": old.Hint, "replaced_by": n.PublicID, "new_hint": n.Hint,
			"grace_seconds": int64(r.Grace / time.Second),
			"expires_at":    map[string]any{"from": before, "to": end.Format(time.RFC3339)},
		}
		if err := tx.audit(teamID, actor, model.ActionKeyRolled, old.PublicID, old.Name, detail); err != nil {
			return err
		}
		created := keyDetail(*n)
		created["rolled_from"] = old.PublicID
		return tx.audit(teamID, actor, model.ActionKeyCreated, n.PublicID, n.Name, created)
	})
	return old, err
}

// checkLifetime refuses an expiry that the team's maximum key lifetime does
// not allow (EINVALID naming the policy).
func (t *txn) checkLifetime(teamID int64, expiresAt *time.Time, now time.Time) error {
	var team model.Team
	if err := t.Where("id = ?", teamID).Take(&team).Error; err != nil {
		if model.ErrorCode(translate(err)) == model.ENOTFOUND {
			return model.Errorf(model.ENOTFOUND, "Team not found.")
		}
		return err
	}
	return team.CheckLifetime(expiresAt, now)
}

// FindKeyByPublicID returns the key with that public id in any team, or
// ENOTFOUND. Only the command line uses it: the operator is trusted with
// every team; requests always go through FindKeyByID.
func (s *Store) FindKeyByPublicID(ctx context.Context, publicID string) (model.APIKey, error) {
	var k model.APIKey
	err := s.db.WithContext(ctx).Where("public_id = ?", publicID).Take(&k).Error
	if model.ErrorCode(translate(err)) == model.ENOTFOUND {
		return k, model.Errorf(model.ENOTFOUND, "API key not found.")
	}
	return k, translate(err)
}
