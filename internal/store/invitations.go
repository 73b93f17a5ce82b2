package store

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// CreateInvitation records an invitation of email to teamID with role,
// valid until expiresAt, and writes member.invited. It returns ECONFLICT if
// the address already belongs to a member of the team, or has an open
// invitation (resend that one instead).
func (s *Store) CreateInvitation(ctx context.Context, teamID int64, email string, role model.Role, tokenHash string, expiresAt time.Time, actor model.Actor) (model.Invitation, error) {
	inv := model.Invitation{
		TeamID: teamID, Email: model.NormalizeEmail(email), Role: role, TokenHash: tokenHash,
		InvitedBy: actor.Label, CreatedAt: s.Now(), ExpiresAt: expiresAt,
	}
	err := s.inTx(ctx, func(tx *txn) error {
		var n int64
		err := tx.Model(&model.Membership{}).
			Joins("JOIN users ON users.id = memberships.user_id").
			Where("memberships.team_id = ? AND lower(users.email) = ?", teamID, inv.Email).Count(&n).Error
		if err != nil {
			return err
		}
		if n > 0 {
			return model.Errorf(model.ECONFLICT, "%s is already a member of this team.", inv.Email)
		}
		if err := tx.Create(&inv).Error; err != nil {
			if model.ErrorCode(translate(err)) == model.ECONFLICT {
				return model.Errorf(model.ECONFLICT, "%s has been invited already. Resend or cancel that invitation below.", inv.Email)
			}
			return err
		}
		return tx.audit(teamID, actor, model.ActionMemberInvited, itoa(inv.ID), inv.Email, map[string]any{"role": string(role)})
	})
	return inv, err
}

// FindOpenInvitations returns the team's invitations that were neither
// accepted nor cancelled (expired ones included, so they can be resent),
// newest first.
func (s *Store) FindOpenInvitations(ctx context.Context, teamID int64) ([]model.Invitation, error) {
	var invs []model.Invitation
	err := s.db.WithContext(ctx).
		Where("team_id = ? AND accepted_at IS NULL AND cancelled_at IS NULL", teamID).
		Order("created_at DESC, id DESC").Find(&invs).Error
	return invs, translate(err)
}

// FindInvitationByToken returns the invitation whose token hashes to
// tokenHash, with its team, if it can still be accepted at the store's
// clock. It returns ENOTFOUND otherwise (unknown, used, cancelled or
// expired: the link says the same for each).
func (s *Store) FindInvitationByToken(ctx context.Context, tokenHash string) (model.Invitation, error) {
	var inv model.Invitation
	err := s.db.WithContext(ctx).Where("token_hash = ?", tokenHash).Take(&inv).Error
	if err != nil {
		return inv, invitationGone(translate(err))
	}
	if !inv.Pending(s.Now()) {
		return inv, invitationGone(nil)
	}
	inv.Team, err = s.FindTeamByID(ctx, inv.TeamID)
	return inv, err
}

func invitationGone(err error) error {
	if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
		return err
	}
	return model.Errorf(model.ENOTFOUND, "This invitation link is not valid any more: it was used, cancelled or has expired. Ask the person who invited you to send a new one.")
}

// ResendInvitation gives an open invitation of the team a new token and a
// new expiry (the old link stops working) and writes
// member.invitation_resent. It returns ENOTFOUND for an id that is not an
// open invitation of the team.
func (s *Store) ResendInvitation(ctx context.Context, teamID, id int64, tokenHash string, expiresAt time.Time, actor model.Actor) (model.Invitation, error) {
	var inv model.Invitation
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		if inv, err = tx.openInvitation(teamID, id); err != nil {
			return err
		}
		inv.TokenHash, inv.ExpiresAt = tokenHash, expiresAt
		err = tx.Model(&model.Invitation{}).Where("id = ?", id).
			Updates(map[string]any{"token_hash": tokenHash, "expires_at": expiresAt}).Error
		if err != nil {
			return err
		}
		return tx.audit(teamID, actor, model.ActionMemberInvitationResent, itoa(id), inv.Email, map[string]any{"role": string(inv.Role)})
	})
	return inv, err
}

// CancelInvitation cancels an open invitation of the team and writes
// member.invitation_cancelled. It returns ENOTFOUND for an id that is not
// an open invitation of the team.
func (s *Store) CancelInvitation(ctx context.Context, teamID, id int64, actor model.Actor) (model.Invitation, error) {
	var inv model.Invitation
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		if inv, err = tx.openInvitation(teamID, id); err != nil {
			return err
		}
		if err := tx.Model(&model.Invitation{}).Where("id = ?", id).Update("cancelled_at", s.Now()).Error; err != nil {
			return err
		}
		return tx.audit(teamID, actor, model.ActionMemberInvitationCanceled, itoa(id), inv.Email, map[string]any{"role": string(inv.Role)})
	})
	return inv, err
}

func (t *txn) openInvitation(teamID, id int64) (model.Invitation, error) {
	var inv model.Invitation
	q := t.Where("id = ? AND team_id = ? AND accepted_at IS NULL AND cancelled_at IS NULL", id, teamID)
	if t.s.dialect == Postgres {
		q = q.Clauses(forUpdate)
	}
	if err := q.Take(&inv).Error; err != nil {
		if model.ErrorCode(translate(err)) == model.ENOTFOUND {
			return inv, model.Errorf(model.ENOTFOUND, "Invitation not found.")
		}
		return inv, err
	}
	return inv, nil
}

// AcceptInvitation accepts the invitation whose token hashes to tokenHash:
// for userID > 0 it adds that user to the team (their e-mail must be the
// invited one); for userID 0 it creates an account for the invited e-mail
// with passwordHash first. In one transaction it marks the invitation used,
// adds the membership and writes member.invitation_accepted. It returns
// ENOTFOUND if the invitation cannot be accepted any more, EFORBIDDEN if
// userID's e-mail is another one, and ECONFLICT if an account with the
// invited e-mail exists (for userID 0) or the user is a member already.
func (s *Store) AcceptInvitation(ctx context.Context, tokenHash string, userID int64, passwordHash, ip string) (model.Membership, error) {
	var m model.Membership
	err := s.inTx(ctx, func(tx *txn) error {
		inv, err := tx.pendingInvitation(tokenHash)
		if err != nil {
			return err
		}
		var u model.User
		if userID > 0 {
			if err := tx.Where("id = ?", userID).Take(&u).Error; err != nil {
				return err
			}
			if model.NormalizeEmail(u.Email) != inv.Email {
				return model.Errorf(model.EFORBIDDEN, "This invitation is for %s. Sign out and sign in as %s to accept it.", inv.Email, inv.Email)
			}
		} else if u, err = tx.createUser(inv.Email, passwordHash, false); err != nil {
			return err
		}
		m, err = tx.acceptInvitation(inv, u, ip)
		return err
	})
	return m, err
}

// pendingInvitation locks and returns the invitation whose token hashes to
// tokenHash, or ENOTFOUND if it cannot be accepted any more.
func (t *txn) pendingInvitation(tokenHash string) (model.Invitation, error) {
	var inv model.Invitation
	q := t.Where("token_hash = ?", tokenHash)
	if t.s.dialect == Postgres {
		q = q.Clauses(forUpdate)
	}
	if err := q.Take(&inv).Error; err != nil {
		return inv, invitationGone(translate(err))
	}
	if !inv.Pending(t.s.Now()) {
		return inv, invitationGone(nil)
	}
	return inv, nil
}

// acceptInvitation marks inv used, makes u a member of its team with its
// role and writes member.invitation_accepted with u as the actor.
func (t *txn) acceptInvitation(inv model.Invitation, u model.User, ip string) (model.Membership, error) {
	now := t.s.Now()
	res := t.Model(&model.Invitation{}).Where("id = ? AND accepted_at IS NULL", inv.ID).Update("accepted_at", now)
	if res.Error != nil {
		return model.Membership{}, res.Error
	}
	if res.RowsAffected != 1 {
		return model.Membership{}, invitationGone(nil)
	}
	m := model.Membership{TeamID: inv.TeamID, UserID: u.ID, Role: inv.Role, CreatedAt: now, User: u}
	if err := t.Create(&m).Error; err != nil {
		if model.ErrorCode(translate(err)) == model.ECONFLICT {
			return m, model.Errorf(model.ECONFLICT, "You are a member of this team already.")
		}
		return m, err
	}
	// The acceptance is the membership's record (who joined, with which
	// role, invited by whom): one event, not a second member.added.
	return m, t.audit(inv.TeamID, model.UserActor(u, ip), model.ActionMemberInvitationAccepted, itoa(m.ID), inv.Email,
		map[string]any{"role": string(inv.Role), "invited_by": inv.InvitedBy, "invitation_id": inv.ID})
}
