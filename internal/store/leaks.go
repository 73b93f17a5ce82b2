package store

import (
	"context"
	"slices"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// leakChunk bounds the values bound in one IN list (SQLite allows 32,766
// parameters; PostgreSQL 65,535), and the rows of one batched insert.
const leakChunk = 500

// RecordLeaks handles sightings of raw keys in public (a secret scanner's
// matches, or keys pasted into a report), in one transaction:
//
//   - each sighting whose hash is a key keyward holds (any status, any team)
//     is Known;
//   - a key is recorded once per distinct URL: a sighting of a key at a URL
//     already recorded changes nothing;
//   - a new sighting writes api_key.leaked to the key's team's audit log
//     (URL, source, what was done) and a KeyLeak row, unacknowledged;
//   - the key is revoked (api_key.revoked, caches told on every instance) if
//     revoke is set or its team's leak_action is revoke; otherwise, with
//     leak_action notify, it keeps working.
//
// actor is who reported it: the scanner, a signed-in user or an API key.
// Sightings whose hash no key has cost one indexed lookup per batch, and
// the work done does not depend on which team a key belongs to.
func (s *Store) RecordLeaks(ctx context.Context, sightings []model.Sighting, actor model.Actor, revoke bool) (model.LeakOutcome, error) {
	out := model.LeakOutcome{Known: map[string]bool{}}
	var hashes []string
	seenHash := map[string]bool{}
	for _, si := range sightings {
		if !seenHash[si.Hash] {
			seenHash[si.Hash] = true
			hashes = append(hashes, si.Hash)
		}
	}
	if len(hashes) == 0 {
		return out, nil
	}
	err := s.inTx(ctx, func(tx *txn) error {
		byHash := map[string]*model.APIKey{}
		for part := range slices.Chunk(hashes, leakChunk) {
			var found []model.APIKey
			q := tx.Where("key_hash IN ?", part).Order("id")
			if s.dialect == Postgres {
				// Concurrent reports of one key wait for each other, so
				// the once-per-URL check below holds.
				q = q.Clauses(forUpdate)
			}
			if err := q.Find(&found).Error; err != nil {
				return err
			}
			for i := range found {
				byHash[found[i].KeyHash] = &found[i]
			}
		}
		if len(byHash) == 0 {
			return nil
		}
		keyIDs := make([]int64, 0, len(byHash))
		teamIDs := map[int64]bool{}
		for _, k := range byHash {
			keyIDs = append(keyIDs, k.ID)
			teamIDs[k.TeamID] = true
		}
		slices.Sort(keyIDs)
		action := map[int64]string{}
		var teams []model.Team
		if err := tx.Where("id IN ?", mapKeys(teamIDs)).Find(&teams).Error; err != nil {
			return err
		}
		for _, t := range teams {
			action[t.ID] = t.LeakAction
		}
		recorded := map[int64]map[string]bool{}
		for part := range slices.Chunk(keyIDs, leakChunk) {
			var rows []model.KeyLeak
			if err := tx.Select("key_id", "url").Where("key_id IN ?", part).Find(&rows).Error; err != nil {
				return err
			}
			for _, r := range rows {
				if recorded[r.KeyID] == nil {
					recorded[r.KeyID] = map[string]bool{}
				}
				recorded[r.KeyID][r.URL] = true
			}
		}

		now := s.Now()
		var leaks []model.KeyLeak
		var events []model.AuditEvent
		var revokeIDs []int64
		var revokedHashes []string
		revokedNow := map[int64]bool{}
		for _, si := range sightings {
			k := byHash[si.Hash]
			if k == nil {
				continue
			}
			out.Known[si.Hash] = true
			if recorded[k.ID][si.URL] {
				continue
			}
			if recorded[k.ID] == nil {
				recorded[k.ID] = map[string]bool{}
			}
			recorded[k.ID][si.URL] = true
			l := model.KeyLeak{KeyID: k.ID, TeamID: k.TeamID, URL: si.URL, Source: si.Source,
				Reporter: actor.Label, FoundAt: now, KeyPublicID: k.PublicID, KeyName: k.Name, KeyHint: k.Hint}
			switch {
			case revokedNow[k.ID]:
				l.Action = model.LeakRevoked
			case k.RevokedAt != nil:
				l.Action = model.LeakAlreadyRevoked
			case revoke || action[k.TeamID] != model.LeakNotify:
				l.Action = model.LeakRevoked
				revokedNow[k.ID] = true
				revokeIDs = append(revokeIDs, k.ID)
				revokedHashes = append(revokedHashes, k.KeyHash)
				k.RevokedAt, k.RevokedBy, k.UpdatedAt = &now, actor.Label, now
				events = append(events, auditEvent(k.TeamID, actor, model.ActionKeyRevoked, k.PublicID, k.Name, now,
					map[string]any{"hint": k.Hint, "reason": "leaked"}))
			default:
				l.Action = model.LeakNotified
			}
			leaks = append(leaks, l)
			detail := map[string]any{"hint": k.Hint, "url": si.URL, "source": si.Source, "action": l.Action}
			events = append(events, auditEvent(k.TeamID, actor, model.ActionKeyLeaked, k.PublicID, k.Name, now, detail))
		}
		for part := range slices.Chunk(revokeIDs, leakChunk) {
			err := tx.Model(&model.APIKey{}).Where("id IN ? AND revoked_at IS NULL", part).
				Updates(map[string]any{"revoked_at": now, "revoked_by": actor.Label, "updated_at": now}).Error
			if err != nil {
				return err
			}
		}
		if err := tx.notifyKeys(revokedHashes); err != nil {
			return err
		}
		if len(leaks) > 0 {
			if err := tx.CreateInBatches(&leaks, leakChunk).Error; err != nil {
				return err
			}
		}
		if len(events) > 0 {
			if err := tx.CreateInBatches(&events, leakChunk).Error; err != nil {
				return err
			}
			// The outbox events of the same changes (api_key.revoked and
			// api_key.leaked), for webhooks and the leak e-mail.
			if err := tx.eventsFromAudits(events); err != nil {
				return err
			}
		}
		out.Recorded = leaks
		return nil
	})
	if err != nil {
		return model.LeakOutcome{Known: map[string]bool{}}, err
	}
	return out, nil
}

func mapKeys[K comparable](m map[K]bool) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// auditEvent builds an audit event for a batched insert (txn.audit writes one).
func auditEvent(teamID int64, actor model.Actor, action, targetID, targetName string, at time.Time, detail map[string]any) model.AuditEvent {
	return model.AuditEvent{
		TeamID: teamID, ActorUserID: actor.UserID, ActorKeyID: actor.KeyID, ActorLabel: actor.Label,
		Action: action, TargetID: targetID, TargetName: targetName, IP: actor.IP, Detail: detail, CreatedAt: at,
	}
}

// leakRow is a key_leaks row with its key's public id, name and hint.
type leakRow struct {
	model.KeyLeak
	PublicID string
	Name     string
	Hint     string
}

func (r leakRow) toModel() model.KeyLeak {
	l := r.KeyLeak
	l.KeyPublicID, l.KeyName, l.KeyHint = r.PublicID, r.Name, r.Hint
	return l
}

func (s *Store) findLeaks(ctx context.Context, limit int, where string, args ...any) ([]model.KeyLeak, error) {
	var rows []leakRow
	err := s.db.WithContext(ctx).Table("key_leaks").
		Select("key_leaks.*, api_keys.public_id, api_keys.name, api_keys.hint").
		Joins("JOIN api_keys ON api_keys.id = key_leaks.key_id").
		Where(where, args...).Order("key_leaks.id DESC").Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]model.KeyLeak, len(rows))
	for i, r := range rows {
		out[i] = r.toModel()
	}
	return out, nil
}

// FindKeyLeaks returns where the team's key was found, newest first (at
// most 100 places).
func (s *Store) FindKeyLeaks(ctx context.Context, teamID, keyID int64) ([]model.KeyLeak, error) {
	return s.findLeaks(ctx, 100, "key_leaks.team_id = ? AND key_leaks.key_id = ?", teamID, keyID)
}

// FindOpenLeaks returns the team's leaks nobody has acknowledged yet, newest
// first, at most limit of them, and how many there are in all.
func (s *Store) FindOpenLeaks(ctx context.Context, teamID int64, limit int) ([]model.KeyLeak, int64, error) {
	var total int64
	err := s.db.WithContext(ctx).Model(&model.KeyLeak{}).
		Where("team_id = ? AND acknowledged_at IS NULL", teamID).Count(&total).Error
	if err != nil || total == 0 {
		return nil, total, translate(err)
	}
	leaks, err := s.findLeaks(ctx, limit, "key_leaks.team_id = ? AND key_leaks.acknowledged_at IS NULL", teamID)
	return leaks, total, err
}

// AcknowledgeLeaks marks the team's open leaks with ids up to through as
// seen by actor (a leak found after the notice was shown stays open) and
// writes api_key.leak_acknowledged for each. It returns how many it marked;
// another team's ids are never touched.
func (s *Store) AcknowledgeLeaks(ctx context.Context, teamID, through int64, actor model.Actor) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *txn) error {
		var rows []leakRow
		err := tx.Table("key_leaks").
			Select("key_leaks.*, api_keys.public_id, api_keys.name, api_keys.hint").
			Joins("JOIN api_keys ON api_keys.id = key_leaks.key_id").
			Where("key_leaks.team_id = ? AND key_leaks.id <= ? AND key_leaks.acknowledged_at IS NULL", teamID, through).
			Order("key_leaks.id").Scan(&rows).Error
		if err != nil || len(rows) == 0 {
			return err
		}
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		now := s.Now()
		if err := tx.Model(&model.KeyLeak{}).Where("id IN ?", ids).
			Updates(map[string]any{"acknowledged_at": now, "acknowledged_by": actor.Label}).Error; err != nil {
			return err
		}
		for _, r := range rows {
			if err := tx.audit(teamID, actor, model.ActionKeyLeakAcked, r.PublicID, r.Name,
				map[string]any{"hint": r.Hint, "url": r.URL}); err != nil {
				return err
			}
		}
		n = len(rows)
		return nil
	})
	return n, err
}
