package store

import (
	"context"
	"strings"

	"github.com/keyward/keyward/internal/model"
)

// SSOSignIn is the database side of a single sign-on: in one transaction it
// finds the account linked to subject, or else the account with the
// (verified) e-mail, which it links to subject, or else creates an account
// with no password; then, when desired is not nil, it makes the user's
// memberships of those teams match it (a team named there that does not
// exist yet is created; "" means no membership). A change that would leave
// a team without an owner is skipped and named in the notes. Every change
// is audited with actor.
//
// It returns EFORBIDDEN if the e-mail's account is linked to another
// subject (someone else at the provider now has that address).
func (s *Store) SSOSignIn(ctx context.Context, email, subject string, desired map[string]model.Role, actor model.Actor) (model.User, []string, error) {
	var u model.User
	var notes []string
	email = model.NormalizeEmail(email)
	err := s.inTx(ctx, func(tx *txn) error {
		err := tx.Where("oidc_subject = ?", subject).Take(&u).Error
		switch model.ErrorCode(translate(err)) {
		case "":
		case model.ENOTFOUND:
			err = tx.Where("lower(email) = ?", email).Take(&u).Error
			switch model.ErrorCode(translate(err)) {
			case "":
				if u.OIDCSubject != "" {
					return model.Errorf(model.EFORBIDDEN, "The keyward account %s is linked to another identity at the sign-in provider. Ask an owner of your team.", email)
				}
				if err := tx.Model(&model.User{}).Where("id = ?", u.ID).Update("oidc_subject", subject).Error; err != nil {
					return err
				}
				u.OIDCSubject = subject
				if err := tx.auditUserTeams(u, actor, model.ActionSSOLinked); err != nil {
					return err
				}
			case model.ENOTFOUND:
				now := s.Now()
				u = model.User{Email: email, CreatedAt: now, PasswordChangedAt: now, OIDCSubject: subject}
				if err := tx.Create(&u).Error; err != nil {
					return err
				}
			default:
				return err
			}
		default:
			return err
		}
		if desired == nil {
			return nil
		}
		for team, role := range desired {
			note, err := tx.applySSORole(u, team, role, actor)
			if err != nil {
				return err
			}
			if note != "" {
				notes = append(notes, note)
			}
		}
		return nil
	})
	return u, notes, err
}

// auditUserTeams writes action about u to each of u's teams.
func (t *txn) auditUserTeams(u model.User, actor model.Actor, action string) error {
	var teams []int64
	if err := t.Model(&model.Membership{}).Where("user_id = ?", u.ID).Pluck("team_id", &teams).Error; err != nil {
		return err
	}
	for _, team := range teams {
		if err := t.audit(team, actor, action, itoa(u.ID), u.Email, nil); err != nil {
			return err
		}
	}
	return nil
}

// applySSORole makes u's membership of the team named name have role (none
// for ""). It returns a note when the last owner would lose the role.
func (t *txn) applySSORole(u model.User, name string, role model.Role, actor model.Actor) (string, error) {
	var team model.Team
	err := t.Where("name = ?", strings.TrimSpace(name)).Order("id").Take(&team).Error
	switch model.ErrorCode(translate(err)) {
	case "":
	case model.ENOTFOUND:
		if role == "" {
			return "", nil
		}
		if team, err = t.createTeam(name, actor); err != nil {
			return "", err
		}
	default:
		return "", err
	}
	var m model.Membership
	err = t.Where("team_id = ? AND user_id = ?", team.ID, u.ID).Take(&m).Error
	switch model.ErrorCode(translate(err)) {
	case model.ENOTFOUND:
		if role == "" {
			return "", nil
		}
		_, err := t.addMember(team.ID, u, role, actor)
		return "", err
	case "":
	default:
		return "", err
	}
	if m.Role == role {
		return "", nil
	}
	if m.Role == model.RoleOwner {
		n, err := t.ownerCount(team.ID)
		if err != nil {
			return "", err
		}
		if n <= 1 {
			return "kept " + u.Email + " as the last owner of " + team.Name + " although the provider's groups no longer make them one", nil
		}
	}
	if role == "" {
		if err := t.Delete(&m).Error; err != nil {
			return "", err
		}
		return "", t.audit(team.ID, actor, model.ActionMemberRemoved, itoa(m.ID), u.Email, map[string]any{"role": string(m.Role)})
	}
	old := m.Role
	if err := t.Model(&m).Update("role", role).Error; err != nil {
		return "", err
	}
	return "", t.audit(team.ID, actor, model.ActionMemberRoleChanged, itoa(m.ID), u.Email,
		map[string]any{"from": string(old), "to": string(role)})
}
