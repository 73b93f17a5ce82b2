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
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		if u, err = tx.ssoUser(email, subject, actor); err != nil {
			return err
		}
		notes, err = tx.applySSORoles(u, desired, actor)
		return err
	})
	return u, notes, err
}

// AcceptInvitationSSO accepts the invitation whose token hashes to
// tokenHash for the person a single sign-on vouched for (verified email,
// subject), in one transaction: the account is found, linked or created as
// SSOSignIn does, the invitation is used, the membership added and
// member.invitation_accepted written as for a password acceptance, and then
// the roles file (desired) is applied as at every single sign-on, so a team
// it lists gets the role the groups give, whatever the invitation said.
//
// It returns ENOTFOUND if the invitation cannot be accepted any more,
// EFORBIDDEN (and changes nothing) if email is not the invited address, if
// the account is linked to another subject, or if the roles file gives the
// user no role in the invited team (the invitation stays pending), and
// ECONFLICT if the user is a member of the team already.
func (s *Store) AcceptInvitationSSO(ctx context.Context, tokenHash, email, subject string, desired map[string]model.Role, actor model.Actor) (model.Membership, []string, error) {
	var m model.Membership
	var notes []string
	err := s.inTx(ctx, func(tx *txn) error {
		inv, err := tx.pendingInvitation(tokenHash)
		if err != nil {
			return err
		}
		if got := model.NormalizeEmail(email); got != inv.Email {
			return model.Errorf(model.EFORBIDDEN, "This invitation is for %s, but the sign-in provider signed you in as %s. Sign in there as %s, or ask for an invitation for %s.", inv.Email, got, inv.Email, got)
		}
		u, err := tx.ssoUser(email, subject, actor)
		if err != nil {
			return err
		}
		if m, err = tx.acceptInvitation(inv, u, actor.IP); err != nil {
			return err
		}
		if notes, err = tx.applySSORoles(u, desired, actor); err != nil {
			return err
		}
		err = tx.Where("team_id = ? AND user_id = ?", inv.TeamID, u.ID).Take(&m).Error
		if model.ErrorCode(translate(err)) == model.ENOTFOUND {
			var team model.Team
			if err := tx.Where("id = ?", inv.TeamID).Take(&team).Error; err != nil {
				return err
			}
			return model.Errorf(model.EFORBIDDEN, "The members of %s follow the groups at the sign-in provider, and your groups there give you no role in it. Ask an owner of %s to add you to the right group, then open this invitation again.", team.Name, team.Name)
		}
		m.User = u
		return err
	})
	return m, notes, err
}

// ssoUser finds the account linked to subject, or else links the account
// with email to subject, or else creates a passwordless account for email.
func (t *txn) ssoUser(email, subject string, actor model.Actor) (model.User, error) {
	var u model.User
	email = model.NormalizeEmail(email)
	err := t.Where("oidc_subject = ?", subject).Take(&u).Error
	switch model.ErrorCode(translate(err)) {
	case "":
		return u, nil
	case model.ENOTFOUND:
	default:
		return u, err
	}
	err = t.Where("lower(email) = ?", email).Take(&u).Error
	switch model.ErrorCode(translate(err)) {
	case "":
		if u.OIDCSubject != "" {
			return u, model.Errorf(model.EFORBIDDEN, "The keyward account %s is linked to another identity at the sign-in provider. Ask an owner of your team.", email)
		}
		if err := t.Model(&model.User{}).Where("id = ?", u.ID).Update("oidc_subject", subject).Error; err != nil {
			return u, err
		}
		u.OIDCSubject = subject
		return u, t.auditUserTeams(u, actor, model.ActionSSOLinked)
	case model.ENOTFOUND:
		now := t.s.Now()
		u = model.User{Email: email, CreatedAt: now, PasswordChangedAt: now, OIDCSubject: subject}
		return u, t.Create(&u).Error
	default:
		return u, err
	}
}

// applySSORoles makes u's memberships of the teams in desired match it (nil:
// nothing to do) and returns notes on changes it skipped.
func (t *txn) applySSORoles(u model.User, desired map[string]model.Role, actor model.Actor) ([]string, error) {
	var notes []string
	for team, role := range desired {
		note, err := t.applySSORole(u, team, role, actor)
		if err != nil {
			return nil, err
		}
		if note != "" {
			notes = append(notes, note)
		}
	}
	return notes, nil
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
