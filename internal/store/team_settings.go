package store

import (
	"context"

	"github.com/keyward/keyward/internal/model"
)

// teamSettingColumns maps each team setting to its column and value, in
// the order the audit detail lists changes. A new setting is one more line.
func teamSettingColumns(s model.TeamSettings) []struct {
	column string
	value  any
} {
	return []struct {
		column string
		value  any
	}{
		{"rotation_days", s.RotationDays},
		{"max_key_lifetime_days", s.MaxKeyLifetimeDays},
		{"leak_action", s.LeakAction},
	}
}

// UpdateTeamSettings stores the team's settings and writes
// team.settings_changed with each changed setting's old and new value, in
// one transaction; unchanged settings write nothing. It returns the team as
// it now is, EINVALID for settings out of range and ENOTFOUND for an
// unknown team.
func (s *Store) UpdateTeamSettings(ctx context.Context, teamID int64, set model.TeamSettings, actor model.Actor) (model.Team, error) {
	if err := set.Validate(); err != nil {
		return model.Team{}, err
	}
	var team model.Team
	err := s.inTx(ctx, func(tx *txn) error {
		q := tx.Where("id = ?", teamID)
		if s.dialect == Postgres {
			q = q.Clauses(forUpdate)
		}
		if err := q.Take(&team).Error; err != nil {
			if model.ErrorCode(translate(err)) == model.ENOTFOUND {
				return model.Errorf(model.ENOTFOUND, "Team not found.")
			}
			return err
		}
		if set.LeakAction == "" {
			set.LeakAction = team.LeakAction
		}
		before := teamSettingColumns(team.Settings())
		changes := map[string]any{}
		detail := map[string]any{}
		for i, c := range teamSettingColumns(set) {
			if c.value != before[i].value {
				changes[c.column] = c.value
				detail[c.column] = map[string]any{"from": before[i].value, "to": c.value}
			}
		}
		if len(changes) == 0 {
			return nil
		}
		if err := tx.Model(&model.Team{}).Where("id = ?", teamID).Updates(changes).Error; err != nil {
			return err
		}
		if err := tx.Where("id = ?", teamID).Take(&team).Error; err != nil {
			return err
		}
		return tx.audit(teamID, actor, model.ActionTeamSettings, "", team.Name, detail)
	})
	return team, err
}
