package model

import "time"

// Session is a signed-in dashboard session as stored. ID is the SHA-256 (hex)
// of the token the cookie carries, never the token itself.
type Session struct {
	ID         string
	UserID     int64
	Data       []byte
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// TableName tells GORM the table of Session.
func (Session) TableName() string { return "sessions" }
