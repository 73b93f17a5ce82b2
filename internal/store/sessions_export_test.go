package store

import (
	"context"

	"github.com/keyward/keyward/internal/model"
)

// CountAuditEvents counts a team's audit events with an action, for tests.
func CountAuditEvents(s *Store, teamID int64, action string) int64 {
	var n int64
	s.db.WithContext(context.Background()).Model(&model.AuditEvent{}).
		Where("team_id = ? AND action = ?", teamID, action).Count(&n)
	return n
}
