package model

import "time"

// Account audit actions (beside those in domain.go).
const (
	ActionMemberInvited            = "member.invited"
	ActionMemberInvitationResent   = "member.invitation_resent"
	ActionMemberInvitationCanceled = "member.invitation_cancelled"
	ActionMemberInvitationAccepted = "member.invitation_accepted"
	ActionPasswordResetRequested   = "user.password_reset_requested"
	ActionPasswordReset            = "user.password_reset"
)

// InvitationLifetime is how long an invitation link stays valid.
const InvitationLifetime = 7 * 24 * time.Hour

// PasswordResetLifetime is how long a password reset link stays valid.
const PasswordResetLifetime = time.Hour

// Invitation asks someone, by e-mail, to join a team with a role. Its link
// carries a token whose SHA-256 alone is stored.
type Invitation struct {
	ID          int64
	TeamID      int64
	Email       string
	Role        Role
	TokenHash   string `json:"-"`
	InvitedBy   string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	AcceptedAt  *time.Time
	CancelledAt *time.Time

	// Team is filled by FindInvitationByToken.
	Team Team `gorm:"-"`
}

// TableName tells GORM the table of Invitation.
func (Invitation) TableName() string { return "invitations" }

// Pending reports whether the invitation can still be accepted at now.
func (i Invitation) Pending(now time.Time) bool {
	return i.AcceptedAt == nil && i.CancelledAt == nil && now.Before(i.ExpiresAt)
}

// PasswordReset is a single-use link to set a new password. Only the
// SHA-256 of its token is stored.
type PasswordReset struct {
	ID        int64
	UserID    int64
	TokenHash string `json:"-"`
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// TableName tells GORM the table of PasswordReset.
func (PasswordReset) TableName() string { return "password_resets" }
