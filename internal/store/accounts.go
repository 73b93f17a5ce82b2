package store

import (
	"context"
	"strings"

	"github.com/keyward/keyward/internal/model"
)

// CountUsers returns how many users exist (0 on a fresh install).
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&model.User{}).Count(&n).Error
	return n, translate(err)
}

// Setup creates the first user as OWNER of a new team, in one transaction.
// It returns ECONFLICT if any user exists already.
func (s *Store) Setup(ctx context.Context, email, passwordHash, teamName, ip string) (model.User, model.Team, error) {
	var u model.User
	var team model.Team
	err := s.inTx(ctx, func(tx *txn) error {
		if s.dialect == Postgres {
			// Two concurrent setups must not both succeed.
			if err := tx.Exec("LOCK TABLE users IN EXCLUSIVE MODE").Error; err != nil {
				return err
			}
		}
		var n int64
		if err := tx.Model(&model.User{}).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return model.Errorf(model.ECONFLICT, "keyward is already set up.")
		}
		var err error
		if u, err = tx.createUser(email, passwordHash, false); err != nil {
			return err
		}
		if team, err = tx.createTeam(teamName, model.UserActor(u, ip)); err != nil {
			return err
		}
		return tx.Create(&model.Membership{TeamID: team.ID, UserID: u.ID, Role: model.RoleOwner, CreatedAt: s.Now()}).Error
	})
	return u, team, err
}

// createUser creates a user; mustChange marks a password someone else chose.
func (t *txn) createUser(email, passwordHash string, mustChange bool) (model.User, error) {
	now := t.s.Now()
	u := model.User{Email: model.NormalizeEmail(email), PasswordHash: passwordHash, CreatedAt: now, PasswordChangedAt: now, MustChangePassword: mustChange}
	if err := t.Create(&u).Error; err != nil {
		if e := translate(err); model.ErrorCode(e) == model.ECONFLICT {
			return u, model.Errorf(model.ECONFLICT, "A user with that e-mail already exists.")
		}
		return u, err
	}
	return u, nil
}

func (t *txn) createTeam(name string, actor model.Actor) (model.Team, error) {
	team := model.Team{Name: strings.TrimSpace(name), CreatedAt: t.s.Now(), LeakAction: model.LeakRevoke}
	if err := t.Create(&team).Error; err != nil {
		return team, err
	}
	return team, t.audit(team.ID, actor, model.ActionTeamCreated, "", team.Name, nil)
}

// CreateUser creates a user. It returns ECONFLICT if the e-mail is taken.
func (s *Store) CreateUser(ctx context.Context, email, passwordHash string) (model.User, error) {
	return s.createUser(ctx, email, passwordHash, false)
}

// CreateUserWithGeneratedPassword creates a user whose password someone
// else chose (the command line's generated one): they must set their own at
// the next sign-in. It returns ECONFLICT if the e-mail is taken.
func (s *Store) CreateUserWithGeneratedPassword(ctx context.Context, email, passwordHash string) (model.User, error) {
	return s.createUser(ctx, email, passwordHash, true)
}

func (s *Store) createUser(ctx context.Context, email, passwordHash string, mustChange bool) (model.User, error) {
	var u model.User
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		u, err = tx.createUser(email, passwordHash, mustChange)
		return err
	})
	return u, err
}

// CreateTeam creates a team (with a team.created audit event).
func (s *Store) CreateTeam(ctx context.Context, name string, actor model.Actor) (model.Team, error) {
	var team model.Team
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		team, err = tx.createTeam(name, actor)
		return err
	})
	return team, err
}

// FindUserByEmail returns the user with that e-mail (case-insensitive), or ENOTFOUND.
func (s *Store) FindUserByEmail(ctx context.Context, email string) (model.User, error) {
	var u model.User
	err := s.db.WithContext(ctx).Where("lower(email) = ?", model.NormalizeEmail(email)).Take(&u).Error
	return u, translate(err)
}

// FindUserByID returns the user, or ENOTFOUND.
func (s *Store) FindUserByID(ctx context.Context, id int64) (model.User, error) {
	var u model.User
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error
	return u, translate(err)
}

// UpdatePassword sets a user's password hash, ends all their sessions and
// writes user.password_changed to each of their teams' audit logs. It returns
// ENOTFOUND for an unknown user.
func (s *Store) UpdatePassword(ctx context.Context, userID int64, passwordHash string, actor model.Actor) error {
	return s.inTx(ctx, func(tx *txn) error {
		var u model.User
		if err := tx.Where("id = ?", userID).Take(&u).Error; err != nil {
			return model.Errorf(model.ENOTFOUND, "User not found.")
		}
		err := tx.Model(&model.User{}).Where("id = ?", userID).
			Updates(map[string]any{"password_hash": passwordHash, "password_changed_at": s.Now(), "must_change_password": false}).Error
		if err != nil {
			return err
		}
		if err := tx.Exec("DELETE FROM sessions WHERE user_id = ?", userID).Error; err != nil {
			return err
		}
		var teams []int64
		if err := tx.Model(&model.Membership{}).Where("user_id = ?", userID).Pluck("team_id", &teams).Error; err != nil {
			return err
		}
		for _, team := range teams {
			if err := tx.audit(team, actor, model.ActionPasswordChanged, "", u.Email, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// FindTeamByID returns the team, or ENOTFOUND.
func (s *Store) FindTeamByID(ctx context.Context, id int64) (model.Team, error) {
	var t model.Team
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&t).Error
	return t, translate(err)
}

// FindTeamByName returns the oldest team with that exact name, or ENOTFOUND.
func (s *Store) FindTeamByName(ctx context.Context, name string) (model.Team, error) {
	var t model.Team
	err := s.db.WithContext(ctx).Where("name = ?", strings.TrimSpace(name)).Order("id").Take(&t).Error
	return t, translate(err)
}

type membershipRow struct {
	model.Membership
	Email         string
	TeamName      string
	UserCreatedAt string `gorm:"-"`
	HasPassword   bool
	HasSSO        bool
}

func (r membershipRow) toModel() model.Membership {
	m := r.Membership
	m.User = model.User{ID: m.UserID, Email: r.Email}
	m.Team = model.Team{ID: m.TeamID, Name: r.TeamName}
	if r.HasPassword {
		m.SignInMethods = append(m.SignInMethods, model.SignInPassword)
	}
	if r.HasSSO {
		m.SignInMethods = append(m.SignInMethods, model.SignInSSO)
	}
	return m
}

const membershipSelect = "memberships.*, users.email AS email, teams.name AS team_name, " +
	"users.password_hash <> '' AS has_password, users.oidc_subject <> '' AS has_sso"
const membershipJoins = "JOIN users ON users.id = memberships.user_id JOIN teams ON teams.id = memberships.team_id"

func (s *Store) findMemberships(ctx context.Context, where string, args ...any) ([]model.Membership, error) {
	var rows []membershipRow
	err := s.db.WithContext(ctx).Table("memberships").Select(membershipSelect).Joins(membershipJoins).
		Where(where, args...).Order("teams.name, memberships.team_id, lower(users.email)").Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]model.Membership, len(rows))
	for i, r := range rows {
		out[i] = r.toModel()
	}
	return out, nil
}

// FindMembership returns the user's membership of the team (with User and
// Team filled), or ENOTFOUND. Role checks read it on every request.
func (s *Store) FindMembership(ctx context.Context, teamID, userID int64) (model.Membership, error) {
	ms, err := s.findMemberships(ctx, "memberships.team_id = ? AND memberships.user_id = ?", teamID, userID)
	if err != nil {
		return model.Membership{}, err
	}
	if len(ms) == 0 {
		return model.Membership{}, model.Errorf(model.ENOTFOUND, "Not a member of that team.")
	}
	return ms[0], nil
}

// FindMembershipByID returns a membership of the team by its id, or ENOTFOUND
// (also for another team's membership id).
func (s *Store) FindMembershipByID(ctx context.Context, teamID, id int64) (model.Membership, error) {
	ms, err := s.findMemberships(ctx, "memberships.team_id = ? AND memberships.id = ?", teamID, id)
	if err != nil {
		return model.Membership{}, err
	}
	if len(ms) == 0 {
		return model.Membership{}, model.Errorf(model.ENOTFOUND, "Member not found.")
	}
	return ms[0], nil
}

// FindUserTeams returns the user's memberships, ordered by team name.
func (s *Store) FindUserTeams(ctx context.Context, userID int64) ([]model.Membership, error) {
	return s.findMemberships(ctx, "memberships.user_id = ?", userID)
}

// FindMembers returns the team's memberships, ordered by e-mail.
func (s *Store) FindMembers(ctx context.Context, teamID int64) ([]model.Membership, error) {
	return s.findMemberships(ctx, "memberships.team_id = ?", teamID)
}

// AddMember adds a user to a team with a role and writes member.added. It
// returns ECONFLICT if the user is a member already.
func (s *Store) AddMember(ctx context.Context, teamID, userID int64, role model.Role, actor model.Actor) (model.Membership, error) {
	var m model.Membership
	err := s.inTx(ctx, func(tx *txn) error {
		var u model.User
		if err := tx.Where("id = ?", userID).Take(&u).Error; err != nil {
			return err
		}
		var err error
		m, err = tx.addMember(teamID, u, role, actor)
		return err
	})
	return m, err
}

// AddNewMember creates a user and adds them to a team with a role, in one
// transaction, writing member.added. It returns ECONFLICT if the e-mail is taken.
func (s *Store) AddNewMember(ctx context.Context, teamID int64, email, passwordHash string, role model.Role, actor model.Actor) (model.Membership, error) {
	var m model.Membership
	err := s.inTx(ctx, func(tx *txn) error {
		u, err := tx.createUser(email, passwordHash, false)
		if err != nil {
			return err
		}
		m, err = tx.addMember(teamID, u, role, actor)
		return err
	})
	return m, err
}

func (t *txn) addMember(teamID int64, u model.User, role model.Role, actor model.Actor) (model.Membership, error) {
	m := model.Membership{TeamID: teamID, UserID: u.ID, Role: role, CreatedAt: t.s.Now()}
	if err := t.Create(&m).Error; err != nil {
		if model.ErrorCode(translate(err)) == model.ECONFLICT {
			return m, model.Errorf(model.ECONFLICT, "%s is already a member of this team.", u.Email)
		}
		return m, err
	}
	m.User = u
	return m, t.audit(teamID, actor, model.ActionMemberAdded, itoa(m.ID), u.Email, map[string]any{"role": string(role)})
}

// lockOwners locks the team's OWNER rows (PostgreSQL) and returns their count,
// so that two concurrent demotions cannot remove the last two owners.
func (t *txn) ownerCount(teamID int64) (int64, error) {
	var ids []int64
	q := t.Model(&model.Membership{}).Where("team_id = ? AND role = ?", teamID, model.RoleOwner)
	if t.s.dialect == Postgres {
		q = q.Clauses(forUpdate)
	}
	err := q.Pluck("id", &ids).Error
	return int64(len(ids)), err
}

// UpdateMemberRole changes a member's role and writes member.role_changed. It
// returns ENOTFOUND for another team's membership and ECONFLICT when that
// would leave the team without an OWNER. Callers check who may grant what.
func (s *Store) UpdateMemberRole(ctx context.Context, teamID, membershipID int64, role model.Role, actor model.Actor) (model.Membership, error) {
	var m model.Membership
	err := s.inTx(ctx, func(tx *txn) error {
		if err := tx.Where("team_id = ? AND id = ?", teamID, membershipID).Take(&m).Error; err != nil {
			return model.Errorf(model.ENOTFOUND, "Member not found.")
		}
		if m.Role == role {
			return nil
		}
		if m.Role == model.RoleOwner {
			n, err := tx.ownerCount(teamID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return model.Errorf(model.ECONFLICT, "A team needs at least one owner. Make someone else an owner first.")
			}
		}
		old := m.Role
		if err := tx.Model(&m).Update("role", role).Error; err != nil {
			return err
		}
		var u model.User
		if err := tx.Where("id = ?", m.UserID).Take(&u).Error; err != nil {
			return err
		}
		m.User = u
		return tx.audit(teamID, actor, model.ActionMemberRoleChanged, itoa(m.ID), u.Email,
			map[string]any{"from": string(old), "to": string(role)})
	})
	return m, err
}

// RemoveMember removes a membership, ends the user's sessions for good measure
// and writes member.removed. It returns ENOTFOUND for another team's
// membership and ECONFLICT for the last OWNER.
func (s *Store) RemoveMember(ctx context.Context, teamID, membershipID int64, actor model.Actor) error {
	return s.inTx(ctx, func(tx *txn) error {
		var m model.Membership
		if err := tx.Where("team_id = ? AND id = ?", teamID, membershipID).Take(&m).Error; err != nil {
			return model.Errorf(model.ENOTFOUND, "Member not found.")
		}
		if m.Role == model.RoleOwner {
			n, err := tx.ownerCount(teamID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return model.Errorf(model.ECONFLICT, "The last owner cannot be removed. Make someone else an owner first.")
			}
		}
		var u model.User
		if err := tx.Where("id = ?", m.UserID).Take(&u).Error; err != nil {
			return err
		}
		if err := tx.Delete(&m).Error; err != nil {
			return err
		}
		if err := tx.Exec("DELETE FROM sessions WHERE user_id = ?", m.UserID).Error; err != nil {
			return err
		}
		return tx.audit(teamID, actor, model.ActionMemberRemoved, itoa(m.ID), u.Email, map[string]any{"role": string(m.Role)})
	})
}
