package views

import (
	"net/url"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// KeyActivity is what the key pages show of a key's recent use: its usage
// per day and the calls it refused since it stopped working.
type KeyActivity struct {
	Usage   UsageChart
	Refused RefusedCalls
	// Selectable shows the row's checkbox for revoking keys together (the
	// table shows a hygiene filter).
	Selectable bool
	// RotationDue marks a key older than the team's rotation period
	// (RotationDays) that was not rolled yet.
	RotationDue  bool
	RotationDays int
}

// RefusedCalls are the calls a revoked or expired key refused since then.
type RefusedCalls struct {
	Count  int64
	LastAt time.Time
	LastIP string
	// Revoked tells "since it was revoked" from "since it expired".
	Revoked bool
}

// Text says it in words: "12 calls refused since it was revoked, last from
// 203.0.113.7"; "" when there are none.
func (r RefusedCalls) Text() string {
	if r.Count <= 0 {
		return ""
	}
	s := plural(r.Count, "call", "calls") + " refused since it "
	if r.Revoked {
		s += "was revoked"
	} else {
		s += "expired"
	}
	if r.LastIP != "" {
		s += ", last from " + r.LastIP
	}
	return s
}

// Hygiene kinds, the key table's hygiene= values (the store's Hygiene*).
const (
	HygieneNeverUsed = "never_used"
	HygieneStale     = "stale"
	HygieneNoExpiry  = "no_expiry"
	HygieneExpiring  = "expiring"
	// HygieneRotationDue: older than the team's rotation period, not rolled.
	HygieneRotationDue = "rotation_due"
)

// Hygiene is the panel at the top of the key table: counts of the team's
// active keys that deserve a look, each a link to the table showing them.
type Hygiene struct {
	NeverUsed int64
	Stale     int64
	NoExpiry  int64
	Expiring  int64
	// RotationDue counts keys due for rotation under the team's policy of
	// RotationDays (0: no policy, no card).
	RotationDue  int64
	RotationDays int
	// Current is the hygiene filter the table shows, or "".
	Current string
}

// Shown reports whether the panel applies: something to look at, or a
// hygiene filter in use.
func (h Hygiene) Shown() bool {
	return h.NeverUsed > 0 || h.Stale > 0 || h.NoExpiry > 0 || h.Expiring > 0 || h.RotationDue > 0 || h.Current != ""
}

// HygieneStat is one card of the panel.
type HygieneStat struct {
	Kind  string
	Count int64
	Label string
	// Warn marks cards that call for action.
	Warn bool
}

// Stats are the panel's cards: those with keys to show, and the current one.
func (h Hygiene) Stats() []HygieneStat {
	all := []HygieneStat{
		{HygieneNeverUsed, h.NeverUsed, "never used", false},
		{HygieneStale, h.Stale, "unused for 90+ days: candidates for cleanup", true},
		{HygieneNoExpiry, h.NoExpiry, "never expire", false},
		{HygieneExpiring, h.Expiring, "expire within 7 days", true},
		{HygieneRotationDue, h.RotationDue, "due for rotation: older than " + model.Days(h.RotationDays) + ", roll them", true},
	}
	var out []HygieneStat
	for _, s := range all {
		if s.Count > 0 || s.Kind == h.Current {
			out = append(out, s)
		}
	}
	return out
}

// HygieneURL is the key table showing one hygiene kind.
func HygieneURL(kind string) string {
	return "/settings/api-keys?" + url.Values{"hygiene": {kind}}.Encode()
}

// HygieneTitle describes the keys a hygiene filter shows, for the bulk bar:
// "Active keys never used".
func HygieneTitle(kind string) string {
	switch kind {
	case HygieneNeverUsed:
		return "Active keys never used"
	case HygieneStale:
		return "Active keys unused for 90 days or more"
	case HygieneNoExpiry:
		return "Active keys that never expire"
	case HygieneExpiring:
		return "Keys that expire within 7 days"
	case HygieneRotationDue:
		return "Active keys due for rotation"
	}
	return ""
}

// KeyBulkRevoke is the confirmation of revoking several keys at once.
type KeyBulkRevoke struct {
	Keys []model.APIKey
	// Back is the key table's address to return to.
	Back   string
	Dialog bool
	CSRF   string
	Now    time.Time
}

// Title is the question the confirmation asks: "Revoke 3 keys?".
func (b KeyBulkRevoke) Title() string {
	if len(b.Keys) == 1 {
		return "Revoke 1 key?"
	}
	return "Revoke " + num(int64(len(b.Keys))) + " keys?"
}

// Button is the confirming button's text: "Revoke 3 keys".
func (b KeyBulkRevoke) Button() string {
	if len(b.Keys) == 1 {
		return "Revoke 1 key"
	}
	return "Revoke " + num(int64(len(b.Keys))) + " keys"
}

// BulkRevokeURL is where bulk revocation is confirmed and posted.
const BulkRevokeURL = "/settings/api-keys/bulk-revoke"

// bulkRevokeAllURL asks to revoke every revocable key of rows, returning to back.
func bulkRevokeAllURL(rows []model.APIKey, back string) string {
	v := url.Values{}
	for _, k := range rows {
		if k.RevokedAt == nil {
			v.Add("ids", k.PublicID)
		}
	}
	v.Set("back", back)
	return BulkRevokeURL + "?" + v.Encode()
}

// revocable counts the keys of rows that are not revoked yet.
func revocable(rows []model.APIKey) int {
	n := 0
	for _, k := range rows {
		if k.RevokedAt == nil {
			n++
		}
	}
	return n
}
