package store

import (
	"context"

	"github.com/keyward/keyward/internal/model"
)

// FindKeyAuditEvents returns the team's audit events about one key (target
// id = the key's public id), newest first, at most limit (default 100,
// capped at 500). Events outlive the key, so a deleted key's trail is still
// found; another team's events never are.
func (s *Store) FindKeyAuditEvents(ctx context.Context, teamID int64, publicID string, limit int) ([]model.AuditEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 500)
	var out []model.AuditEvent
	err := s.db.WithContext(ctx).
		Where("team_id = ? AND target_id = ? AND action LIKE ?", teamID, publicID, "api_key.%").
		Order("created_at DESC, id DESC").Limit(limit).Find(&out).Error
	return out, translate(err)
}
