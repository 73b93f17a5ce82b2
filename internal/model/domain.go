package model

import (
	"strings"
	"time"
)

// Role is a user's role in a team.
type Role string

// Roles, from most to least powerful.
const (
	RoleOwner  Role = "OWNER"
	RoleAdmin  Role = "ADMIN"
	RoleMember Role = "MEMBER"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleOwner, RoleAdmin, RoleMember}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOwner || r == RoleAdmin || r == RoleMember }

// CanManage reports whether the role may manage API keys and members.
func (r Role) CanManage() bool { return r == RoleOwner || r == RoleAdmin }

// Label is the role as shown to people ("Owner").
func (r Role) Label() string {
	if r == "" {
		return ""
	}
	return string(r[0]) + strings.ToLower(string(r[1:]))
}

// ParseRole parses a role name case-insensitively.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToUpper(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", Errorf(EINVALID, "Role must be OWNER, ADMIN or MEMBER.")
	}
	return r, nil
}

// User is a person who signs in to the dashboard.
type User struct {
	ID                int64
	Email             string
	PasswordHash      string `json:"-"`
	CreatedAt         time.Time
	PasswordChangedAt time.Time
	// MustChangePassword is set for accounts whose password someone else
	// chose (a generated one): they set their own at the next sign-in.
	MustChangePassword bool
}

// TableName tells GORM the table of User.
func (User) TableName() string { return "users" }

// NormalizeEmail trims and lower-cases an e-mail address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Team owns API keys and has members.
type Team struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	// LeakAction is LeakRevoke (the default) or LeakNotify.
	LeakAction string
}

// TableName tells GORM the table of Team.
func (Team) TableName() string { return "teams" }

// Membership links a user to a team with a role.
type Membership struct {
	ID        int64
	TeamID    int64
	UserID    int64
	Role      Role
	CreatedAt time.Time

	// Filled by the store's Find methods.
	Team Team `gorm:"-"`
	User User `gorm:"-"`
}

// TableName tells GORM the table of Membership.
func (Membership) TableName() string { return "memberships" }

// Actor is who performs a change: a signed-in user or an API key.
type Actor struct {
	UserID *int64
	KeyID  *int64
	// Label names the actor for people: the user's e-mail or the key's name and hint.
	Label string
	IP    string
	// Permission of the acting key; nil for users (who are limited by role).
	Permission *Permission
}

// UserActor returns the actor for a signed-in user.
func UserActor(u User, ip string) Actor {
	id := u.ID
	return Actor{UserID: &id, Label: u.Email, IP: ip}
}

// KeyActor returns the actor for an authenticated API key.
func KeyActor(k APIKey, ip string) Actor {
	id := k.ID
	p := k.Permission()
	return Actor{KeyID: &id, Label: k.Name + " (" + k.Hint + ")", IP: ip, Permission: &p}
}

// Audit actions.
const (
	ActionKeyCreated         = "api_key.created"
	ActionKeyUpdated         = "api_key.updated"
	ActionKeyRevoked         = "api_key.revoked"
	ActionKeyDeleted         = "api_key.deleted"
	ActionKeyLeaked          = "api_key.leaked"
	ActionKeyLeakAcked       = "api_key.leak_acknowledged"
	ActionTeamLeakAction     = "team.leak_action_changed"
	ActionMemberAdded        = "member.added"
	ActionMemberRoleChanged  = "member.role_changed"
	ActionMemberRemoved      = "member.removed"
	ActionTeamCreated        = "team.created"
	ActionPasswordChanged    = "user.password_changed"
	ActionSessionLogin       = "session.login"
	ActionSessionLoginFailed = "session.login_failed"
)

// AuditEvent is one append-only entry of a team's audit log.
type AuditEvent struct {
	ID          int64
	TeamID      int64
	ActorUserID *int64
	ActorKeyID  *int64
	ActorLabel  string
	Action      string
	TargetID    string
	TargetName  string
	IP          string
	Detail      map[string]any `gorm:"serializer:json"`
	CreatedAt   time.Time
}

// TableName tells GORM the table of AuditEvent.
func (AuditEvent) TableName() string { return "audit_events" }
