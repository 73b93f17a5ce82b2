package web

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

// KeyInput is a request to create or edit an API key, as the dashboard's
// form, the /v1 API's JSON body and `keyward keys create` give it once
// parsed. Every path builds keys through NewKey (and edits through EditKey),
// so the rules live here only: the name is trimmed and 1–100 characters, the
// environment is live or test, the permission is checked against the
// resource catalog, and an expiry lies in the future.
//
// Validation errors are EINVALID *model.Error values whose Fields are keyed
// name, environment, permission, scopes and expires_at.
type KeyInput struct {
	Name string
	// Environment is "live" or "test"; EditKey ignores it (it never changes).
	Environment string
	Permission  model.PermissionSet
	// Scopes are "resource:read" or "resource:write" strings, for restricted
	// keys only (the dashboard turns its access.<resource> fields into them).
	Scopes []string
	// ExpiresAt is when the key stops working; nil means never.
	ExpiresAt *time.Time
	// Restrictions, validated by ValidRestrictions; nil means none on a
	// new key and no change on an edit.
	Restrictions *model.Restrictions
}

// NewKey validates in and builds a new key of the team: public id, hash and
// hint are filled, and raw is the key itself, which the caller shows once and
// never stores or logs. prefix is the configured key prefix.
func NewKey(c *model.Catalog, prefix string, teamID int64, in KeyInput, now time.Time) (k model.APIKey, raw string, err error) {
	fe := model.FieldErrors{}
	name, err := ValidKeyName(in.Name)
	addField(fe, "name", err)
	env := strings.TrimSpace(in.Environment)
	if !keys.ValidEnvironment(env) {
		fe.Add("environment", "Choose the live or test environment.")
	}
	perm, err := model.NewPermission(c, in.Permission, in.Scopes)
	addField(fe, "permission", err)
	exp, err := ValidExpiry(in.ExpiresAt, now)
	addField(fe, "expires_at", err)
	if err := fe.Err(); err != nil {
		return model.APIKey{}, "", err
	}
	raw, err = keys.Generate(prefix, env)
	if err != nil {
		return model.APIKey{}, "", model.Wrap(model.EINTERNAL, err, "")
	}
	k = model.APIKey{
		PublicID:      keys.NewPublicID("key"),
		TeamID:        teamID,
		Name:          name,
		Environment:   env,
		KeyHash:       keys.Hash(raw),
		Hint:          keys.Hint(raw),
		PermissionSet: perm.Set,
		Scopes:        storedScopes(perm),
		ExpiresAt:     exp,
	}
	var r model.Restrictions
	if in.Restrictions != nil {
		r = *in.Restrictions
	}
	k.SetRestrictions(r, now)
	return k, raw, nil
}

// EditKey validates a complete edit (name, permission and expiry, as the
// dashboard's edit form sends them) and returns the store's update.
func EditKey(c *model.Catalog, in KeyInput, now time.Time) (model.KeyUpdate, error) {
	fe := model.FieldErrors{}
	name, err := ValidKeyName(in.Name)
	addField(fe, "name", err)
	perm, err := model.NewPermission(c, in.Permission, in.Scopes)
	addField(fe, "permission", err)
	exp, err := ValidExpiry(in.ExpiresAt, now)
	addField(fe, "expires_at", err)
	if err := fe.Err(); err != nil {
		return model.KeyUpdate{}, err
	}
	return model.KeyUpdate{Name: &name, Permission: &perm, SetExpiry: true, ExpiresAt: exp, Restrictions: in.Restrictions}, nil
}

// ValidKeyName trims name and checks that it has 1 to model.MaxKeyNameLen
// characters (any Unicode, but no control characters and none of the
// invisible direction and zero-width characters of model.IsDeceptiveRune).
// It returns EINVALID with the field "name".
func ValidKeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	msg := ""
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		msg = "Give the key a name, such as the service that will use it."
	case n > model.MaxKeyNameLen:
		msg = "Keep the name to 100 characters or fewer."
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		msg = "The name can't contain control characters or invalid text."
	default:
		msg = model.DeceptiveTextMessage("The name", name)
	}
	if msg != "" {
		return "", &model.Error{Code: model.EINVALID, Message: msg, Fields: map[string]string{"name": msg}}
	}
	return name, nil
}

// ValidExpiry checks that an expiry, if any, is after now and returns it in
// UTC. It returns EINVALID with the field "expires_at".
func ValidExpiry(t *time.Time, now time.Time) (*time.Time, error) {
	if t == nil {
		return nil, nil
	}
	if !t.After(now) {
		msg := "Pick an expiry date in the future."
		return nil, &model.Error{Code: model.EINVALID, Message: msg, Fields: map[string]string{"expires_at": msg}}
	}
	u := t.UTC()
	return &u, nil
}

// CheckGrant enforces "no escalation": an API key acting as actor may create
// or widen a key only up to its own permission. It returns EFORBIDDEN if it
// may not. People are limited by their role instead, so a user actor passes.
func CheckGrant(actor model.Actor, p model.Permission) error {
	if actor.Permission != nil && !actor.Permission.Covers(p) {
		return model.Errorf(model.EFORBIDDEN, "This key can't grant more than its own permissions (%s).",
			strings.Join(actor.Permission.ScopeStrings(), ", "))
	}
	return nil
}

// CheckManage enforces "no escalation" on an existing key: an API key acting
// as actor may change, roll, revoke or delete only keys whose permission its
// own covers, and a test key only test keys (model.Actor.MayManage, the one
// copy of the rule, which the store also checks on the locked row). It
// returns EFORBIDDEN if it may not. A user actor passes (people are limited
// by their role).
func CheckManage(actor model.Actor, k model.APIKey) error {
	return actor.MayManage(k)
}

// ParseGrace reads how long an old key keeps working after a roll: a
// duration such as "0s", "90m", "24h" or "3d", from 0 to 7 days. It returns
// EINVALID with the field expire_old_in.
func ParseGrace(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 0 || d > model.MaxRollGrace {
		msg := "expire_old_in must be a duration from 0s to 7d, such as 0s (at once), 1h, 24h or 72h."
		return 0, &model.Error{Code: model.EINVALID, Message: msg, Fields: map[string]string{"expire_old_in": msg}}
	}
	return d, nil
}

// SameLifetime is a rolled key's default expiry: the old key's lifetime
// (creation to expiry) again, counted from now; nil if the old key never
// expires.
func SameLifetime(old model.APIKey, now time.Time) *time.Time {
	if old.ExpiresAt == nil {
		return nil
	}
	life := old.ExpiresAt.Sub(old.CreatedAt)
	if life <= 0 {
		return nil
	}
	t := now.Add(life).UTC()
	return &t
}

// storedScopes is what the scopes column holds: the scope strings of a
// restricted permission, nothing for read_all and write_all.
func storedScopes(p model.Permission) []string {
	if p.Set != model.PermRestricted {
		return []string{}
	}
	return p.ScopeStrings()
}

// addField copies the message of a validation error under field, keeping a
// more specific field name the error carries (NewPermission uses "scopes").
func addField(fe model.FieldErrors, field string, err error) {
	if err == nil {
		return
	}
	if fs := model.ErrorFields(err); len(fs) > 0 {
		for f, m := range fs {
			fe.Add(f, m)
		}
		return
	}
	fe.Add(field, model.ErrorMessage(err))
}
