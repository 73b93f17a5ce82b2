package web

import (
	"github.com/keyward/keyward/internal/model"
)

// RestrictionInput is a key's restrictions as the dashboard's form, the
// /v1 API and `keyward keys create` give them, before validation.
type RestrictionInput struct {
	// AllowedIPs and AllowedReferrers hold one entry each (the dashboard
	// splits its textareas into lines, so messages name the line).
	AllowedIPs       []string
	AllowedReferrers []string
	// RateLimit nil: none; RatePeriod 1s, 1m, 1h or 1d.
	RateLimit  *int64
	RatePeriod string
	// Quota nil: none; QuotaRefill none (or ""), day or month, with
	// QuotaRefillAmount.
	Quota             *int64
	QuotaRefill       string
	QuotaRefillAmount int64
}

// ValidRestrictions validates in and returns the restrictions to store.
// Every path (dashboard, API, CLI) goes through it. Errors are EINVALID
// with Fields keyed allowed_ips, allowed_referrers, rate_limit, rate_period,
// quota, quota_refill and quota_refill_amount.
func ValidRestrictions(in RestrictionInput) (model.Restrictions, error) {
	fe := model.FieldErrors{}
	var r model.Restrictions
	var err error
	if r.AllowedIPs, err = model.ParseAllowedIPs(in.AllowedIPs); err != nil {
		fe.Add("allowed_ips", model.ErrorMessage(err))
	}
	if r.AllowedReferrers, err = model.ParseAllowedReferrers(in.AllowedReferrers); err != nil {
		fe.Add("allowed_referrers", model.ErrorMessage(err))
	}
	if in.RateLimit != nil {
		rl, err := model.NewRateLimit(*in.RateLimit, in.RatePeriod)
		if err != nil {
			field := "rate_limit"
			if model.RatePeriodDuration(in.RatePeriod) == 0 {
				field = "rate_period"
			}
			fe.Add(field, model.ErrorMessage(err))
		} else {
			r.RateLimit = &rl
		}
	}
	if in.Quota != nil {
		q, err := model.NewQuota(*in.Quota, in.QuotaRefill, in.QuotaRefillAmount)
		if err != nil {
			addField(fe, "quota", err)
		} else {
			r.Quota = &q
		}
	}
	if err := fe.Err(); err != nil {
		return model.Restrictions{}, err
	}
	return r, nil
}

// apiRestrictionInput is the restrictions of a /v1 request body.
func apiRestrictionInput(ips, referrers []string, rl *model.RateLimit, q *model.Quota) RestrictionInput {
	in := RestrictionInput{AllowedIPs: ips, AllowedReferrers: referrers}
	if rl != nil {
		in.RateLimit, in.RatePeriod = &rl.Limit, rl.Period
	}
	if q != nil {
		in.Quota, in.QuotaRefill, in.QuotaRefillAmount = &q.Remaining, q.RefillPeriod, q.RefillAmount
	}
	return in
}

// joinInvalid merges two validation errors into one EINVALID error with
// the fields of both; any other error wins as it is.
func joinInvalid(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case model.ErrorCode(a) != model.EINVALID:
		return a
	case model.ErrorCode(b) != model.EINVALID:
		return b
	}
	fe := model.FieldErrors{}
	addField(fe, "restrictions", a)
	addField(fe, "restrictions", b)
	return fe.Err()
}
