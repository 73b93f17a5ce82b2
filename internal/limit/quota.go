package limit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// Leaser takes and returns shares of keys' quotas in the database
// (store.Store does).
type Leaser interface {
	// LeaseQuota takes up to max units of the key's quota (refilling it
	// first if its period is over). Units 0: nothing left. ENOTFOUND: the
	// key has no quota.
	LeaseQuota(ctx context.Context, keyID, max int64, now time.Time) (model.QuotaLease, error)
	// ReturnQuota gives unspent units of a lease back.
	ReturnQuota(ctx context.Context, l model.QuotaLease, units int64) error
}

// DefaultMaxLease is the most units one lease takes when
// QuotaOptions.MaxLease is zero.
const DefaultMaxLease = 1000

// emptyRecheck is how long an instance trusts "nothing left" before asking
// the database again (units may come back from another instance's
// shutdown), so that a flood of calls on a spent quota does not become a
// flood of UPDATEs.
const emptyRecheck = time.Second

// QuotaOptions configure Quotas.
type QuotaOptions struct {
	// MaxLease caps one lease (DefaultMaxLease when zero). A lease also
	// takes at most a tenth of what is left (at least 1).
	MaxLease int64
}

// Quotas spends keys' durable quotas. Each instance takes a lease of units
// from the database in one statement and spends it in memory (an atomic
// decrement); when the lease is spent it takes the next. Units are never
// spent twice: every admitted request spends a unit the database handed
// out, so the instances together never admit more than the quota. What a
// lease holds unspent is out of the others' reach until it is spent or
// returned (Close), so an instance may refuse while another still holds
// units: at most one lease per other instance, each at most MaxLease and a
// tenth of what was left when it was taken. A crash loses its unspent
// lease.
type Quotas struct {
	l        Leaser
	maxLease int64
	mu       sync.Mutex
	keys     map[int64]*quotaKey
}

type quotaKey struct {
	mu   sync.Mutex // held while leasing
	left atomic.Int64
	info atomic.Pointer[leaseInfo]
}

// leaseInfo is the current lease of a key, immutable once published.
type leaseInfo struct {
	lease model.QuotaLease
	// until (Unix nanoseconds) is when the lease's refill period ends
	// (math.MaxInt64 for a quota that is never refilled).
	until int64
	// emptyUntil is, for a lease of 0 units, when to ask again.
	emptyUntil int64
}

// QuotaResult is the state of a key's quota after one request.
type QuotaResult struct {
	Allowed bool
	// Remaining is about what is left: this instance's unspent lease plus
	// what the database held when it was taken.
	Remaining int64
	// NextRefill is when the quota is refilled (zero time: never).
	NextRefill time.Time
	// RefillAmount is what it is refilled to.
	RefillAmount int64
}

// NewQuotas returns quotas leased from l.
func NewQuotas(l Leaser, opts QuotaOptions) *Quotas {
	q := &Quotas{l: l, maxLease: opts.MaxLease, keys: map[int64]*quotaKey{}}
	if q.maxLease <= 0 {
		q.maxLease = DefaultMaxLease
	}
	return q
}

func (q *Quotas) key(id int64) *quotaKey {
	q.mu.Lock()
	defer q.mu.Unlock()
	k, ok := q.keys[id]
	if !ok {
		k = &quotaKey{}
		q.keys[id] = k
	}
	return k
}

// Spend spends one unit of the key's quota at now. version is the quota's
// version as the caller last read the key: a lease of an older version
// (the quota was set anew since) is dropped. It returns an error only when
// a lease was needed and the database could not give one (EUNAVAILABLE):
// the request must then be refused, since the quota cannot be known.
func (q *Quotas) Spend(ctx context.Context, keyID, version int64, now time.Time) (QuotaResult, error) {
	k := q.key(keyID)
	t := now.UnixNano()
	if in := k.info.Load(); in != nil && in.lease.Version >= version && t < in.until && in.lease.Units > 0 {
		if n := k.left.Add(-1); n >= 0 {
			return result(in, n, true), nil
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	in := k.info.Load()
	if in != nil && in.lease.Version >= version && t < in.until {
		for n := k.left.Load(); n > 0; n = k.left.Load() {
			if k.left.CompareAndSwap(n, n-1) {
				return result(in, n-1, true), nil
			}
		}
		if in.lease.Units == 0 && t < in.emptyUntil {
			return result(in, 0, false), nil
		}
	}
	k.left.Store(0)
	l, err := q.l.LeaseQuota(ctx, keyID, q.maxLease, now)
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) && me.Code == model.ENOTFOUND {
			// The quota was removed since the caller read the key.
			return QuotaResult{Allowed: true}, nil
		}
		return QuotaResult{}, model.Wrap(model.EUNAVAILABLE, err, "The key's quota can't be checked right now because the database is unreachable. Try again shortly.")
	}
	in = &leaseInfo{lease: l, until: 1<<63 - 1}
	if next := model.NextRefill(l.RefillPeriod, l.PeriodStart); !next.IsZero() {
		in.until = next.UnixNano()
	}
	if l.Units == 0 {
		in.emptyUntil = min(in.until, t+int64(emptyRecheck))
		k.info.Store(in)
		return result(in, 0, false), nil
	}
	k.left.Store(l.Units - 1)
	k.info.Store(in)
	return result(in, l.Units-1, true), nil
}

func result(in *leaseInfo, left int64, allowed bool) QuotaResult {
	r := QuotaResult{Allowed: allowed, Remaining: max(left, 0) + in.lease.Remaining, RefillAmount: in.lease.RefillAmount}
	if in.lease.RefillPeriod != model.RefillNone {
		r.NextRefill = model.NextRefill(in.lease.RefillPeriod, in.lease.PeriodStart)
	}
	return r
}

// Left returns about what is left of the key's quota as this instance
// knows it (its unspent lease plus what the database held at the lease),
// and false if it holds no lease for the key.
func (q *Quotas) Left(keyID int64) (int64, bool) {
	q.mu.Lock()
	k, ok := q.keys[keyID]
	q.mu.Unlock()
	if !ok {
		return 0, false
	}
	in := k.info.Load()
	if in == nil {
		return 0, false
	}
	return max(k.left.Load(), 0) + in.lease.Remaining, true
}

// Close returns every unspent lease to the database (a clean shutdown) and
// forgets them. Leases whose period is over are dropped, not returned.
func (q *Quotas) Close(ctx context.Context, now time.Time) error {
	q.mu.Lock()
	keys := q.keys
	q.keys = map[int64]*quotaKey{}
	q.mu.Unlock()
	var errs []error
	for _, k := range keys {
		k.mu.Lock()
		in := k.info.Load()
		left := k.left.Swap(0)
		k.info.Store(nil)
		k.mu.Unlock()
		if in == nil || left <= 0 || now.UnixNano() >= in.until {
			continue
		}
		if err := q.l.ReturnQuota(ctx, in.lease, left); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leased returns the unspent units of this instance's lease of the key's
// quota (0 if it holds none).
func (q *Quotas) Leased(keyID int64) int64 {
	q.mu.Lock()
	k, ok := q.keys[keyID]
	q.mu.Unlock()
	if !ok || k.info.Load() == nil {
		return 0
	}
	return max(k.left.Load(), 0)
}
