package store

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// RotationDigestEvery is the shortest time between two rotation digests of
// one team.
const RotationDigestEvery = 7 * 24 * time.Hour

// MaxDigestKeys is the most keys one api_key.rotation_due event lists; its
// "count" still says how many are due, and the e-mail links to the filtered
// key list for the rest.
const MaxDigestKeys = 100

// rotationScanLock is the PostgreSQL advisory lock that lets one instance at
// a time look for teams due a rotation digest.
const rotationScanLock = 0x6b77_7264 // "kwrd"

// ScanRotation writes an api_key.rotation_due event for each team under a
// rotation policy whose active keys include some due for rotation (the keys
// the rotation_due hygiene filter lists: not rolled, not revoked or expired,
// created rotation_days or more ago), at most once per team every
// RotationDigestEvery. The time of each team's last digest is kept in
// rotation_digests in the event's transaction, so restarts and other
// instances do not repeat it. A team with nothing due gets no event and
// keeps its turn: its digest goes out when a key falls due. On PostgreSQL it
// runs only if it gets the scan's advisory lock (ran reports whether it
// did). It handles at most limit teams per call and returns how many events
// it wrote.
func (s *Store) ScanRotation(ctx context.Context, limit int) (emitted int, ran bool, err error) {
	err = s.inTx(ctx, func(tx *txn) error {
		if got, err := tx.tryScanLock(rotationScanLock); err != nil || !got {
			return err
		}
		ran = true
		now := s.Now()
		lastBefore := now.Add(-RotationDigestEvery)
		// Policies are few (presets and a handful of custom values): one
		// query per policy keeps the cutoff a parameter, with no date
		// arithmetic that differs between the dialects.
		var policies []int
		if err := tx.Raw("SELECT DISTINCT rotation_days FROM teams WHERE rotation_days > 0 ORDER BY rotation_days").
			Scan(&policies).Error; err != nil {
			return err
		}
		type due struct {
			ID           int64
			RotationDays int
		}
		var teams []due
		for _, days := range policies {
			if len(teams) >= limit {
				break
			}
			var part []due
			err := tx.Raw(`SELECT t.id, t.rotation_days FROM teams t
				WHERE t.rotation_days = ?
				AND NOT EXISTS (SELECT 1 FROM rotation_digests d WHERE d.team_id = t.id AND d.sent_at > ?)
				AND EXISTS (SELECT 1 FROM api_keys k WHERE k.team_id = t.id AND k.revoked_at IS NULL
					AND (k.expires_at IS NULL OR k.expires_at > ?) AND k.replaced_by = '' AND k.created_at <= ?)
				ORDER BY t.id LIMIT ?`, days, lastBefore, now, now.AddDate(0, 0, -days), limit-len(teams)).Scan(&part).Error
			if err != nil {
				return err
			}
			teams = append(teams, part...)
		}
		for _, team := range teams {
			// The keys the dashboard's Rotation due view lists.
			f := HygieneFilter(model.KeyFilter{TeamID: team.ID, RotationDays: team.RotationDays}, HygieneRotationDue, now)
			q := filterKeys(tx.Model(&model.APIKey{}), f, f.Now)
			var count int64
			if err := q.Count(&count).Error; err != nil {
				return err
			}
			if count == 0 {
				continue
			}
			var ks []model.APIKey
			if err := q.Order("created_at, id").Limit(MaxDigestKeys).Find(&ks).Error; err != nil {
				return err
			}
			// The guard repeats the NOT EXISTS above, so a digest already
			// recorded this week by anyone writes nothing, lock or no lock.
			res := tx.Exec(`INSERT INTO rotation_digests (team_id, sent_at) VALUES (?, ?)
				ON CONFLICT (team_id) DO UPDATE SET sent_at = excluded.sent_at WHERE rotation_digests.sent_at <= ?`,
				team.ID, now, lastBefore)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				continue
			}
			list := make([]map[string]any, 0, len(ks))
			for _, k := range ks {
				list = append(list, map[string]any{
					"id": k.PublicID, "name": k.Name, "environment": k.Environment, "hint": k.Hint,
					"created_at": k.CreatedAt.UTC().Format(time.RFC3339), "age_days": int(now.Sub(k.CreatedAt) / (24 * time.Hour)),
				})
			}
			data := map[string]any{"object": "rotation_digest", "rotation_days": team.RotationDays, "count": count, "keys": list}
			if _, err := tx.emit(team.ID, model.EventKeyRotationDue, "", data); err != nil {
				return err
			}
			emitted++
		}
		return nil
	})
	return emitted, ran, err
}
