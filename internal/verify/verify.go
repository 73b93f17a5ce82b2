// Package verify is keyward's hot path. A Verifier checks raw API keys
// through a bounded in-process cache in front of the store and keeps that
// cache in step with changes: at once for changes made through this process
// (the store's key-change hook), and through PostgreSQL LISTEN/NOTIFY for
// changes made by other instances (Listener). A Recorder buffers when and
// from where keys are used and writes it in batches.
package verify

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/limit"
	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

// DefaultMaxEntries bounds the cache when Options.MaxEntries is zero.
const DefaultMaxEntries = 100_000

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
	// Restrictions (authorize.go).
	rates  *limit.Rates
	quotas *limit.Quotas
	rec    *Recorder
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
	// text is PublicID, Name, Hint and Environment in one allocation.
	text                  string
	nameAt, hintAt, envAt uint32
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
func (k *Verified) PublicID() string { return k.text[:k.nameAt] }

// Name is the key's name.
func (k *Verified) Name() string { return k.text[k.nameAt:k.hintAt] }

// Hint is the key's hint (prefix, environment and a few characters).
func (k *Verified) Hint() string { return k.text[k.hintAt:k.envAt] }

// Environment is model.EnvLive or model.EnvTest.
func (k *Verified) Environment() string { return k.text[k.envAt:] }

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
	v := &Verifier{st: st, ttl: opts.TTL, now: opts.Now, rates: opts.Rates, quotas: opts.Quotas, rec: opts.Recorder}
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
	st.OnKeyChange(v.Invalidate)
	return v
}

// Check verifies raw and returns the key. The shape and checksum are checked
// first, with no cache or database work; then the cache, keyed by the key's
// SHA-256; then the store, whose answer is cached for the TTL. Unknown keys
// are never cached, so guessing cannot fill the cache. Revocation and expiry
// are checked on every call against the clock.
//
// Errors: ErrInvalid (EUNAUTHORIZED) for a malformed, unknown, expired or
// revoked key; EUNAVAILABLE when the store cannot be read and the key is not
// cached. For a key that exists but is expired or revoked, Check returns the
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
	if e, ok := v.cache.get(&d); ok && at < e.until {
		return e.key, e.key.verdict(now)
	}
	gen := v.cache.generation(&d)
	k, err := v.load(ctx, raw)
	if err != nil {
		return nil, err
	}
	v.cache.put(&d, entry{key: k, until: at + int64(v.ttl)}, gen)
	return k, k.verdict(now)
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
	// One allocation for the four strings. The public id, hint and
	// environment are short strings keyward generates, and the name is at
	// most 1 GB (the database's limit for a text value), so every offset is
	// below 2^31 and fits in uint32.
	text := k.PublicID + k.Name + k.Hint + k.Environment
	nameAt := len(k.PublicID)
	hintAt := nameAt + len(k.Name)
	envAt := hintAt + len(k.Hint)
	vk := &Verified{
		id: k.ID, teamID: k.TeamID, grant: v.perms.get(k.PermissionSet, k.Scopes), rst: newRestriction(k),
		text: text, nameAt: uint32(nameAt), hintAt: uint32(hintAt), envAt: uint32(envAt), // #nosec G115 -- offsets < 2^31, see above
	}
	vk.expSec, vk.expNsec = unixOf(k.ExpiresAt)
	vk.revSec, vk.revNsec = unixOf(k.RevokedAt)
	return vk
}

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
// reports changes) from the cache. A hash that cannot be decoded empties the
// whole cache, to be safe.
func (v *Verifier) Invalidate(hash string) {
	d, ok := parseDigest(hash)
	if !ok {
		v.Purge()
		return
	}
	v.cache.remove(&d)
}

// Purge empties the cache. The Listener calls it after every (re)connect,
// since changes made while it was not listening were not heard.
func (v *Verifier) Purge() { v.cache.purge() }

// Cached returns the number of cached keys.
func (v *Verifier) Cached() int { return v.cache.len() }
