package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/keyward/keyward/internal/keys"
)

// digest identifies a raw key in the cache: the first 16 bytes of its
// SHA-256 (the hash the store keeps as hex, keys.Hash), in binary so the
// cache needs no allocation to look a key up.
//
// Half the hash is enough, and halves what every map slot and ring slot
// holds. The cache only maps a digest to a key the store found by its full
// hash, so answering a raw key with the wrong entry takes one of two things:
// a raw key made to match a stored key's digest (a second preimage of a
// 128-bit SHA-256 prefix, about 2^128 work: out of reach), or two real keys
// whose digests happen to agree (for a billion keys, a chance of about
// 10^-21 by the birthday bound).
type digest [16]byte

// digestOf hashes raw, which has passed keys.Parse and so fits the stack
// buffer.
func digestOf(raw string) digest {
	var buf [keys.MaxLen]byte
	sum := sha256.Sum256(append(buf[:0], raw...))
	return digest(sum[:len(digest{})])
}

// parseDigest decodes the hex hash the store reports for a changed key. It
// reads the string in place (no copy to a byte slice): it runs between a
// change notification and the cache purge.
func parseDigest(hash string) (digest, bool) {
	var d digest
	if len(hash) != hex.EncodedLen(sha256.Size) {
		return d, false
	}
	for i := range d {
		hi, ok1 := unhex(hash[2*i])
		lo, ok2 := unhex(hash[2*i+1])
		if !ok1 || !ok2 {
			return d, false
		}
		d[i] = hi<<4 | lo
	}
	// The rest must be hex too, as a whole hash is.
	for i := 2 * len(d); i < len(hash); i++ {
		if _, ok := unhex(hash[i]); !ok {
			return d, false
		}
	}
	return d, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// shardCount spreads the cache over independently locked shards so that
// concurrent requests for different keys do not contend. SHA-256 output is
// uniform, so its first byte picks the shard.
const shardCount = 64

// cache is a bounded map from key digest to verified key. Each shard evicts
// in insertion order (a ring of digests) once it holds its share of the
// bound: cheap, and close enough to LRU for entries that live one TTL.
type cache struct {
	perShard int
	shards   [shardCount]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[digest]entry
	// ring holds digests in insertion order; every key of m has a slot, so
	// len(m) never exceeds the ring's capacity.
	ring []digest
	next int
	// gen changes whenever an entry is invalidated, so that a lookup that
	// raced with a change does not cache what it read before the change.
	gen uint64
	_   [56]byte // keep shards on separate cache lines
}

type entry struct {
	key *Verified
	// until is when the entry is looked up again, as an offset from the
	// verifier's epoch (an int64 rather than a time.Time: a third less per
	// slot in the map).
	until int64
}

func newCache(maxEntries int) *cache {
	c := &cache{perShard: max(1, (maxEntries+shardCount-1)/shardCount)}
	for i := range c.shards {
		c.shards[i].m = make(map[digest]entry)
	}
	return c
}

func (c *cache) shard(d *digest) *shard { return &c.shards[d[0]%shardCount] }

// get returns the cached entry for d.
func (c *cache) get(d *digest) (entry, bool) {
	s := c.shard(d)
	s.mu.RLock()
	e, ok := s.m[*d]
	s.mu.RUnlock()
	return e, ok
}

// generation returns the invalidation generation of d's shard, to be passed
// to put after a lookup.
func (c *cache) generation(d *digest) uint64 {
	s := c.shard(d)
	s.mu.RLock()
	g := s.gen
	s.mu.RUnlock()
	return g
}

// put caches e under d unless d's shard saw an invalidation since gen was
// read (the value may predate the change that caused it).
func (c *cache) put(d *digest, e entry, gen uint64) {
	s := c.shard(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if _, ok := s.m[*d]; ok {
		s.m[*d] = e
		return
	}
	if len(s.ring) < c.perShard {
		if len(s.ring) == cap(s.ring) {
			s.grow(c.perShard)
		}
		s.ring = append(s.ring, *d)
	} else {
		delete(s.m, s.ring[s.next])
		s.ring[s.next] = *d
		s.next = (s.next + 1) % len(s.ring)
	}
	s.m[*d] = e
}

// grow makes room in the ring for more digests, never beyond limit: plain
// append would round a shard's ring up past its share of the bound.
func (s *shard) grow(limit int) {
	n := min(limit, max(16, cap(s.ring)+cap(s.ring)/4))
	ring := make([]digest, len(s.ring), n)
	copy(ring, s.ring)
	s.ring = ring
}

// remove drops d and makes lookups in flight for its shard not cache.
func (c *cache) remove(d *digest) {
	s := c.shard(d)
	s.mu.Lock()
	delete(s.m, *d)
	s.gen++
	s.mu.Unlock()
}

// purge empties the cache.
func (c *cache) purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.ring, s.next = s.ring[:0], 0
		s.gen++
		s.mu.Unlock()
	}
}

// expire makes every entry due at at (if it was due later), keeping it, and
// makes lookups in flight not cache.
func (c *cache) expire(at int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for d, e := range s.m {
			if e.until > at {
				e.until = at
				s.m[d] = e
			}
		}
		s.gen++
		s.mu.Unlock()
	}
}

// len counts the cached entries.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
