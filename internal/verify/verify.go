// Package verify is keyward's hot path. A Verifier checks raw API keys
// through a bounded in-process cache in front of the store and keeps that
// cache in step with changes: at once for changes made through this process
// (the store's key-change hook), and through PostgreSQL LISTEN/NOTIFY for
// changes made by other instances (Listener). A Recorder buffers when and
// from where keys are used and writes it in batches.
package verify

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/keys"
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
}

// Verifier checks raw keys. It is safe for concurrent use.
type Verifier struct {
	st    *store.Store
	ttl   time.Duration
	now   func() time.Time
	cache *cache
}

// Verified is a key found by Check, with its permission parsed once. It is
// shared by every request that presents the key while it is cached, so it
// must not be modified. Key lacks the hash and the last-used fields, which
// change on their own schedule.
type Verified struct {
	Key        model.APIKey
	Permission model.Permission
	// Scopes is Permission.ScopeStrings(), computed once.
	Scopes []string
}

// Allows reports whether the key grants need on resource.
func (k *Verified) Allows(resource string, need model.Access) bool {
	return k.Permission.Allows(resource, need)
}

// usable reports whether the key is neither revoked nor expired at now
// (expired when expires_at ≤ now, as model.APIKey.Status has it).
func (k *Verified) usable(now time.Time) bool {
	return k.Key.RevokedAt == nil && (k.Key.ExpiresAt == nil || k.Key.ExpiresAt.After(now))
}

// New returns a verifier over st and registers it with st.OnKeyChange, so
// that every key change this process commits invalidates the cache at once.
func New(st *store.Store, opts Options) *Verifier {
	v := &Verifier{st: st, ttl: opts.TTL, now: opts.Now}
	if v.now == nil {
		v.now = time.Now
	}
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
	if e, ok := v.cache.get(&d); ok && now.Before(e.until) {
		return e.key, e.key.verdict(now)
	}
	gen := v.cache.generation(&d)
	k, err := v.load(ctx, raw)
	if err != nil {
		return nil, err
	}
	v.cache.put(&d, entry{key: k, until: now.Add(v.ttl)}, gen)
	return k, k.verdict(now)
}

// Verify is Check for callers that want the key itself: it returns the key
// (also when it is expired or revoked, see Check) and the same errors.
func (v *Verifier) Verify(ctx context.Context, raw string) (model.APIKey, error) {
	k, err := v.Check(ctx, raw)
	if k == nil {
		return model.APIKey{}, err
	}
	return k.Key, err
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
	return newVerified(k), nil
}

func newVerified(k model.APIKey) *Verified {
	// The cache keeps only what checks and answers need.
	k.KeyHash, k.CreatedBy, k.RevokedBy = "", "", ""
	k.LastUsedAt, k.LastUsedIP = nil, ""
	switch k.Environment {
	case model.EnvLive:
		k.Environment = model.EnvLive
	case model.EnvTest:
		k.Environment = model.EnvTest
	}
	p := k.Permission()
	return &Verified{Key: k, Permission: p, Scopes: p.ScopeStrings()}
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
