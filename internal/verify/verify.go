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
	st  *store.Store
	ttl time.Duration
	now func() time.Time
	// epoch is the clock when the verifier was made; cache deadlines are
	// kept as offsets from it (monotonic with the real clock).
	epoch time.Time
	cache *cache
	perms permTable
}

// Verified is a key found by Check, with its permission parsed once. It is
// shared by every request that presents the key while it is cached, so it
// must not be modified; keys with the same permission share its scope map.
type Verified struct {
	Key        Key
	Permission model.Permission
	// Scopes is Permission.ScopeStrings(), computed once.
	Scopes []string
}

// Key is what the cache keeps of a key: what checks and answers need. It
// lacks the hash, the permission columns (see Verified.Permission), the
// creator and revoker, and the last-used fields, which change on their own
// schedule; Verified.APIKey fills a model.APIKey from it.
type Key struct {
	ID          int64
	TeamID      int64
	PublicID    string
	Name        string
	Environment string
	Hint        string
	ExpiresAt   *time.Time
	RevokedAt   *time.Time
}

// APIKey returns the key as a model.APIKey holding what the Verified keeps
// (for an audit actor, say).
func (k *Verified) APIKey() model.APIKey {
	scopes := []string{}
	if k.Permission.Set == model.PermRestricted {
		scopes = slices.Clone(k.Scopes)
	}
	return model.APIKey{
		ID: k.Key.ID, TeamID: k.Key.TeamID, PublicID: k.Key.PublicID, Name: k.Key.Name,
		Environment: k.Key.Environment, Hint: k.Key.Hint, PermissionSet: k.Permission.Set, Scopes: scopes,
		ExpiresAt: k.Key.ExpiresAt, RevokedAt: k.Key.RevokedAt,
	}
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

// Verify is Check for callers that want the key itself: it returns the key
// (also when it is expired or revoked, see Check) and the same errors.
func (v *Verifier) Verify(ctx context.Context, raw string) (model.APIKey, error) {
	k, err := v.Check(ctx, raw)
	if k == nil {
		return model.APIKey{}, err
	}
	return k.APIKey(), err
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
	// Environment and permission set are one of a few values: share them
	// rather than keep a copy per key.
	switch k.Environment {
	case model.EnvLive:
		k.Environment = model.EnvLive
	case model.EnvTest:
		k.Environment = model.EnvTest
	}
	p, scopes := v.perms.get(k.PermissionSet, k.Scopes)
	return &Verified{
		Key: Key{ID: k.ID, TeamID: k.TeamID, PublicID: k.PublicID, Name: k.Name, Environment: k.Environment,
			Hint: k.Hint, ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt},
		Permission: p,
		Scopes:     scopes,
	}
}

// maxSharedPerms bounds the table of shared permissions; keys with a
// permission not in a full table get their own copy.
const maxSharedPerms = 1024

// permTable shares parsed permissions between keys with the same set and
// stored scopes. Most keys share one of a few, and a restricted
// permission's scope map is otherwise the largest part of a cached key.
type permTable struct {
	mu sync.Mutex
	m  map[string]sharedPerm
}

type sharedPerm struct {
	p      model.Permission
	scopes []string
}

func (t *permTable) get(set model.PermissionSet, stored []string) (model.Permission, []string) {
	id := string(set) + "\x00" + strings.Join(stored, "\x00")
	t.mu.Lock()
	defer t.mu.Unlock()
	if sp, ok := t.m[id]; ok {
		return sp.p, sp.scopes
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
	sp := sharedPerm{p: p, scopes: p.ScopeStrings()}
	if t.m == nil {
		t.m = make(map[string]sharedPerm)
	}
	if len(t.m) < maxSharedPerms {
		t.m[id] = sp
	}
	return sp.p, sp.scopes
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
