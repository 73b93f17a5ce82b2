package verify

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keys"
)

func randomDigest() digest {
	var d digest
	_, _ = rand.Read(d[:])
	return d
}

func TestCacheIsBounded(t *testing.T) {
	c := newCache(1000)
	k := &Verified{}
	var first digest
	for i := range 20_000 {
		d := randomDigest()
		if i == 0 {
			first = d
		}
		c.put(&d, entry{key: k}, c.generation(&d))
	}
	if n := c.len(); n > 64*((1000+63)/64) || n < 900 {
		t.Fatalf("cache holds %d entries after 20,000 puts with a bound of 1,000", n)
	}
	if _, ok := c.get(&first); ok {
		t.Fatal("the oldest entry was not evicted")
	}
	// Refreshing an entry does not take a second slot.
	d := randomDigest()
	for range 10 {
		c.put(&d, entry{key: k, until: 1}, c.generation(&d))
	}
	s := c.shard(&d)
	slots := 0
	for _, r := range s.ring {
		if r == d {
			slots++
		}
	}
	if slots != 1 {
		t.Fatalf("a refreshed entry holds %d ring slots", slots)
	}
}

func TestCacheDropsRacingLoads(t *testing.T) {
	c := newCache(100)
	d := randomDigest()
	gen := c.generation(&d) // a lookup starts…
	c.remove(&d)            // …the key changes meanwhile…
	c.put(&d, entry{key: &Verified{}}, gen)
	if _, ok := c.get(&d); ok {
		t.Fatal("a value read before an invalidation was cached after it")
	}
	gen = c.generation(&d)
	c.purge()
	c.put(&d, entry{key: &Verified{}}, gen)
	if _, ok := c.get(&d); ok {
		t.Fatal("a value read before a purge was cached after it")
	}
	c.put(&d, entry{key: &Verified{}}, c.generation(&d))
	if _, ok := c.get(&d); !ok {
		t.Fatal("put did not cache")
	}
}

func TestParseDigest(t *testing.T) {
	raw, err := keys.Generate("kw", "live")
	if err != nil {
		t.Fatal(err)
	}
	// A change the store reports by the key's hex hash must drop the entry
	// the key was cached under.
	h := keys.Hash(raw)
	got, ok := parseDigest(h)
	if !ok || got != digestOf(raw) {
		t.Fatal("the store's hash of a key does not decode to the key's digest")
	}
	for _, bad := range []string{"", "zz", h[:32], h[:63] + "g", h + "00"} {
		if _, ok := parseDigest(bad); ok {
			t.Fatalf("parseDigest(%q) succeeded", bad)
		}
	}
}

func TestInvalidateUndecodableHashPurges(t *testing.T) {
	v := &Verifier{cache: newCache(10), now: time.Now}
	d := randomDigest()
	v.cache.put(&d, entry{key: &Verified{}}, 0)
	v.Invalidate("not a hash")
	if v.Cached() != 0 {
		t.Fatal("an undecodable hash did not empty the cache")
	}
}
