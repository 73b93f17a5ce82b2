package model

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Environment of a key.
const (
	EnvLive = "live"
	EnvTest = "test"
)

// KeyStatus is derived from a key's timestamps, never stored.
type KeyStatus string

// Key statuses.
const (
	StatusActive  KeyStatus = "active"
	StatusExpired KeyStatus = "expired"
	StatusRevoked KeyStatus = "revoked"
)

// Label is the status as shown on a badge.
func (s KeyStatus) Label() string {
	switch s {
	case StatusActive:
		return "Active"
	case StatusExpired:
		return "Expired"
	case StatusRevoked:
		return "Revoked"
	}
	return string(s)
}

// MaxKeyNameLen is the longest key name in characters (runes).
const MaxKeyNameLen = 100

// ExpiresSoonWindow is how close an expiry must be for the "Expires soon" hint.
const ExpiresSoonWindow = 7 * 24 * time.Hour

// APIKey is an API key as stored: never the raw key, only its SHA-256.
type APIKey struct {
	ID            int64
	PublicID      string
	TeamID        int64
	Name          string
	Environment   string
	KeyHash       string `json:"-"`
	Hint          string
	PermissionSet PermissionSet `gorm:"column:permission"`
	Scopes        []string      `gorm:"serializer:json"`
	ExpiresAt     *time.Time
	RevokedAt     *time.Time
	RevokedBy     string
	CreatedBy     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastUsedAt    *time.Time
	LastUsedIP    string `gorm:"column:last_used_ip"`

	// Restrictions, as stored; read and set them together with
	// Restrictions and SetRestrictions.
	AllowedIPs        StringList
	AllowedReferrers  StringList
	RateLimit         int64 // 0: no rate limit
	RatePeriod        string
	QuotaRemaining    *int64 // nil: no quota
	QuotaRefillAmount int64
	QuotaRefillPeriod string
	// QuotaPeriodStart is the start of the refill period QuotaRemaining
	// belongs to; QuotaVersion changes whenever the quota is set.
	QuotaPeriodStart *time.Time
	QuotaVersion     int64
	// RolledFrom is the public id of the key this one replaced by a roll;
	// ReplacedBy the public id of the key that replaced this one. "" if none.
	RolledFrom string
	ReplacedBy string
}

// Restrictions returns the key's restrictions as one value (a copy).
func (k APIKey) Restrictions() Restrictions {
	r := Restrictions{AllowedIPs: slices.Clone(k.AllowedIPs), AllowedReferrers: slices.Clone(k.AllowedReferrers)}
	if r.AllowedIPs == nil {
		r.AllowedIPs = []string{}
	}
	if r.AllowedReferrers == nil {
		r.AllowedReferrers = []string{}
	}
	if k.RateLimit > 0 {
		r.RateLimit = &RateLimit{Limit: k.RateLimit, Period: k.RatePeriod}
	}
	if k.QuotaRemaining != nil {
		r.Quota = &Quota{Remaining: *k.QuotaRemaining, RefillAmount: k.QuotaRefillAmount, RefillPeriod: k.QuotaRefillPeriod}
	}
	return r
}

// SetRestrictions replaces the key's restrictions with r (validated by the
// caller). A quota starts its refill period at now and gets a new version;
// the caller stores the key.
func (k *APIKey) SetRestrictions(r Restrictions, now time.Time) {
	k.AllowedIPs = append(StringList{}, r.AllowedIPs...)
	k.AllowedReferrers = append(StringList{}, r.AllowedReferrers...)
	k.RateLimit, k.RatePeriod = 0, ""
	if r.RateLimit != nil {
		k.RateLimit, k.RatePeriod = r.RateLimit.Limit, r.RateLimit.Period
	}
	k.QuotaRemaining, k.QuotaRefillAmount, k.QuotaRefillPeriod, k.QuotaPeriodStart = nil, 0, "", nil
	if r.Quota != nil {
		rem := r.Quota.Remaining
		start := PeriodStart(r.Quota.RefillPeriod, now)
		k.QuotaRemaining, k.QuotaRefillAmount, k.QuotaRefillPeriod, k.QuotaPeriodStart = &rem, r.Quota.RefillAmount, r.Quota.RefillPeriod, &start
	}
	k.QuotaVersion++
}

// TableName tells GORM the table of APIKey.
func (APIKey) TableName() string { return "api_keys" }

// Permission returns the key's permission.
func (k APIKey) Permission() Permission { return PermissionFromStored(k.PermissionSet, k.Scopes) }

// Status derives the key's status at now: Revoked if revoked, else Expired if
// expires_at ≤ now, else Active.
func (k APIKey) Status(now time.Time) KeyStatus {
	switch {
	case k.RevokedAt != nil:
		return StatusRevoked
	case k.ExpiresAt != nil && !k.ExpiresAt.After(now):
		return StatusExpired
	}
	return StatusActive
}

// ExpiresSoon reports whether an active key expires within ExpiresSoonWindow.
func (k APIKey) ExpiresSoon(now time.Time) bool {
	return k.Status(now) == StatusActive && k.ExpiresAt != nil && k.ExpiresAt.Sub(now) <= ExpiresSoonWindow
}

// Rolled reports whether the key was rolled (it has a successor).
func (k APIKey) Rolled() bool { return k.ReplacedBy != "" }

// RotationDue reports whether an active key that was not rolled yet is older
// than rotationDays at now (0 days: no policy, never due).
func (k APIKey) RotationDue(now time.Time, rotationDays int) bool {
	return rotationDays > 0 && k.ReplacedBy == "" && k.Status(now) == StatusActive &&
		!k.CreatedAt.After(now.AddDate(0, 0, -rotationDays))
}

// MaxRollGrace is the longest an old key may keep working after a roll.
const MaxRollGrace = 7 * 24 * time.Hour

// KeyFilter selects and orders a team's keys.
type KeyFilter struct {
	TeamID      int64
	Query       string    // substring of the name, case-insensitive
	Status      KeyStatus // "" for any
	Environment string    // "" for any
	Sort        string    // KeySortCreated (default), KeySortLastUsed, KeySortName
	Now         time.Time
	// Stale lists only keys whose last use (or creation, if never used) is
	// before this time, a UTC midnight (the last use is compared by its
	// day); zero for no such filter.
	UnusedSince time.Time
	NeverUsed   bool
	// MadeBefore lists only keys created before this time (a key made in
	// the last day is not "never used" yet); zero for no such filter.
	MadeBefore  time.Time
	NeverExpire bool
	ExpiringBy  time.Time // active keys expiring at or before this time
	// CreatedBefore lists only keys created at or before this time that
	// were not rolled yet (rotation due); zero for no such filter.
	CreatedBefore time.Time
	// RotationDays is the team's rotation policy, which the rotation_due
	// hygiene filter reads (0: off).
	RotationDays int
	Offset       int
	Limit        int
	// After is an opaque cursor for the API's pagination (the last key's public id).
	After string
}

// Sort orders for keys.
const (
	KeySortCreated  = "created"
	KeySortLastUsed = "last_used"
	KeySortName     = "name"
)

// KeyUpdate is a change to a key's editable fields; nil fields stay as they are.
type KeyUpdate struct {
	Name       *string
	Permission *Permission
	// ExpiresAt: set SetExpiry to change it; a nil ExpiresAt then means never.
	SetExpiry bool
	ExpiresAt *time.Time
	// Restrictions, when set, replace the key's restrictions as a whole.
	Restrictions *Restrictions
}

// UsageDay is a key's request count on one UTC day.
type UsageDay struct {
	KeyID    int64
	Day      time.Time
	Requests int64
	Refused  int64
	// RefusedBy counts the refused calls by reason (Refused is their sum).
	RefusedBy RefusedCounts
}

// Reasons a call with a known key is refused, as counted per key and day.
const (
	RefusedRevoked  = "revoked"
	RefusedExpired  = "expired"
	RefusedIP       = "ip"
	RefusedReferrer = "referrer"
	RefusedRate     = "rate"
	RefusedQuota    = "quota"
)

// RefusedCounts are refused calls by reason.
type RefusedCounts struct {
	Revoked, Expired, IP, Referrer, Rate, Quota int64
}

// Add counts n refusals for reason (one of the Refused… constants).
func (c *RefusedCounts) Add(reason string, n int64) {
	switch reason {
	case RefusedRevoked:
		c.Revoked += n
	case RefusedExpired:
		c.Expired += n
	case RefusedIP:
		c.IP += n
	case RefusedReferrer:
		c.Referrer += n
	case RefusedRate:
		c.Rate += n
	case RefusedQuota:
		c.Quota += n
	}
}

// QuotaLease is a share of a key's quota an instance took from the
// database to spend in memory: Units taken, Remaining what the database
// still holds after the lease, for the refill period starting PeriodStart
// (zero time when never refilled) and the quota's Version. Units 0 means
// nothing was left.
type QuotaLease struct {
	KeyID        int64
	Units        int64
	Remaining    int64
	Version      int64
	PeriodStart  time.Time
	RefillPeriod string
	RefillAmount int64
}

// KeyUse is one recorded use of a key, for the batched last-used recorder.
type KeyUse struct {
	KeyID    int64
	At       time.Time
	IP       string
	Requests int64
	Refused  int64
	// RefusedBy splits Refused by reason; a refusal without a reason is
	// counted in Refused only.
	RefusedBy RefusedCounts
}

// StringList is a list of strings stored as a JSON array; nil is stored as
// [] (never null), so every way of writing a key fills its NOT NULL columns.
type StringList []string

// Value implements driver.Valuer.
func (l StringList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}

// Scan implements sql.Scanner.
func (l *StringList) Scan(v any) error {
	var b []byte
	switch x := v.(type) {
	case nil:
		*l = StringList{}
		return nil
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return fmt.Errorf("StringList: cannot scan %T", v)
	}
	out := StringList{}
	if err := json.Unmarshal(b, (*[]string)(&out)); err != nil {
		return err
	}
	*l = out
	return nil
}
