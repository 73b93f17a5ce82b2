package web

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// The create and edit form of Settings → API Keys. Fields (the dashboard
// contract): name; environment (live|test, create only); permission
// (read_all|write_all|restricted); access.<resource> = none|read|write for
// restricted keys; expires (never|7d|30d|60d|90d|custom, plus keep when
// editing a key that has an expiry) with expires_at (YYYY-MM-DD) for custom.

// Expiry choices of the form's expires field.
const (
	expiresNever  = "never"
	expiresCustom = "custom"
	expiresKeep   = "keep"
)

// expiryPresets are the choices counted from now.
var expiryPresets = map[string]time.Duration{
	"7d":  7 * 24 * time.Hour,
	"30d": 30 * 24 * time.Hour,
	"60d": 60 * 24 * time.Hour,
	"90d": 90 * 24 * time.Hour,
}

// defaultExpiry is the expiry a new key's form starts with.
const defaultExpiry = "90d"

// DefaultKeyLifetime is how long a new key lives unless told otherwise:
// the form's preselected choice, and the default of the API and the CLI.
const DefaultKeyLifetime = 90 * 24 * time.Hour

// keyFormData is the parsed form: what the user typed (to show again),
// the input for NewKey or EditKey, and the problems parsing found.
type keyFormData struct {
	Values views.KeyFormValues
	Input  KeyInput
	// KeepExpiry is set when an edit leaves the expiry as it is.
	KeepExpiry bool
	Errors     model.FieldErrors
}

// parseKeyForm reads the create (editing false) or edit form at now. It
// checks what only the form has (access.* fields, the expiry choice and
// date); NewKey and EditKey check the rest.
func parseKeyForm(form url.Values, c *model.Catalog, now time.Time, editing bool) keyFormData {
	d := keyFormData{Errors: model.FieldErrors{}}
	v := views.KeyFormValues{
		Name:        form.Get("name"),
		Environment: strings.TrimSpace(form.Get("environment")),
		Permission:  strings.TrimSpace(form.Get("permission")),
		Access:      map[string]string{},
		Expires:     strings.TrimSpace(form.Get("expires")),
		ExpiresAt:   strings.TrimSpace(form.Get("expires_at")),

		AllowedIPs:        form.Get("allowed_ips"),
		AllowedReferrers:  form.Get("allowed_referrers"),
		RateLimit:         strings.TrimSpace(form.Get("rate_limit")),
		RatePeriod:        strings.TrimSpace(form.Get("rate_period")),
		Quota:             strings.TrimSpace(form.Get("quota")),
		QuotaRefill:       strings.TrimSpace(form.Get("quota_refill")),
		QuotaRefillAmount: strings.TrimSpace(form.Get("quota_refill_amount")),
	}
	d.Input = KeyInput{Name: v.Name, Environment: v.Environment, Permission: model.PermissionSet(v.Permission)}

	for field, vals := range form {
		res, ok := strings.CutPrefix(field, "access.")
		if !ok || len(vals) == 0 {
			continue
		}
		v.Access[res] = strings.TrimSpace(vals[len(vals)-1])
	}
	if d.Input.Permission == model.PermRestricted {
		d.Input.Scopes = accessScopes(d.Errors, c, v.Access)
	}

	d.Input.ExpiresAt, d.KeepExpiry = parseExpiry(d.Errors, v.Expires, v.ExpiresAt, now, editing)
	// A form without the Restrictions section (an older page) leaves the
	// restrictions as they are; an emptied section removes them.
	if hasAny(form, "allowed_ips", "allowed_referrers", "rate_limit", "quota") {
		r, err := parseRestrictionForm(v)
		if err != nil {
			addField(d.Errors, "allowed_ips", err)
		} else {
			d.Input.Restrictions = &r
			v.Preview = r.Describe()
		}
	}
	d.Values = v
	return d
}

// parseRestrictionForm reads the form's Restrictions section: textareas
// one entry per line (so messages name the line), numbers that may be
// empty (no limit). Errors are EINVALID with the fields' names.
func parseRestrictionForm(v views.KeyFormValues) (model.Restrictions, error) {
	fe := model.FieldErrors{}
	in := RestrictionInput{
		AllowedIPs:       strings.Split(strings.ReplaceAll(v.AllowedIPs, "\r\n", "\n"), "\n"),
		AllowedReferrers: strings.Split(strings.ReplaceAll(v.AllowedReferrers, "\r\n", "\n"), "\n"),
		RatePeriod:       v.RatePeriod,
		QuotaRefill:      v.QuotaRefill,
	}
	number := func(field, s, what string) *int64 {
		if s == "" {
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fe.Add(field, "Enter the "+what+" as a whole number, or leave it empty.")
			return nil
		}
		return &n
	}
	in.RateLimit = number("rate_limit", v.RateLimit, "rate limit")
	in.Quota = number("quota", v.Quota, "quota")
	if in.Quota != nil && in.QuotaRefill != "" && in.QuotaRefill != "none" {
		if n := number("quota_refill_amount", v.QuotaRefillAmount, "refill amount"); n != nil {
			in.QuotaRefillAmount = *n
		}
	}
	if err := fe.Err(); err != nil {
		return model.Restrictions{}, err
	}
	return ValidRestrictions(in)
}

// accessScopes turns access.<resource> fields into scope strings, in
// catalog order. An unknown resource or access level is an error on scopes.
func accessScopes(fe model.FieldErrors, c *model.Catalog, access map[string]string) []string {
	for res, a := range access {
		r, ok := c.Find(res)
		if !ok {
			fe.Add("scopes", "Unknown resource “"+res+"”. Reload the page and pick from the list.")
			return nil
		}
		if !model.Access(a).Valid() {
			fe.Add("scopes", "Choose None, Read or Write for each resource.")
			return nil
		}
		if r.ReadOnly() && model.Access(a) == model.AccessWrite {
			fe.Add("scopes", r.Label+" is read only: choose None or Read.")
			return nil
		}
	}
	var scopes []string
	for _, r := range c.Resources() {
		if a := model.Access(access[r.Name]); a == model.AccessRead || a == model.AccessWrite {
			scopes = append(scopes, r.Name+":"+string(a))
		}
	}
	return scopes
}

// parseExpiry turns the expiry choice into a time: nil for never, now plus
// 7, 30, 60 or 90 days, or the end of a custom day (23:59:59 UTC), which
// must be in the future. When editing, keep (or no choice) reports keep.
func parseExpiry(fe model.FieldErrors, choice, day string, now time.Time, editing bool) (at *time.Time, keep bool) {
	switch choice {
	case expiresNever:
		return nil, false
	case expiresCustom:
		if day == "" {
			fe.Add("expires_at", "Pick the day the key should expire.")
			return nil, false
		}
		d, err := time.ParseInLocation("2006-01-02", day, time.UTC)
		if err != nil {
			fe.Add("expires_at", "Enter the date as YYYY-MM-DD.")
			return nil, false
		}
		end := endOfDayUTC(d)
		if !end.After(now) {
			fe.Add("expires_at", "Pick a day in the future.")
			return nil, false
		}
		return &end, false
	case expiresKeep, "":
		if editing {
			return nil, true
		}
	}
	if dur, ok := expiryPresets[choice]; ok {
		t := now.UTC().Add(dur).Truncate(time.Second)
		return &t, false
	}
	fe.Add("expires", "Choose when the key expires: never, after 7, 30, 60 or 90 days, or on a date.")
	return nil, false
}

// endOfDayUTC is the last second of d's day in UTC.
func endOfDayUTC(d time.Time) time.Time {
	y, m, dd := d.UTC().Date()
	return time.Date(y, m, dd, 23, 59, 59, 0, time.UTC)
}

// merge adds the errors of a failed NewKey or EditKey to the form's own and
// returns them all as one EINVALID error, or nil if there are none.
func (d keyFormData) merge(err error) error {
	if err != nil {
		fs := model.ErrorFields(err)
		if len(fs) == 0 {
			return err
		}
		for f, m := range fs {
			d.Errors.Add(f, m)
		}
	}
	return d.Errors.Err()
}

// newKeyFormValues are a new key's form defaults.
func newKeyFormValues() views.KeyFormValues {
	return views.KeyFormValues{
		Environment: model.EnvLive,
		Permission:  string(model.PermReadAll),
		Access:      map[string]string{},
		Expires:     defaultExpiry,
	}
}

// editKeyFormValues fill the edit form from a key.
func editKeyFormValues(k model.APIKey) views.KeyFormValues {
	v := views.KeyFormValues{
		Name:        k.Name,
		Environment: k.Environment,
		Permission:  string(k.PermissionSet),
		Access:      map[string]string{},
		Expires:     expiresNever,
	}
	for res, a := range k.Permission().Scopes {
		v.Access[res] = string(a)
	}
	if k.ExpiresAt != nil {
		v.Expires = expiresKeep
		v.ExpiresAt = k.ExpiresAt.UTC().Format("2006-01-02")
	}
	r := k.Restrictions()
	v.AllowedIPs = strings.Join(r.AllowedIPs, "\n")
	v.AllowedReferrers = strings.Join(r.AllowedReferrers, "\n")
	if r.RateLimit != nil {
		v.RateLimit, v.RatePeriod = strconv.FormatInt(r.RateLimit.Limit, 10), r.RateLimit.Period
	}
	if r.Quota != nil {
		v.Quota, v.QuotaRefill = strconv.FormatInt(r.Quota.Remaining, 10), r.Quota.RefillPeriod
		if r.Quota.RefillAmount > 0 {
			v.QuotaRefillAmount = strconv.FormatInt(r.Quota.RefillAmount, 10)
		}
	}
	v.Preview = r.Describe()
	return v
}

// hasAny reports whether the form carries any of the fields.
func hasAny(form url.Values, fields ...string) bool {
	for _, f := range fields {
		if _, ok := form[f]; ok {
			return true
		}
	}
	return false
}
