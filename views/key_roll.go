package views

import (
	"time"

	"github.com/keyward/keyward/internal/model"
)

// Grace choices of the roll form's expire_old_in field (the dashboard
// contract): how long the old key keeps working.
var RollGraceChoices = []struct{ Value, Label string }{
	{"0s", "Now"},
	{"1h", "1 hour"},
	{"24h", "24 hours"},
	{"72h", "3 days"},
	{"168h", "7 days"},
}

// DefaultRollGrace is the grace the roll form starts with.
const DefaultRollGrace = "24h"

// New-key expiry choices of the roll form's expires field.
const (
	RollExpiresSame  = "same"  // the old key's lifetime again, from now
	RollExpiresMax   = "max"   // the team's maximum key lifetime
	RollExpiresNever = "never" // no expiry
)

// KeyRollForm is the roll confirmation: the grace window for the old key and
// the new key's expiry.
type KeyRollForm struct {
	Key model.APIKey
	// Grace is the chosen expire_old_in; Expires the chosen expires.
	Grace   string
	Expires string
	Errors  map[string]string
	// SameExpiry is the new key's expiry under "same" (nil: never).
	SameExpiry *time.Time
	// MaxLifetimeDays is the team's maximum key lifetime, 0 for none.
	MaxLifetimeDays int
	From            string
	Dialog          bool
	CSRF            string
	Now             time.Time
}

// PostURL is where the roll form posts.
func (f KeyRollForm) PostURL() string { return KeyURL(f.Key.PublicID) + "/roll" }

// ExpiryChoices are the new key's expiry options. "never" is left out under
// a maximum lifetime, which refuses it anyway.
func (f KeyRollForm) ExpiryChoices() []struct{ Value, Label string } {
	same := "Like the old key: never"
	if f.SameExpiry != nil {
		same = "Like the old key: " + Date(*f.SameExpiry)
	}
	out := []struct{ Value, Label string }{{RollExpiresSame, same}}
	if f.MaxLifetimeDays > 0 {
		out = append(out, struct{ Value, Label string }{RollExpiresMax, "The team's maximum: " + model.Days(f.MaxLifetimeDays)})
	}
	for _, p := range []struct{ Value, Label string }{{"7d", "7 days"}, {"30d", "30 days"}, {"60d", "60 days"}, {"90d", "90 days"}} {
		out = append(out, p)
	}
	if f.MaxLifetimeDays == 0 {
		out = append(out, struct{ Value, Label string }{RollExpiresNever, "Never"})
	}
	return out
}

// KeyRolled is a roll that cannot go ahead because the key was rolled
// already: it links to the successor.
type KeyRolled struct {
	Key    model.APIKey
	Dialog bool
	Now    time.Time
}

// GraceText says, for the reveal, what happens to calls using the old key.
func GraceText(old model.APIKey, now time.Time) string {
	if old.ExpiresAt == nil || !old.ExpiresAt.After(now) {
		return "Calls using the old key " + old.Hint + " are refused from now on."
	}
	return "The old key " + old.Hint + " keeps working until " + ExactUTC(*old.ExpiresAt) + " (" + Relative(*old.ExpiresAt, now) + "); then calls using it are refused. Update your services before then."
}

// oldExpiryText reminds that the window never outlasts the old key's own
// expiry: " It expires anyway on Mar 3, 2027 (in 1 month)."; "" without one.
func oldExpiryText(k model.APIKey, now time.Time) string {
	if k.ExpiresAt == nil {
		return ""
	}
	return " The old key never works past its own expiry, " + Date(*k.ExpiresAt) + " (" + Relative(*k.ExpiresAt, now) + ")."
}

// replacedText is a rolled key's line in the table and on its details
// page: "expires in 23 hours", "expired 2 days ago".
func replacedText(k model.APIKey, now time.Time) string {
	if k.RevokedAt != nil || k.ExpiresAt == nil {
		return ""
	}
	if k.ExpiresAt.After(now) {
		return "expires " + Relative(*k.ExpiresAt, now)
	}
	return "expired " + Relative(*k.ExpiresAt, now)
}

// ShortKeyID shortens a public key id for a table cell: "key_9JZQ…lDzj".
func ShortKeyID(id string) string {
	if len(id) <= 16 {
		return id
	}
	return id[:8] + "…" + id[len(id)-4:]
}
