package model

import (
	"fmt"
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
	// OIDCSubject links the account to an identity at the single sign-on
	// provider ("" for none).
	OIDCSubject string `gorm:"column:oidc_subject" json:"-"`
	// RemindersOff: the person turned e-mailed expiry and rotation reminders off.
	RemindersOff bool
}

// TableName tells GORM the table of User.
func (User) TableName() string { return "users" }

// NormalizeEmail trims and lower-cases an e-mail address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Team owns API keys and has members. Its settings are changed through
// TeamSettings (Settings → Team).
type Team struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	// RotationDays: active keys older than this are "Rotation due"; 0 = off.
	RotationDays int
	// MaxKeyLifetimeDays: new keys must expire within this many days; 0 = off.
	MaxKeyLifetimeDays int
	// LeakAction is LeakRevoke (the default) or LeakNotify.
	LeakAction string
}

// Settings returns the team's settings as Settings → Team edits them.
func (t Team) Settings() TeamSettings {
	return TeamSettings{RotationDays: t.RotationDays, MaxKeyLifetimeDays: t.MaxKeyLifetimeDays, LeakAction: t.LeakAction}
}

// MaxTeamPolicyDays bounds rotation_days and max_key_lifetime_days (ten years).
const MaxTeamPolicyDays = 3650

// TeamSettings are a team's policies, as Settings → Team shows and changes
// them. Each field maps to a teams column of the same name; a new setting
// is a field here, a column, an entry in the store's UpdateTeamSettings and
// a section of the page.
type TeamSettings struct {
	RotationDays       int
	MaxKeyLifetimeDays int
	// LeakAction is what happens to a key found in public: LeakRevoke or
	// LeakNotify; "" keeps the team's current action.
	LeakAction string
}

// Validate checks the settings. It returns EINVALID with the fields
// rotation_days, max_key_lifetime_days and leak_action.
func (s TeamSettings) Validate() error {
	fe := FieldErrors{}
	if s.RotationDays < 0 || s.RotationDays > MaxTeamPolicyDays {
		fe.Add("rotation_days", "Enter a number of days from 1 to 3650, or turn rotation reminders off.")
	}
	if s.MaxKeyLifetimeDays < 0 || s.MaxKeyLifetimeDays > MaxTeamPolicyDays {
		fe.Add("max_key_lifetime_days", "Enter a number of days from 1 to 3650, or allow any lifetime.")
	}
	if s.LeakAction != "" && !ValidLeakAction(s.LeakAction) {
		fe.Add("leak_action", "Choose whether a key found in public is revoked or only reported.")
	}
	return fe.Err()
}

// LifetimeLimit is the latest expiry a key created at now may have under
// the team's maximum key lifetime (the end of the UTC day that many days
// ahead, so that a date picked in the form fits), and whether there is such
// a limit.
func (t Team) LifetimeLimit(now time.Time) (time.Time, bool) {
	if t.MaxKeyLifetimeDays <= 0 {
		return time.Time{}, false
	}
	y, m, d := now.UTC().AddDate(0, 0, t.MaxKeyLifetimeDays).Date()
	return time.Date(y, m, d, 23, 59, 59, 0, time.UTC), true
}

// CheckLifetime refuses a new key's expiry (nil: never) that the team's
// maximum key lifetime does not allow. It returns EINVALID with the field
// expires_at, naming the policy.
func (t Team) CheckLifetime(expiresAt *time.Time, now time.Time) error {
	limit, ok := t.LifetimeLimit(now)
	if !ok || (expiresAt != nil && !expiresAt.After(limit)) {
		return nil
	}
	msg := fmt.Sprintf("This team's policy (Settings → Team, maximum key lifetime) requires new keys to expire within %s: pick an expiry on or before %s.",
		Days(t.MaxKeyLifetimeDays), limit.UTC().Format("2 Jan 2006"))
	return &Error{Code: EINVALID, Message: msg, Fields: map[string]string{"expires_at": msg}}
}

// Days writes a number of days: "1 day", "90 days".
func Days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
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
	// SignInMethods says how the user signs in (SignInPassword,
	// SignInSSO); filled by the store's Find methods.
	SignInMethods []string `gorm:"-"`
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
	// Environment of the acting key (live or test); empty for users.
	Environment string
}

// MayCreate returns EFORBIDDEN unless the actor may create k: an API key
// only up to its own permission (no escalation), and a test key only test
// keys. People are limited by their role instead and always may.
func (a Actor) MayCreate(k APIKey) error {
	return a.mayHold(k, "create")
}

// MayManage returns EFORBIDDEN unless the actor may change, roll, revoke or
// delete k (DESIGN.md, Permissions): an API key only keys whose permission
// its own covers, and a test key only test keys. People always may.
func (a Actor) MayManage(k APIKey) error {
	return a.mayHold(k, "manage")
}

func (a Actor) mayHold(k APIKey, verb string) error {
	if a.Permission == nil {
		return nil
	}
	if a.Environment != EnvLive && k.Environment != EnvTest {
		return Errorf(EFORBIDDEN, "A test key can only %s test keys; use a live key for live keys.", verb)
	}
	if !a.Permission.Covers(k.Permission()) {
		return Errorf(EFORBIDDEN, "This key can only %s keys whose permissions its own cover (%s); this one has %s.",
			verb, strings.Join(a.Permission.ScopeStrings(), ", "), strings.Join(k.Permission().ScopeStrings(), ", "))
	}
	return nil
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
	return Actor{KeyID: &id, Label: k.Name + " (" + k.Hint + ")", IP: ip, Permission: &p, Environment: k.Environment}
}

// Audit actions.
const (
	ActionKeyCreated         = "api_key.created"
	ActionKeyUpdated         = "api_key.updated"
	ActionKeyRevoked         = "api_key.revoked"
	ActionKeyDeleted         = "api_key.deleted"
	ActionKeyRolled          = "api_key.rolled"
	ActionTeamSettings       = "team.settings_changed"
	ActionKeyLeaked          = "api_key.leaked"
	ActionKeyLeakAcked       = "api_key.leak_acknowledged"
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
