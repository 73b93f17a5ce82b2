// Package verify is keyward's hot path. A Verifier checks raw API keys
// through a bounded in-process cache in front of the store and keeps that
// cache in step with changes: at once for changes made through this process
// (the store's key-change hook), and through PostgreSQL LISTEN/NOTIFY for
// changes made by other instances (Listener). A Recorder buffers when and
// from where keys are used and writes it in batches.
package verify

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

// DefaultMaxEntries bounds the cache when Options.MaxEntries is zero.
const DefaultMaxEntries = 100_000

// Defaults of the "not found" cache (Options.NegativeTTL, MaxNegative):
// short, and bounded on its own so that a flood of unknown keys can neither
// grow memory nor push valid keys out of the main cache.
const (
	DefaultNegativeTTL = 5 * time.Second
	DefaultMaxNegative = 16_384
)

// staleRetry is how often, while the store is failing, one check asks it
// again on behalf of the stale entries being served (the others keep
// answering from the cache meanwhile).
const staleRetry = 100 * time.Millisecond

// ErrInvalid is the one answer for a key that is missing, malformed, unknown,
// expired or revoked: callers must not tell these apart to the client. Its
// code is EUNAUTHORIZED.
var ErrInvalid = &model.Error{Code: model.EUNAUTHORIZED, Message: "The API key is missing, malformed, unknown, expired or revoked."}

// Options tune a Verifier.
type Options struct {
	// TTL is how long a key read from the store is trusted before it is read
	// again. 0 turns the cache off: every check reads the store.
	TTL time.Duration
	// MaxEntries bounds the number of cached keys; 0 means DefaultMaxEntries.
	MaxEntries int
	// StaleIfError is how long past its TTL a cached key keeps being served
	// while the store cannot be reached (expiry and revocation as cached
	// are still checked on every hit). 0 serves nothing stale.
	StaleIfError time.Duration
	// NegativeTTL is how long a well-formed key the store does not know is
	// answered ErrInvalid without asking it again; 0 means
	// DefaultNegativeTTL, negative turns the "not found" cache off. It is
	// never longer than TTL.
	NegativeTTL time.Duration
	// MaxNegative bounds the "not found" cache; 0 means DefaultMaxNegative.
	MaxNegative int
	// Now is the clock against which expiry is checked; time.Now when nil.
	Now func() time.Time
	// Rates applies keys' rate limits; in process when nil.
	Rates *limit.Rates
	// Quotas spends keys' quotas; leases from the store when nil.
	Quotas *limit.Quotas
	// Recorder, when set, counts Authorize's accepted and refused requests.
	Recorder *Recorder
}

// Verifier checks raw keys. It is safe for concurrent use.
type Verifier struct {
	st  *store.Store
	ttl time.Duration
	now func() time.Time
	// epoch is the clock when the verifier was made; cache deadlines are
	// kept as offsets from it (monotonic with the real clock).
	epoch time.Time
	cache *cache
	perms permTable

	// stale is Options.StaleIfError in nanoseconds.
	stale int64
	// negative caches keys the store did not find (entries without a key);
	// nil when off. negTTL is its TTL in nanoseconds.
	negative *cache
	negTTL   int64
	// down is set when a load failed because the store was unreachable and
	// cleared by the next load that succeeds; retryAt (an offset from epoch)
	// is when a check next asks the store for a stale entry.
	down    atomic.Bool
	retryAt atomic.Int64

	staleServed, negativeHits atomic.Uint64

	// Restrictions (authorize.go).
	rates  *limit.Rates
	quotas *limit.Quotas
	rec    *Recorder
}

// Stats are counters of a Verifier since it was made.
type Stats struct {
	// StaleServed counts checks answered from a cached entry past its TTL
	// because the store could not be reached.
	StaleServed uint64
	// NegativeHits counts checks of an unknown key answered from the "not
	// found" cache.
	NegativeHits uint64
	// Cached and CachedNegative are the entries in each cache right now.
	Cached, CachedNegative int
}

// Stats returns the verifier's counters.
func (v *Verifier) Stats() Stats {
	st := Stats{StaleServed: v.staleServed.Load(), NegativeHits: v.negativeHits.Load(), Cached: v.cache.len()}
	if v.negative != nil {
		st.CachedNegative = v.negative.len()
	}
	return st
}

// Verified is a key found by Check, with its permission parsed once. It is
// shared by every request that presents the key while it is cached, so it
// is immutable. It keeps what checks and answers need, laid out small since
// the cache holds up to DefaultMaxEntries of them: not the hash, the creator
// and revoker, nor the last-used fields, which change on their own schedule.
// APIKey fills a model.APIKey from it.
type Verified struct {
	id, teamID int64
	// expSec/expNsec and revSec/revNsec are expires_at and revoked_at as
	// Unix seconds and nanoseconds, nsec -1 for none: a *time.Time would be
	// a 24-byte allocation of its own, and Unix nanoseconds alone end in 2262.
	expSec, revSec   int64
	expNsec, revNsec int32
	grant            *grant
	// rst is the key's restrictions, parsed; nil when it has none.
	rst *restriction
	// text is PublicID, Hint, Environment and Name in one allocation,
	// the name last: the other three are short strings keyward makes, so
	// their ends fit in 16 bits (see newVerified), which keeps a Verified
	// within 80 bytes, a size class below 96.
	text                  string
	hintAt, envAt, nameAt uint16
}

// grant is a parsed permission and its scope strings, shared by every key
// with the same permission (see permTable).
type grant struct {
	p model.Permission
	// scopes is p.ScopeStrings(), computed once.
	scopes []string
}

// ID is the key's database id.
func (k *Verified) ID() int64 { return k.id }

// TeamID is the team the key belongs to.
func (k *Verified) TeamID() int64 { return k.teamID }

// PublicID is the key's public identifier.
func (k *Verified) PublicID() string { return k.text[:k.hintAt] }

// Name is the key's name.
func (k *Verified) Name() string { return k.text[k.nameAt:] }

// Hint is the key's hint (prefix, environment and a few characters).
func (k *Verified) Hint() string { return k.text[k.hintAt:k.envAt] }

// Environment is model.EnvLive or model.EnvTest.
func (k *Verified) Environment() string { return k.text[k.envAt:k.nameAt] }

// ExpiresAt is when the key expires (in UTC), or nil if it never does. Each
// call returns a new time.Time.
func (k *Verified) ExpiresAt() *time.Time { return timeOf(k.expSec, k.expNsec) }

// RevokedAt is when the key was revoked (in UTC), or nil if it was not.
// Each call returns a new time.Time.
func (k *Verified) RevokedAt() *time.Time { return timeOf(k.revSec, k.revNsec) }

// Permission is the key's parsed permission. Its scope map is shared: do not
// modify it.
func (k *Verified) Permission() model.Permission { return k.grant.p }

// Scopes is Permission().ScopeStrings(), computed once and shared: do not
// modify it.
func (k *Verified) Scopes() []string { return k.grant.scopes }

// unixOf splits t for Verified, nsec -1 for nil.
func unixOf(t *time.Time) (sec int64, nsec int32) {
	if t == nil {
		return 0, -1
	}
	return t.Unix(), int32(t.Nanosecond()) // #nosec G115 -- Nanosecond is in [0, 1e9), within int32

}

func timeOf(sec int64, nsec int32) *time.Time {
	if nsec < 0 {
		return nil
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	return &t
}

// APIKey returns the key as a model.APIKey holding what the Verified keeps
// (for an audit actor, say).
func (k *Verified) APIKey() model.APIKey {
	scopes := []string{}
	if k.grant.p.Set == model.PermRestricted {
		scopes = slices.Clone(k.grant.scopes)
	}
	return model.APIKey{
		ID: k.id, TeamID: k.teamID, PublicID: k.PublicID(), Name: k.Name(),
		Environment: k.Environment(), Hint: k.Hint(), PermissionSet: k.grant.p.Set, Scopes: scopes,
		ExpiresAt: k.ExpiresAt(), RevokedAt: k.RevokedAt(),
	}
}

// Allows reports whether the key grants need on resource.
func (k *Verified) Allows(resource string, need model.Access) bool {
	return k.grant.p.Allows(resource, need)
}

// usable reports whether the key is neither revoked nor expired at now
// (expired when expires_at ≤ now, as model.APIKey.Status has it).
func (k *Verified) usable(now time.Time) bool {
	if k.revNsec >= 0 {
		return false
	}
	if k.expNsec < 0 {
		return true
	}
	sec := now.Unix()
	return k.expSec > sec || (k.expSec == sec && int(k.expNsec) > now.Nanosecond())
}

// New returns a verifier over st and registers it with st.OnKeyChange, so
// that every key change this process commits invalidates the cache at once.
func New(st *store.Store, opts Options) *Verifier {
	v := &Verifier{st: st, ttl: opts.TTL, now: opts.Now, stale: int64(max(0, opts.StaleIfError)),
		rates: opts.Rates, quotas: opts.Quotas, rec: opts.Recorder}
	if v.now == nil {
		v.now = time.Now
	}
	if v.rates == nil {
		v.rates = limit.NewRates(limit.RateOptions{})
	}
	if v.quotas == nil {
		v.quotas = limit.NewQuotas(st, limit.QuotaOptions{})
	}
	v.epoch = v.now()
	n := opts.MaxEntries
	if n <= 0 {
		n = DefaultMaxEntries
	}
	v.cache = newCache(n)
	if neg := opts.NegativeTTL; neg >= 0 && v.ttl > 0 {
		if neg == 0 {
			neg = DefaultNegativeTTL
		}
		m := opts.MaxNegative
		if m <= 0 {
			m = DefaultMaxNegative
		}
		v.negative, v.negTTL = newCache(m), int64(min(neg, v.ttl))
	}
	st.OnKeyChange(v.Invalidate)
	return v
}

// Check verifies raw and returns the key. The shape and checksum are checked
// first, with no cache or database work; then the cache, keyed by the key's
// SHA-256; then the store, whose answer is cached for the TTL. A key the
// store does not know is remembered in a separate, smaller "not found" cache
// for a few seconds (Options.NegativeTTL), so that guessing can neither fill
// the main cache nor reach the store on every try; creating a key drops its
// entry there. Revocation and expiry are checked on every call against the
// clock.
//
// When the store cannot be reached, a cached key past its TTL is still
// served for up to Options.StaleIfError, and refreshed as soon as the store
// answers again.
//
// Errors: ErrInvalid (EUNAUTHORIZED) for a malformed, unknown, expired or
// revoked key; EUNAVAILABLE when the store cannot be read and the key is not
// cached (or its stale window has passed). For a key that exists but is expired or revoked, Check returns the
// key along with ErrInvalid so that the caller can count the refusal against
// it; any error means the request must be refused.
func (v *Verifier) Check(ctx context.Context, raw string) (*Verified, error) {
	if _, err := keys.Parse(raw); err != nil {
		return nil, ErrInvalid
	}
	if v.ttl <= 0 {
		k, err := v.load(ctx, raw)
		if err != nil {
			return nil, err
		}
		return k, k.verdict(v.now())
	}
	d := digestOf(raw)
	now := v.now()
	at := int64(now.Sub(v.epoch))
	e, cached := v.cache.get(&d)
	if cached {
		if at < e.until {
			return e.key, e.key.verdict(now)
		}
		if at < e.until+v.stale && v.skipRefresh(at) {
			v.staleServed.Add(1)
			return e.key, e.key.verdict(now)
		}
	} else if v.negative != nil {
		if ne, ok := v.negative.get(&d); ok && at < ne.until {
			v.negativeHits.Add(1)
			return nil, ErrInvalid
		}
	}
	gen := v.cache.generation(&d)
	var ngen uint64
	if v.negative != nil {
		ngen = v.negative.generation(&d)
	}
	k, err := v.load(ctx, raw)
	switch {
	case err == nil:
	case err == ErrInvalid:
		if v.negative != nil {
			v.negative.put(&d, entry{until: at + v.negTTL}, ngen)
		}
		return nil, err
	case errors.Is(ctx.Err(), context.Canceled):
		// The caller went away before the store answered: that says
		// nothing about the store, so it is not marked down (which would
		// hold back the refresh of stale entries) and nothing is served.
		return nil, err
	default:
		v.retryAt.Store(at + int64(staleRetry))
		v.down.Store(true)
		if cached && at < e.until+v.stale {
			v.staleServed.Add(1)
			return e.key, e.key.verdict(now)
		}
		return nil, err
	}
	if v.down.Load() {
		v.down.Store(false)
	}
	v.cache.put(&d, entry{key: k, until: at + int64(v.ttl)}, gen)
	return k, k.verdict(now)
}

// skipRefresh reports whether a check at at should serve a stale entry
// without asking the store: the store failed lately, and either the next
// retry is not due or another check has just claimed it.
func (v *Verifier) skipRefresh(at int64) bool {
	if !v.down.Load() {
		return false
	}
	next := v.retryAt.Load()
	if at < next {
		return true
	}
	return !v.retryAt.CompareAndSwap(next, at+int64(staleRetry))
}

func (k *Verified) verdict(now time.Time) error {
	if k.usable(now) {
		return nil
	}
	return ErrInvalid
}

// load reads the key from the store.
func (v *Verifier) load(ctx context.Context, raw string) (*Verified, error) {
	k, err := v.st.FindKeyByHash(ctx, keys.Hash(raw))
	switch model.ErrorCode(err) {
	case "":
	case model.ENOTFOUND:
		return nil, ErrInvalid
	default:
		return nil, model.Wrap(model.EUNAVAILABLE, err, "API keys can't be checked right now because the database is unreachable. Try again shortly.")
	}
	return v.newVerified(k), nil
}

func (v *Verifier) newVerified(k model.APIKey) *Verified {
	// One allocation for the four strings, the name last. The public id,
	// hint and environment are short strings keyward generates (tens of
	// bytes); only a row edited by hand could make them longer than 16
	// bits of offsets reach, and then they are cut short (what a key may
	// do does not depend on them).
	pub, hint, env := clip(k.PublicID, math.MaxUint16), k.Hint, k.Environment
	hint = clip(hint, math.MaxUint16-len(pub))
	env = clip(env, math.MaxUint16-len(pub)-len(hint))
	text := pub + hint + env + k.Name
	vk := &Verified{
		id: k.ID, teamID: k.TeamID, grant: v.perms.get(k.PermissionSet, k.Scopes), rst: newRestriction(k),
		text: text, hintAt: uint16(len(pub)), envAt: uint16(len(pub) + len(hint)), nameAt: uint16(len(pub) + len(hint) + len(env)), // #nosec G115 -- clipped to MaxUint16 above
	}
	vk.expSec, vk.expNsec = unixOf(k.ExpiresAt)
	vk.revSec, vk.revNsec = unixOf(k.RevokedAt)
	return vk
}

// clip returns s cut to at most n bytes.
func clip(s string, n int) string { return s[:min(len(s), max(n, 0))] }

// maxSharedPerms bounds the table of shared permissions; keys with a
// permission not in a full table get their own copy.
const maxSharedPerms = 1024

// permTable shares parsed permissions between keys with the same set and
// stored scopes. Most keys share one of a few, and a restricted
// permission's scope map is otherwise the largest part of a cached key.
type permTable struct {
	mu sync.Mutex
	m  map[string]*grant
}

func (t *permTable) get(set model.PermissionSet, stored []string) *grant {
	id := string(set) + "\x00" + strings.Join(stored, "\x00")
	t.mu.Lock()
	defer t.mu.Unlock()
	if g, ok := t.m[id]; ok {
		return g
	}
	p := model.PermissionFromStored(set, stored)
	switch p.Set {
	case model.PermReadAll:
		p.Set = model.PermReadAll
	case model.PermWriteAll:
		p.Set = model.PermWriteAll
	case model.PermRestricted:
		p.Set = model.PermRestricted
	}
	g := &grant{p: p, scopes: p.ScopeStrings()}
	if t.m == nil {
		t.m = make(map[string]*grant)
	}
	if len(t.m) < maxSharedPerms {
		t.m[id] = g
	}
	return g
}

// Invalidate drops the key with that hash (hex SHA-256, as the store
// reports changes) from the cache, and a "not found" it may have cached for
// it. A hash that cannot be decoded empties the whole cache, to be safe. It
// is the path from a change notification to the purge: it allocates
// nothing.
func (v *Verifier) Invalidate(hash string) {
	d, ok := parseDigest(hash)
	if !ok {
		v.Purge()
		return
	}
	v.cache.remove(&d)
	if v.negative != nil {
		v.negative.remove(&d)
	}
}

// Purge empties the cache (and the "not found" cache), keeping nothing for
// stale-if-error; see ExpireAll.
func (v *Verifier) Purge() {
	v.cache.purge()
	if v.negative != nil {
		v.negative.purge()
	}
}

// ExpireAll makes every cached key due for a re-read from the store, as if
// its TTL had run out, and empties the "not found" cache. Unlike Purge it
// keeps the entries: while the store cannot be reached they are still
// served for up to Options.StaleIfError past the moment of ExpireAll. A
// check already reading the store when ExpireAll is called does not cache
// what it read. The
// Listener calls it after every (re)connect, and its backstop when keys
// changed while it was down.
func (v *Verifier) ExpireAll() {
	v.cache.expire(int64(v.now().Sub(v.epoch)))
	if v.negative != nil {
		v.negative.purge()
	}
}

// Cached returns the number of cached keys.
func (v *Verifier) Cached() int { return v.cache.len() }
