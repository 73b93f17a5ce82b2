package store

import (
	"context"

	"github.com/keyward/keyward/internal/model"
)

// SetPendingTOTP keeps a new, sealed two-factor seed for userID while
// enrolment waits for a first code. It returns ECONFLICT if two-factor is
// on already.
func (s *Store) SetPendingTOTP(ctx context.Context, userID int64, sealed, keyID string) error {
	res := s.db.WithContext(ctx).Model(&model.User{}).Where("id = ? AND totp_enabled_at IS NULL", userID).
		Updates(map[string]any{"totp_secret": sealed, "totp_key_id": keyID, "totp_last_step": 0})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected != 1 {
		return model.Errorf(model.ECONFLICT, "Two-factor authentication is on already.")
	}
	return nil
}

// EnableTOTP turns two-factor on for userID with the pending seed, after a
// first code for step; it replaces the recovery codes with codeHashes and
// writes user.two_factor_enabled to each of the user's teams. It returns
// ECONFLICT if there is no pending seed.
func (s *Store) EnableTOTP(ctx context.Context, userID, step int64, codeHashes []string, actor model.Actor) error {
	return s.inTx(ctx, func(tx *txn) error {
		res := tx.Model(&model.User{}).Where("id = ? AND totp_enabled_at IS NULL AND totp_secret <> ''", userID).
			Updates(map[string]any{"totp_enabled_at": s.Now(), "totp_last_step": step})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return model.Errorf(model.ECONFLICT, "Start setting up two-factor authentication again.")
		}
		if err := tx.replaceRecoveryCodes(userID, codeHashes); err != nil {
			return err
		}
		var u model.User
		if err := tx.Where("id = ?", userID).Take(&u).Error; err != nil {
			return err
		}
		return tx.auditUserTeams(u, actor, model.ActionTwoFactorEnabled)
	})
}

type recoveryCode struct {
	ID       int64
	UserID   int64
	CodeHash string
}

func (recoveryCode) TableName() string { return "recovery_codes" }

func (t *txn) replaceRecoveryCodes(userID int64, hashes []string) error {
	if err := t.Exec("DELETE FROM recovery_codes WHERE user_id = ?", userID).Error; err != nil {
		return err
	}
	for _, h := range hashes {
		if err := t.Create(&recoveryCode{UserID: userID, CodeHash: h}).Error; err != nil {
			return err
		}
	}
	return nil
}

// UseTOTPStep records that a code for step was accepted for userID and
// reports whether step was still unused (later than the last accepted
// one): of two requests racing with one code, one wins.
func (s *Store) UseTOTPStep(ctx context.Context, userID, step int64) (bool, error) {
	res := s.db.WithContext(ctx).Model(&model.User{}).
		Where("id = ? AND totp_enabled_at IS NOT NULL AND totp_last_step < ?", userID, step).Update("totp_last_step", step)
	return res.RowsAffected == 1, translate(res.Error)
}

// UseRecoveryCode spends the unused recovery code of userID with that hash,
// writing user.recovery_code_used, and reports whether there was one.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, hash string, actor model.Actor) (bool, error) {
	used := false
	err := s.inTx(ctx, func(tx *txn) error {
		res := tx.Exec("UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL", s.Now(), userID, hash)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil
		}
		used = true
		var u model.User
		if err := tx.Where("id = ?", userID).Take(&u).Error; err != nil {
			return err
		}
		return tx.auditUserTeams(u, actor, model.ActionRecoveryCodeUsed)
	})
	return used, err
}

// CountRecoveryCodes returns how many unused recovery codes userID has.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Table("recovery_codes").Where("user_id = ? AND used_at IS NULL", userID).Count(&n).Error
	return n, translate(err)
}

// ReplaceRecoveryCodes gives userID new recovery codes (the old ones stop
// working).
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes []string) error {
	return s.inTx(ctx, func(tx *txn) error { return tx.replaceRecoveryCodes(userID, hashes) })
}

// DisableTOTP turns two-factor off for userID (seed and recovery codes
// gone) and writes user.two_factor_disabled to each of the user's teams.
func (s *Store) DisableTOTP(ctx context.Context, userID int64, actor model.Actor) error {
	return s.inTx(ctx, func(tx *txn) error {
		var u model.User
		if err := tx.Where("id = ?", userID).Take(&u).Error; err != nil {
			return translate(err)
		}
		err := tx.Model(&model.User{}).Where("id = ?", userID).
			Updates(map[string]any{"totp_secret": "", "totp_key_id": "", "totp_enabled_at": nil, "totp_last_step": 0}).Error
		if err != nil {
			return err
		}
		if err := tx.Exec("DELETE FROM recovery_codes WHERE user_id = ?", userID).Error; err != nil {
			return err
		}
		if u.TOTPEnabledAt == nil {
			return nil
		}
		return tx.auditUserTeams(u, actor, model.ActionTwoFactorDisabled)
	})
}

// SetTeamRequire2FA turns the team's two-factor requirement for owners
// and admins on or off, writing team.require_2fa_changed.
func (s *Store) SetTeamRequire2FA(ctx context.Context, teamID int64, on bool, actor model.Actor) error {
	return s.inTx(ctx, func(tx *txn) error {
		var t model.Team
		if err := tx.Where("id = ?", teamID).Take(&t).Error; err != nil {
			return translate(err)
		}
		if t.Require2FA == on {
			return nil
		}
		if err := tx.Model(&model.Team{}).Where("id = ?", teamID).Update("require_2fa", on).Error; err != nil {
			return err
		}
		return tx.audit(teamID, actor, model.ActionTeamRequire2FA, itoa(teamID), t.Name, map[string]any{"to": on})
	})
}
