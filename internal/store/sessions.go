package store

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// CreateSession stores a new session. sess.ID must be the SHA-256 of the
// cookie's token. It returns ECONFLICT if the id exists.
func (s *Store) CreateSession(ctx context.Context, sess model.Session) error {
	sess.CreatedAt = sess.CreatedAt.UTC()
	sess.LastSeenAt = sess.LastSeenAt.UTC()
	sess.ExpiresAt = sess.ExpiresAt.UTC()
	if sess.Data == nil {
		sess.Data = []byte{}
	}
	return translate(s.db.WithContext(ctx).Create(&sess).Error)
}

// FindSession returns the session with that id (the token's hash), or ENOTFOUND.
// It does not check expiry; the caller compares with its clock.
func (s *Store) FindSession(ctx context.Context, id string) (model.Session, error) {
	var sess model.Session
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&sess).Error
	if err != nil {
		return sess, translate(err)
	}
	return sess, nil
}

// TouchSession stores a session's data and its last activity and new expiry.
// It returns ENOTFOUND if the session is gone (signed out or removed).
func (s *Store) TouchSession(ctx context.Context, id string, data []byte, lastSeen, expires time.Time) error {
	if data == nil {
		data = []byte{}
	}
	res := s.db.WithContext(ctx).Model(&model.Session{}).Where("id = ?", id).
		Updates(map[string]any{"data": data, "last_seen_at": lastSeen.UTC(), "expires_at": expires.UTC()})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return model.Errorf(model.ENOTFOUND, "Session not found.")
	}
	return nil
}

// DeleteSession deletes a session; deleting a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return translate(s.db.WithContext(ctx).Where("id = ?", id).Delete(&model.Session{}).Error)
}

// DeleteUserSessions ends every session of a user.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	return translate(s.db.WithContext(ctx).Where("user_id = ?", userID).Delete(&model.Session{}).Error)
}

// DeleteExpiredSessions deletes sessions whose expiry is at or before now and
// returns how many it deleted.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at <= ?", now.UTC()).Delete(&model.Session{})
	return res.RowsAffected, translate(res.Error)
}

// RecordLoginFailed writes session.login_failed, naming the user as the
// target and the client IP, to the audit log of every team the user belongs
// to. The actor is unknown: whoever typed the password is not signed in.
func (s *Store) RecordLoginFailed(ctx context.Context, u model.User, ip string) error {
	return s.inTx(ctx, func(tx *txn) error {
		var teamIDs []int64
		if err := tx.Model(&model.Membership{}).Where("user_id = ?", u.ID).Order("team_id").Pluck("team_id", &teamIDs).Error; err != nil {
			return err
		}
		actor := model.Actor{Label: "unauthenticated visitor", IP: ip}
		for _, id := range teamIDs {
			if err := tx.audit(id, actor, model.ActionSessionLoginFailed, itoa(u.ID), u.Email, nil); err != nil {
				return err
			}
		}
		return nil
	})
}
