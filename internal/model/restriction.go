package model

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Bounds of a key's restrictions.
const (
	MaxAllowedIPs       = 100
	MaxAllowedReferrers = 100
	MaxRateLimit        = 1_000_000_000
	MaxQuota            = 1_000_000_000_000
)

// Rate-limit periods.
const (
	RatePerSecond = "1s"
	RatePerMinute = "1m"
	RatePerHour   = "1h"
	RatePerDay    = "1d"
)

// Quota refill periods ("" means the quota is never refilled).
const (
	RefillNone  = ""
	RefillDay   = "day"
	RefillMonth = "month"
)

// Restrictions narrow what a key can do beyond its permission. The zero
// value restricts nothing. Every field is a plain value (strings and small
// structs) so that a key's restrictions copy with an assignment, as rolling
// a key does: see APIKey.Restrictions and APIKey.SetRestrictions.
type Restrictions struct {
	// AllowedIPs are normalised addresses ("203.0.113.7", "2001:db8::1")
	// and CIDR ranges ("10.0.0.0/8"); empty allows every address.
	AllowedIPs []string `json:"allowed_ips"`
	// AllowedReferrers are host patterns ("app.example.com",
	// "*.example.com") the request's Origin or Referer must match; empty
	// allows any (and no) referrer.
	AllowedReferrers []string `json:"allowed_referrers"`
	// RateLimit caps requests per period; nil for none.
	RateLimit *RateLimit `json:"rate_limit"`
	// Quota caps requests in all (refilled per period if asked); nil for none.
	Quota *Quota `json:"quota"`
}

// RateLimit is at most Limit requests per Period (RatePerSecond …).
type RateLimit struct {
	Limit  int64  `json:"limit"`
	Period string `json:"period"`
}

// Quota is a budget of requests: Remaining now, and, when RefillPeriod is
// RefillDay or RefillMonth, set back to RefillAmount at the start of each
// UTC day or month.
type Quota struct {
	Remaining    int64  `json:"remaining"`
	RefillAmount int64  `json:"refill_amount,omitempty"`
	RefillPeriod string `json:"refill_period,omitempty"`
}

// IsZero reports whether r restricts nothing.
func (r Restrictions) IsZero() bool {
	return len(r.AllowedIPs) == 0 && len(r.AllowedReferrers) == 0 && r.RateLimit == nil && r.Quota == nil
}

// Clone returns a deep copy of r, with empty (not nil) lists.
func (r Restrictions) Clone() Restrictions {
	out := Restrictions{AllowedIPs: append([]string{}, r.AllowedIPs...), AllowedReferrers: append([]string{}, r.AllowedReferrers...)}
	if r.RateLimit != nil {
		rl := *r.RateLimit
		out.RateLimit = &rl
	}
	if r.Quota != nil {
		q := *r.Quota
		out.Quota = &q
	}
	return out
}

// Duration is the period as a time.Duration.
func (r RateLimit) Duration() time.Duration { return RatePeriodDuration(r.Period) }

// String is the limit as the CLI spells it: "100/1m".
func (r RateLimit) String() string { return strconv.FormatInt(r.Limit, 10) + "/" + r.Period }

// RatePeriodDuration returns the duration of a rate-limit period, 0 for an
// unknown one.
func RatePeriodDuration(p string) time.Duration {
	switch p {
	case RatePerSecond:
		return time.Second
	case RatePerMinute:
		return time.Minute
	case RatePerHour:
		return time.Hour
	case RatePerDay:
		return 24 * time.Hour
	}
	return 0
}

// PeriodStart returns the start (UTC) of the refill period that holds t, or
// the zero time for a quota that is never refilled.
func PeriodStart(period string, t time.Time) time.Time {
	t = t.UTC()
	switch period {
	case RefillDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case RefillMonth:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Time{}
}

// NextRefill returns when a quota refilled per period is next refilled
// after t, or the zero time if it never is.
func NextRefill(period string, t time.Time) time.Time {
	s := PeriodStart(period, t)
	switch period {
	case RefillDay:
		return s.AddDate(0, 0, 1)
	case RefillMonth:
		return s.AddDate(0, 1, 0)
	}
	return time.Time{}
}

// lines splits text into trimmed lines, keeping empty ones so that line
// numbers in messages match what the user typed.
func lines(text string) []string {
	out := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// ParseAllowedIPsText parses an allowlist typed one entry per line (the
// dashboard's textarea); see ParseAllowedIPs.
func ParseAllowedIPsText(text string) ([]string, error) { return ParseAllowedIPs(lines(text)) }

// ParseAllowedIPs validates and normalises an IP allowlist: each entry an
// IPv4 or IPv6 address or CIDR range; blank entries are skipped; IPv4-mapped
// IPv6 addresses become IPv4; a range is masked to its network
// ("10.1.2.3/8" → "10.0.0.0/8") and a single address is written without a
// prefix length; duplicates are dropped, order kept. A range covering every
// address (0.0.0.0/0, ::/0) is refused as meaningless, as are zones and
// more than MaxAllowedIPs entries. Errors are EINVALID and name the entry's
// line (1-based).
func ParseAllowedIPs(entries []string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		p, err := parseAllowedIP(e)
		if err != nil {
			return nil, Errorf(EINVALID, "Line %d: %s", i+1, err.Error())
		}
		s := formatPrefix(p)
		if seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	if len(out) > MaxAllowedIPs {
		return nil, Errorf(EINVALID, "At most %d IP addresses or ranges are allowed; this list has %d.", MaxAllowedIPs, len(out))
	}
	return out, nil
}

func parseAllowedIP(e string) (netip.Prefix, error) {
	quoted := strconv.Quote(e)
	if len(e) > 64 {
		quoted = strconv.Quote(e[:40]) + "…"
	}
	if strings.Contains(e, "%") {
		return netip.Prefix{}, fmt.Errorf("%s has a zone (%%…), which an allowlist cannot use.", quoted)
	}
	var p netip.Prefix
	if strings.Contains(e, "/") {
		var err error
		if p, err = netip.ParsePrefix(e); err != nil {
			return netip.Prefix{}, fmt.Errorf("%s is not an IP address or CIDR range (such as 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32).", quoted)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
	} else {
		a, err := netip.ParseAddr(e)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%s is not an IP address or CIDR range (such as 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32).", quoted)
		}
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	}
	p = p.Masked()
	if p.Bits() == 0 {
		return netip.Prefix{}, fmt.Errorf("%s allows every address, which is the same as no allowlist. Leave the list empty instead, or name the ranges your clients use.", quoted)
	}
	return p, nil
}

func formatPrefix(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// CompileAllowedIPs turns a normalised allowlist (as ParseAllowedIPs
// returns and the store keeps) into prefixes for matching; entries that do
// not parse are skipped.
func CompileAllowedIPs(list []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := parseAllowedIP(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// IPAllowed reports whether addr (an IPv4-mapped IPv6 address counts as
// IPv4) lies in one of the prefixes. An invalid addr is never allowed.
func IPAllowed(prefixes []netip.Prefix, addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParseAllowedReferrersText parses referrer patterns typed one per line;
// see ParseAllowedReferrers.
func ParseAllowedReferrersText(text string) ([]string, error) {
	return ParseAllowedReferrers(lines(text))
}

// ParseAllowedReferrers validates and normalises host patterns: a host name
// ("app.example.com") or a wildcard over its subdomains ("*.example.com",
// which does not match example.com itself), lower-cased; a pasted URL
// ("https://app.example.com/path") is reduced to its host. Ports, paths and
// wildcards elsewhere are refused; blank entries are skipped, duplicates
// dropped, at most MaxAllowedReferrers. Errors are EINVALID and name the line.
func ParseAllowedReferrers(entries []string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		h, ok := normaliseReferrer(e)
		if !ok {
			q := strconv.Quote(e)
			if len(e) > 64 {
				q = strconv.Quote(e[:40]) + "…"
			}
			return nil, Errorf(EINVALID, "Line %d: %s is not a host name pattern. Use a host such as app.example.com, or *.example.com for its subdomains.", i+1, q)
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		out = append(out, h)
	}
	if len(out) > MaxAllowedReferrers {
		return nil, Errorf(EINVALID, "At most %d referrer patterns are allowed; this list has %d.", MaxAllowedReferrers, len(out))
	}
	return out, nil
}

func normaliseReferrer(e string) (string, bool) {
	if strings.Contains(e, "://") {
		u, err := url.Parse(e)
		if err != nil || u.Port() != "" || u.User != nil {
			return "", false
		}
		e = u.Hostname()
	}
	e = strings.ToLower(strings.TrimSuffix(e, "."))
	host := strings.TrimPrefix(e, "*.")
	if len(e) > 253 || !validHostName(host) {
		return "", false
	}
	return e, true
}

// validHostName reports whether h is a DNS name of letters, digits and
// hyphens in dot-separated labels of 1–63 characters, not starting or
// ending with a hyphen.
func validHostName(h string) bool {
	if h == "" {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// RequestHost returns the lower-cased host of an Origin or Referer header
// value ("https://app.example.com:8443/x" → "app.example.com"), or "" if it
// has none.
func RequestHost(v string) string {
	if v == "" || v == "null" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
}

// ReferrerAllowed reports whether host (as RequestHost returns it) matches
// one of the patterns. An empty host matches none.
func ReferrerAllowed(patterns []string, host string) bool {
	if host == "" {
		return false
	}
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if len(host) > len(rest)+1 && strings.HasSuffix(host, rest) && host[len(host)-len(rest)-1] == '.' {
				return true
			}
		} else if host == p {
			return true
		}
	}
	return false
}

// NewRateLimit validates a rate limit: limit 1 to MaxRateLimit, period
// one of 1s, 1m, 1h, 1d. Errors are EINVALID.
func NewRateLimit(limit int64, period string) (RateLimit, error) {
	if RatePeriodDuration(period) == 0 {
		return RateLimit{}, Errorf(EINVALID, "The rate-limit period must be 1s, 1m, 1h or 1d.")
	}
	if limit < 1 || limit > MaxRateLimit {
		return RateLimit{}, Errorf(EINVALID, "The rate limit must be a whole number from 1 to %d.", MaxRateLimit)
	}
	return RateLimit{Limit: limit, Period: period}, nil
}

// ParseRateLimit parses "100/1m" (limit per period); see NewRateLimit.
func ParseRateLimit(s string) (RateLimit, error) {
	n, p, ok := strings.Cut(strings.TrimSpace(s), "/")
	limit, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	if !ok || err != nil {
		return RateLimit{}, Errorf(EINVALID, "%s is not a rate limit. Write it as requests/period, such as 100/1m (periods: 1s, 1m, 1h, 1d).", strconv.Quote(s))
	}
	return NewRateLimit(limit, strings.TrimSpace(p))
}

// NewQuota validates a quota: remaining 0 to MaxQuota (0 leaves a key with
// nothing to spend until its refill), refill period none, day or month, and
// with a period a refill amount of 1 to MaxQuota. Errors are EINVALID with
// Fields quota and quota_refill_amount.
func NewQuota(remaining int64, refillPeriod string, refillAmount int64) (Quota, error) {
	fe := FieldErrors{}
	if remaining < 0 || remaining > MaxQuota {
		fe.Add("quota", fmt.Sprintf("The quota must be a whole number from 0 to %d.", int64(MaxQuota)))
	}
	switch refillPeriod {
	case RefillNone, "none":
		refillPeriod, refillAmount = RefillNone, 0
	case RefillDay, RefillMonth:
		if refillAmount < 1 || refillAmount > MaxQuota {
			fe.Add("quota_refill_amount", fmt.Sprintf("The refill amount must be a whole number from 1 to %d.", int64(MaxQuota)))
		}
	default:
		fe.Add("quota_refill", "The quota refill must be none, day or month.")
	}
	if err := fe.Err(); err != nil {
		return Quota{}, err
	}
	return Quota{Remaining: remaining, RefillAmount: refillAmount, RefillPeriod: refillPeriod}, nil
}

// ParseQuotaRefill parses "10000/month" or "500/day" (amount per period).
func ParseQuotaRefill(s string) (amount int64, period string, err error) {
	n, p, ok := strings.Cut(strings.TrimSpace(s), "/")
	amount, perr := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	p = strings.TrimSpace(p)
	if !ok || perr != nil || (p != RefillDay && p != RefillMonth) {
		return 0, "", Errorf(EINVALID, "%s is not a quota refill. Write it as amount/period, such as 10000/month or 500/day.", strconv.Quote(s))
	}
	if amount < 1 || amount > MaxQuota {
		return 0, "", Errorf(EINVALID, "The refill amount must be a whole number from 1 to %d.", int64(MaxQuota))
	}
	return amount, p, nil
}

// Describe is a one-sentence summary of r for people: "At most 100
// requests per minute, from 10.0.0.0/8." It is "" when r restricts nothing.
func (r Restrictions) Describe() string {
	var parts []string
	if r.RateLimit != nil {
		parts = append(parts, fmt.Sprintf("at most %s %s per %s", groupDigits(r.RateLimit.Limit),
			plural(r.RateLimit.Limit, "request", "requests"), periodWord(r.RateLimit.Period)))
	}
	if r.Quota != nil {
		q := fmt.Sprintf("%s %s in all", groupDigits(r.Quota.Remaining), plural(r.Quota.Remaining, "request", "requests"))
		if r.Quota.RefillPeriod != RefillNone {
			q = fmt.Sprintf("%s %s left, refilled to %s each %s", groupDigits(r.Quota.Remaining),
				plural(r.Quota.Remaining, "request", "requests"), groupDigits(r.Quota.RefillAmount), r.Quota.RefillPeriod)
		}
		parts = append(parts, q)
	}
	if len(r.AllowedIPs) > 0 {
		parts = append(parts, "from "+listWords(r.AllowedIPs))
	}
	if len(r.AllowedReferrers) > 0 {
		parts = append(parts, "on pages of "+listWords(r.AllowedReferrers))
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, ", ") + "."
	return strings.ToUpper(s[:1]) + s[1:]
}

func periodWord(p string) string {
	switch p {
	case RatePerSecond:
		return "second"
	case RatePerMinute:
		return "minute"
	case RatePerHour:
		return "hour"
	case RatePerDay:
		return "day"
	}
	return p
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func listWords(xs []string) string {
	const show = 3
	if len(xs) <= show {
		if len(xs) == 1 {
			return xs[0]
		}
		return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
	}
	return fmt.Sprintf("%s and %d more", strings.Join(xs[:show], ", "), len(xs)-show)
}

// groupDigits writes n with thousands separators: 10000 → "10,000".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
