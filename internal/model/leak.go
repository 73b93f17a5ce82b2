package model

import (
	"strings"
	"time"
)

// Leak actions: what happens to a key of the team that a secret scanner
// finds in public (Team.LeakAction).
const (
	LeakRevoke = "revoke" // revoke the key at once (the default)
	LeakNotify = "notify" // record and tell the team, leave the key working
)

// ValidLeakAction reports whether a is LeakRevoke or LeakNotify.
func ValidLeakAction(a string) bool { return a == LeakRevoke || a == LeakNotify }

// What a leak report did to the key (KeyLeak.Action).
const (
	LeakRevoked        = "revoked"
	LeakNotified       = "notified"
	LeakAlreadyRevoked = "already_revoked"
)

// Sources of a leak besides GitHub's own values (content, commit, …).
const (
	// LeakSourceReport is a person or key pasting the key into "Report a
	// leaked key".
	LeakSourceReport = "report"
)

// Sighting is one place where a raw key was seen: a secret scanner's match
// or a pasted key. Hash is the key's SHA-256 (keys.Hash); the raw key itself
// never reaches the store.
type Sighting struct {
	Hash   string
	URL    string // where it was found; "" for a report
	Source string // the scanner's source (content, commit, …) or LeakSourceReport
}

// KeyLeak is a key found in public, once per key and distinct URL: the mark
// on the key and, until someone acknowledges it, the notice on the key table.
type KeyLeak struct {
	ID       int64
	KeyID    int64
	TeamID   int64
	URL      string
	Source   string
	Reporter string // who reported it: "GitHub secret scanning", a user's e-mail, a key's label
	// Action is LeakRevoked, LeakNotified or LeakAlreadyRevoked.
	Action         string
	FoundAt        time.Time
	AcknowledgedAt *time.Time
	AcknowledgedBy string

	// Filled by the store's Find methods: the key's public id, name and hint.
	KeyPublicID string `gorm:"-"`
	KeyName     string `gorm:"-"`
	KeyHint     string `gorm:"-"`
}

// TableName tells GORM the table of KeyLeak.
func (KeyLeak) TableName() string { return "key_leaks" }

// SourceLabel is the source as people read it ("commit", "issue comment").
func (l KeyLeak) SourceLabel() string {
	if l.Source == LeakSourceReport {
		return "a report"
	}
	return strings.ReplaceAll(strings.ToLower(l.Source), "_", " ")
}

// LeakOutcome is what a leak report found: which sightings were keyward
// keys, and the leaks it recorded.
type LeakOutcome struct {
	// Known holds the hashes of the sightings that are keys keyward holds
	// (any status).
	Known map[string]bool
	// Recorded are the new leaks (a key already recorded at a URL is not
	// recorded again).
	Recorded []KeyLeak
}
