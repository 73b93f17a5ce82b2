package verify

import (
	"context"
	"net/netip"
	"time"

	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
)

// Request is what Authorize needs to know about a request beyond its key.
type Request struct {
	// IP is the client's address as the trusted-proxy rule gives it (the
	// socket's peer unless that is a trusted proxy).
	IP string
	// Origin and Referer are the request's headers of those names (or, on
	// POST /v1/keys/verify, the referrer the calling backend reports).
	Origin, Referer string
	// Resource and Access are the scope the request needs; an empty
	// Resource checks no scope (the caller checks it later, as the /v1
	// routes do).
	Resource string
	Access   model.Access
	// TeamID, when not zero, is the only team whose keys are accepted;
	// another team's key is Invalid and nothing is spent or counted.
	TeamID int64
}

// Code is the outcome of Authorize.
type Code uint8

// Outcomes of Authorize, in the order the checks run.
const (
	OK Code = iota
	// Invalid: missing, malformed, unknown, expired, revoked or (with
	// Request.TeamID) another team's key.
	Invalid
	// Unavailable: the store could not be read (an uncached key, or a
	// quota that needs a new lease).
	Unavailable
	IPNotAllowed
	ReferrerNotAllowed
	RateLimited
	QuotaExceeded
	InsufficientScope
)

// String is the code as POST /v1/keys/verify answers it.
func (c Code) String() string {
	switch c {
	case OK:
		return "VALID"
	case Invalid:
		return "INVALID"
	case Unavailable:
		return "UNAVAILABLE"
	case IPNotAllowed:
		return "IP_NOT_ALLOWED"
	case ReferrerNotAllowed:
		return "REFERRER_NOT_ALLOWED"
	case RateLimited:
		return "RATE_LIMITED"
	case QuotaExceeded:
		return "QUOTA_EXCEEDED"
	case InsufficientScope:
		return "INSUFFICIENT_SCOPE"
	}
	return "UNKNOWN"
}

// Decision is Authorize's answer.
type Decision struct {
	Code Code
	// Key is the key, for every code but Invalid and Unavailable.
	Key *Verified
	// Err is the coded error behind Invalid (ErrInvalid) and Unavailable
	// (EUNAVAILABLE); nil otherwise.
	Err error
	// Rate is the rate limit's state when the key has one (HasRate) and it
	// was reached; Quota likewise (HasQuota).
	Rate     limit.RateResult
	HasRate  bool
	Quota    limit.QuotaResult
	HasQuota bool
}

// restriction is a key's restrictions as the hot path needs them, parsed
// once when the key is loaded (not per request), shared by every request
// while the key is cached. Keys without restrictions have none (nil).
type restriction struct {
	ips          []netip.Prefix
	referrers    []string
	rate         model.RateLimit // Limit 0: none
	quota        bool
	quotaVersion int64
	// spec is the restrictions as stored, for answers such as whoami.
	spec model.Restrictions
}

func newRestriction(k model.APIKey) *restriction {
	spec := k.Restrictions()
	if spec.IsZero() {
		return nil
	}
	r := &restriction{ips: model.CompileAllowedIPs(spec.AllowedIPs), referrers: spec.AllowedReferrers,
		quota: spec.Quota != nil, quotaVersion: k.QuotaVersion, spec: spec}
	if spec.RateLimit != nil {
		r.rate = *spec.RateLimit
	}
	return r
}

// Restrictions returns the key's restrictions as stored when it was loaded
// (a copy). The quota's Remaining is what the store held then; see
// Verifier.QuotaLeft for a fresher figure.
func (k *Verified) Restrictions() model.Restrictions {
	if k.rst == nil {
		return model.Restrictions{AllowedIPs: []string{}, AllowedReferrers: []string{}}
	}
	return k.rst.spec.Clone()
}

// RestrictionSpec is the key's restrictions as stored, without a copy, or
// nil when it has none: for answers that only read them (whoami). The
// caller must not change what it points to.
func (k *Verified) RestrictionSpec() *model.Restrictions {
	if k.rst == nil {
		return nil
	}
	return &k.rst.spec
}

// Restricted reports whether the key has any restriction.
func (k *Verified) Restricted() bool { return k.rst != nil }

// Authorize is the one place where a request's key is checked, for every
// path that accepts keys (the /v1 API, POST /v1/keys/verify, the gateway).
// In order: the key itself (shape, checksum, known, not revoked or
// expired: see Check), its team (Request.TeamID), then its restrictions —
// client IP, referrer, rate limit, quota — and last the scope. The first
// failing check decides. Each refusal of a known key is counted on the key
// by reason, each accepted (or scope-refused) request as a use, through the
// Verifier's Recorder. A request refused before the rate limit spends
// nothing; one refused by the quota has spent a request of the rate limit.
func (v *Verifier) Authorize(ctx context.Context, raw string, req Request) Decision {
	now := v.now()
	k, err := v.Check(ctx, raw)
	if err != nil {
		if model.ErrorCode(err) != model.EUNAUTHORIZED {
			return Decision{Code: Unavailable, Err: err}
		}
		if k != nil && (req.TeamID == 0 || k.teamID == req.TeamID) {
			reason := model.RefusedExpired
			if k.revNsec >= 0 {
				reason = model.RefusedRevoked
			}
			v.refused(k, req.IP, now, reason)
		}
		return Decision{Code: Invalid, Err: ErrInvalid}
	}
	if req.TeamID != 0 && k.teamID != req.TeamID {
		return Decision{Code: Invalid, Err: ErrInvalid}
	}
	d := Decision{Key: k}
	if r := k.rst; r != nil {
		if len(r.ips) > 0 {
			addr, perr := netip.ParseAddr(req.IP)
			if perr != nil || !model.IPAllowed(r.ips, addr) {
				v.refused(k, req.IP, now, model.RefusedIP)
				d.Code = IPNotAllowed
				return d
			}
		}
		if len(r.referrers) > 0 {
			host := model.RequestHost(req.Origin)
			if host == "" {
				host = model.RequestHost(req.Referer)
			}
			if !model.ReferrerAllowed(r.referrers, host) {
				v.refused(k, req.IP, now, model.RefusedReferrer)
				d.Code = ReferrerNotAllowed
				return d
			}
		}
		if r.rate.Limit > 0 {
			d.Rate, d.HasRate = v.rates.Allow(ctx, k.id, r.rate, now), true
			if !d.Rate.Allowed {
				v.refused(k, req.IP, now, model.RefusedRate)
				d.Code = RateLimited
				return d
			}
		}
		if r.quota {
			q, qerr := v.quotas.Spend(ctx, k.id, r.quotaVersion, now)
			if qerr != nil {
				return Decision{Code: Unavailable, Err: qerr}
			}
			d.Quota, d.HasQuota = q, true
			if !q.Allowed {
				v.refused(k, req.IP, now, model.RefusedQuota)
				d.Code = QuotaExceeded
				return d
			}
		}
	}
	if v.rec != nil {
		v.rec.Record(k.id, req.IP, now)
	}
	if req.Resource != "" && !k.Allows(req.Resource, req.Access) {
		d.Code = InsufficientScope
	}
	return d
}

func (v *Verifier) refused(k *Verified, ip string, now time.Time, reason string) {
	if v.rec != nil {
		v.rec.RecordRefused(k.id, ip, now, reason)
	}
}

// QuotaLeft returns about what is left of the key's quota: this instance's
// view if it spends a lease of it, else what the store held when the key
// was loaded. ok is false for a key without a quota.
func (v *Verifier) QuotaLeft(k *Verified) (left int64, ok bool) {
	if k.rst == nil || !k.rst.quota {
		return 0, false
	}
	if n, ok := v.quotas.Left(k.id); ok {
		return n, true
	}
	return k.rst.spec.Quota.Remaining, true
}

// Rates returns the verifier's rate limiter (for metrics and readiness).
func (v *Verifier) Rates() *limit.Rates { return v.rates }

// Close returns this instance's unspent quota leases to the store (a clean
// shutdown).
func (v *Verifier) Close(ctx context.Context) error { return v.quotas.Close(ctx, v.now()) }

// SetRecorder makes Authorize count uses and refusals through r. Call it
// while wiring, before the verifier serves requests.
func (v *Verifier) SetRecorder(r *Recorder) { v.rec = r }

// QuotaLeased returns the units of the key's quota this instance holds in
// a lease and has not spent (0 if none).
func (v *Verifier) QuotaLeased(keyID int64) int64 { return v.quotas.Leased(keyID) }
