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
// units: at most two leases per other instance (the one being spent and the
// next, taken in the background when half of a lease of 16 units
// or more are spent, so that a busy key does not wait on the database),
// each at most MaxLease and a tenth of what was left when it was taken. A
// crash loses its unspent leases.
type Quotas struct {
	l        Leaser
	maxLease int64
	// Background leases: none start once closed is set, and Close waits
	// for those running (fetches) before it returns what is unspent.
	bg      sync.Mutex
	closed  bool
	fetches sync.WaitGroup
	// keys maps a key id to its *quotaKey; a sync.Map, since after its
	// first request a key is only looked up, by every request.
	keys sync.Map
}

type quotaKey struct {
	mu   sync.Mutex // held while leasing
	left atomic.Int64
	info atomic.Pointer[leaseInfo]
	// next is a lease taken ahead, in the background, not yet spent from;
	// fetching is set while it is being taken.
	next     atomic.Pointer[leaseInfo]
	fetching atomic.Bool
}

// prefetchMin is the smallest lease worth taking the next one ahead of.
const prefetchMin = 16

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
	q := &Quotas{l: l, maxLease: opts.MaxLease}
	if q.maxLease <= 0 {
		q.maxLease = DefaultMaxLease
	}
	return q
}

func (q *Quotas) key(id int64) *quotaKey {
	if k, ok := q.keys.Load(id); ok {
		return k.(*quotaKey)
	}
	k, _ := q.keys.LoadOrStore(id, &quotaKey{})
	return k.(*quotaKey)
}

// lookup returns the key's state if this instance has any.
func (q *Quotas) lookup(id int64) (*quotaKey, bool) {
	k, ok := q.keys.Load(id)
	if !ok {
		return nil, false
	}
	return k.(*quotaKey), true
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
			if n == in.lease.Units/2 && in.lease.Units >= prefetchMin {
				q.prefetch(keyID, k, in.lease.Version)
			}
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
	if nx := k.next.Swap(nil); nx != nil && nx.lease.Version >= version && t < nx.until {
		k.left.Store(nx.lease.Units - 1)
		k.info.Store(nx)
		return result(nx, nx.lease.Units-1, true), nil
	}
	// The lease serves every request of the key on this instance, not only
	// this one: a caller that goes away must not cut it short (units the
	// database handed out in a commit whose answer was never read would be
	// lost to the key), so it runs on its own deadline.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseTimeout)
	defer cancel()
	l, err := q.l.LeaseQuota(lctx, keyID, q.maxLease, now)
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) && me.Code == model.ENOTFOUND {
			// The quota was removed since the caller read the key.
			return QuotaResult{Allowed: true}, nil
		}
		return QuotaResult{}, model.Wrap(model.EUNAVAILABLE, err, "The key's quota can't be checked right now because the database is unreachable. Try again shortly.")
	}
	in = newLeaseInfo(l)
	if l.Units == 0 {
		in.emptyUntil = min(in.until, t+int64(emptyRecheck))
		k.info.Store(in)
		return result(in, 0, false), nil
	}
	k.left.Store(l.Units - 1)
	k.info.Store(in)
	return result(in, l.Units-1, true), nil
}

// leaseTimeout bounds the taking of a lease.
const leaseTimeout = 5 * time.Second

func newLeaseInfo(l model.QuotaLease) *leaseInfo {
	in := &leaseInfo{lease: l, until: 1<<63 - 1}
	if next := model.NextRefill(l.RefillPeriod, l.PeriodStart); !next.IsZero() {
		in.until = next.UnixNano()
	}
	return in
}

// prefetch takes the key's next lease in the background, unless one is
// held or being taken already.
func (q *Quotas) prefetch(keyID int64, k *quotaKey, version int64) {
	if k.next.Load() != nil || !k.fetching.CompareAndSwap(false, true) {
		return
	}
	q.bg.Lock()
	if q.closed {
		q.bg.Unlock()
		k.fetching.Store(false)
		return
	}
	q.fetches.Add(1)
	q.bg.Unlock()
	go func() {
		defer q.fetches.Done()
		defer k.fetching.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
		defer cancel()
		l, err := q.l.LeaseQuota(ctx, keyID, q.maxLease, time.Now())
		if err != nil || l.Units == 0 || l.Version < version {
			// Nothing to take, or no database: the key's next request
			// asks again when its lease is spent.
			return
		}
		k.next.Store(newLeaseInfo(l))
	}()
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
	k, ok := q.lookup(keyID)
	if !ok {
		return 0, false
	}
	in := k.info.Load()
	if in == nil {
		return 0, false
	}
	n := max(k.left.Load(), 0) + in.lease.Remaining
	if nx := k.next.Load(); nx != nil {
		// The next lease's Remaining already excludes this lease's units.
		n = max(k.left.Load(), 0) + nx.lease.Units + nx.lease.Remaining
	}
	return n, true
}

// Close returns every unspent lease to the database (a clean shutdown) and
// forgets them; leases whose period is over are dropped, not returned.
// After Close the quotas still work, without taking leases ahead.
func (q *Quotas) Close(ctx context.Context, now time.Time) error {
	q.bg.Lock()
	q.closed = true
	q.bg.Unlock()
	q.fetches.Wait()
	var keys []*quotaKey
	q.keys.Range(func(id, k any) bool {
		keys = append(keys, k.(*quotaKey))
		q.keys.Delete(id)
		return true
	})
	var errs []error
	for _, k := range keys {
		k.mu.Lock()
		in := k.info.Load()
		left := k.left.Swap(0)
		k.info.Store(nil)
		nx := k.next.Swap(nil)
		k.mu.Unlock()
		if nx != nil && now.UnixNano() < nx.until {
			if err := q.l.ReturnQuota(ctx, nx.lease, nx.lease.Units); err != nil {
				errs = append(errs, err)
			}
		}
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
	k, ok := q.lookup(keyID)
	if !ok || k.info.Load() == nil {
		return 0
	}
	n := max(k.left.Load(), 0)
	if nx := k.next.Load(); nx != nil {
		n += nx.lease.Units
	}
	return n
}
