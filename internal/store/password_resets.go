package store

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// CreatePasswordReset records a reset link for userID, valid until
// expiresAt. When an owner or admin sends it (teamID > 0), it writes
// user.password_reset_requested to that team's audit log. Earlier unused
// links of the user keep working until they expire or one is used.
func (s *Store) CreatePasswordReset(ctx context.Context, userID int64, tokenHash string, expiresAt time.Time, teamID int64, actor model.Actor) error {
	return s.inTx(ctx, func(tx *txn) error {
		var u model.User
		if err := tx.Where("id = ?", userID).Take(&u).Error; err != nil {
			return translate(err)
		}
		r := model.PasswordReset{UserID: userID, TokenHash: tokenHash, CreatedAt: s.Now(), ExpiresAt: expiresAt}
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		if teamID > 0 {
			return tx.audit(teamID, actor, model.ActionPasswordResetRequested, itoa(u.ID), u.Email, nil)
		}
		return nil
	})
}

// FindPasswordReset returns the user whose unused, unexpired reset link
// hashes to tokenHash, or ENOTFOUND.
func (s *Store) FindPasswordReset(ctx context.Context, tokenHash string) (model.User, error) {
	var r model.PasswordReset
	err := s.db.WithContext(ctx).Where("token_hash = ?", tokenHash).Take(&r).Error
	if err != nil {
		return model.User{}, resetGone(translate(err))
	}
	if r.UsedAt != nil || !s.Now().Before(r.ExpiresAt) {
		return model.User{}, resetGone(nil)
	}
	return s.FindUserByID(ctx, r.UserID)
}

func resetGone(err error) error {
	if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
		return err
	}
	return model.Errorf(model.ENOTFOUND, "This password reset link is not valid any more: it was used or has expired (links last one hour). Ask for a new one.")
}

// ResetPassword sets a new password through the reset link whose token
// hashes to tokenHash, in one transaction: it uses up that link and every
// other open link of the user, stores the hash, ends all the user's
// sessions and writes user.password_reset to each of their teams' audit
// logs. It returns the user, or ENOTFOUND if the link is unknown, used or
// expired.
func (s *Store) ResetPassword(ctx context.Context, tokenHash, passwordHash, ip string) (model.User, error) {
	var u model.User
	err := s.inTx(ctx, func(tx *txn) error {
		var r model.PasswordReset
		q := tx.Where("token_hash = ?", tokenHash)
		if s.dialect == Postgres {
			q = q.Clauses(forUpdate)
		}
		if err := q.Take(&r).Error; err != nil {
			return resetGone(translate(err))
		}
		now := s.Now()
		if r.UsedAt != nil || !now.Before(r.ExpiresAt) {
			return resetGone(nil)
		}
		if err := tx.Model(&model.PasswordReset{}).Where("user_id = ? AND used_at IS NULL", r.UserID).Update("used_at", now).Error; err != nil {
			return err
		}
		if err := tx.Where("id = ?", r.UserID).Take(&u).Error; err != nil {
			return translate(err)
		}
		err := tx.Model(&model.User{}).Where("id = ?", u.ID).
			Updates(map[string]any{"password_hash": passwordHash, "password_changed_at": now, "must_change_password": false}).Error
		if err != nil {
			return err
		}
		if err := tx.Exec("DELETE FROM sessions WHERE user_id = ?", u.ID).Error; err != nil {
			return err
		}
		var teams []int64
		if err := tx.Model(&model.Membership{}).Where("user_id = ?", u.ID).Pluck("team_id", &teams).Error; err != nil {
			return err
		}
		actor := model.UserActor(u, ip)
		for _, team := range teams {
			if err := tx.audit(team, actor, model.ActionPasswordReset, itoa(u.ID), u.Email, nil); err != nil {
				return err
			}
		}
		return nil
	})
	return u, err
}
