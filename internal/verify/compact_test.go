package verify

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/keyward/keyward/internal/model"
)

// cachedKey is a key as the store returns it, with strings of its own (as
// the driver makes them) so that nothing is shared by accident.
func cachedKey(i int, set model.PermissionSet, scopes ...string) model.APIKey {
	own := func(s string) string { return string([]byte(s)) }
	k := model.APIKey{
		ID: int64(i), TeamID: 7, PublicID: fmt.Sprintf("key_%024d", i), Name: fmt.Sprintf("billing production %06d", i),
		Environment: own(model.EnvLive), KeyHash: fmt.Sprintf("%064x", i), Hint: fmt.Sprintf("kw_live_%04d…%04d", i%10000, i%10000),
		PermissionSet: model.PermissionSet(own(string(set))), Scopes: []string{},
		CreatedBy: "ana@example.com", CreatedAt: time.Now(), UpdatedAt: time.Now(),
	}
	for _, s := range scopes {
		k.Scopes = append(k.Scopes, own(s))
	}
	return k
}

func TestKeysShareTheirPermission(t *testing.T) {
	v := &Verifier{}
	a := v.newVerified(cachedKey(1, model.PermRestricted, "invoices:read", "members:write"))
	b := v.newVerified(cachedKey(2, model.PermRestricted, "invoices:read", "members:write"))
	c := v.newVerified(cachedKey(3, model.PermRestricted, "invoices:read"))
	if a.grant != b.grant || reflect.ValueOf(a.Permission().Scopes).UnsafePointer() != reflect.ValueOf(b.Permission().Scopes).UnsafePointer() ||
		&a.Scopes()[0] != &b.Scopes()[0] {
		t.Fatal("two keys with the same permission hold a copy each")
	}
	if a.grant == c.grant || reflect.ValueOf(a.Permission().Scopes).UnsafePointer() == reflect.ValueOf(c.Permission().Scopes).UnsafePointer() {
		t.Fatal("keys with different scopes share a permission")
	}
	if !a.Allows("members", model.AccessWrite) || c.Allows("members", model.AccessRead) || !c.Allows("invoices", model.AccessRead) {
		t.Fatalf("shared permissions grant the wrong scopes: %v %v", a.Scopes(), c.Scopes())
	}
	if !slices.Equal(a.Scopes(), []string{"invoices:read", "members:write"}) || !slices.Equal(c.Scopes(), []string{"invoices:read"}) {
		t.Fatalf("scopes %v and %v", a.Scopes(), c.Scopes())
	}
	// A full table still gives every key its own, correct permission.
	for i := range maxSharedPerms + 10 {
		k := v.newVerified(cachedKey(10+i, model.PermRestricted, fmt.Sprintf("r%d:read", i)))
		if !k.Allows(fmt.Sprintf("r%d", i), model.AccessRead) || k.Allows("invoices", model.AccessRead) {
			t.Fatalf("key %d: %v", i, k.Scopes())
		}
	}
	if n := len(v.perms.m); n != maxSharedPerms {
		t.Fatalf("the table holds %d permissions, want the bound %d", n, maxSharedPerms)
	}
}

func TestVerifiedAsAPIKey(t *testing.T) {
	v := &Verifier{}
	sameTime := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	exp := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("CET", 3600))
	rev := time.Date(2029, 6, 7, 8, 9, 10, 1, time.UTC)
	far := time.Date(3000, 1, 1, 0, 0, 0, 7, time.UTC) // past what int64 Unix nanoseconds hold
	old := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		set      model.PermissionSet
		scopes   []string
		env      string
		exp, rev *time.Time
	}{
		{model.PermReadAll, nil, model.EnvLive, &exp, nil},
		{model.PermWriteAll, nil, model.EnvTest, nil, &rev},
		{model.PermRestricted, []string{"api_keys:read", "invoices:write"}, model.EnvLive, &far, &old},
		{model.PermRestricted, []string{"members:read"}, model.EnvTest, nil, nil},
	} {
		src := cachedKey(1, tc.set, tc.scopes...)
		src.Environment, src.ExpiresAt, src.RevokedAt = tc.env, tc.exp, tc.rev
		k := v.newVerified(src)
		if k.ID() != src.ID || k.TeamID() != src.TeamID || k.PublicID() != src.PublicID || k.Name() != src.Name ||
			k.Hint() != src.Hint || k.Environment() != src.Environment ||
			!sameTime(k.ExpiresAt(), src.ExpiresAt) || !sameTime(k.RevokedAt(), src.RevokedAt) {
			t.Fatalf("%s: accessors of %+v", tc.set, k)
		}
		got := k.APIKey()
		if got.ID != src.ID || got.TeamID != src.TeamID || got.PublicID != src.PublicID || got.Name != src.Name ||
			got.Hint != src.Hint || got.Environment != src.Environment ||
			!sameTime(got.ExpiresAt, src.ExpiresAt) || !sameTime(got.RevokedAt, src.RevokedAt) ||
			got.KeyHash != "" || got.CreatedBy != "" {
			t.Fatalf("%s: APIKey() = %+v", tc.set, got)
		}
		if !reflect.DeepEqual(got.Permission(), src.Permission()) {
			t.Fatalf("%s: permission %+v, want %+v", tc.set, got.Permission(), src.Permission())
		}
		a := model.KeyActor(got, "192.0.2.1")
		if a.Permission == nil || !reflect.DeepEqual(*a.Permission, src.Permission()) {
			t.Fatalf("%s: actor permission %+v", tc.set, a.Permission)
		}
		for _, now := range []time.Time{exp.Add(-time.Nanosecond), exp, exp.Add(time.Nanosecond), far.Add(-time.Nanosecond), far} {
			if want := src.Status(now) == model.StatusActive; k.usable(now) != want {
				t.Fatalf("%s: usable at %v = %v, want %v", tc.set, now, !want, want)
			}
		}
	}
}

// TestCachedKeySize keeps a cached key small: DESIGN.md wants 100,000 of them
// in a process under 100 MB RSS, and the Go heap grows to about twice what
// is live. A third of the keys here are restricted, one in ten expires.
func TestCachedKeySize(t *testing.T) {
	const n = 20_000
	v := &Verifier{}
	key := func(i int) model.APIKey {
		var k model.APIKey
		switch i % 3 {
		case 0:
			k = cachedKey(i, model.PermReadAll)
		case 1:
			k = cachedKey(i, model.PermWriteAll)
		default:
			k = cachedKey(i, model.PermRestricted, "api_keys:read", "members:read")
		}
		if i%10 == 3 {
			e := time.Now().Add(time.Hour)
			k.ExpiresAt = &e
		}
		return k
	}
	c := newCache(n + n/4)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		sum := sha256.Sum256(b[:])
		d := digest(sum[:len(digest{})])
		c.put(&d, entry{key: v.newVerified(key(i)), until: 1}, 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c.len() != n {
		t.Fatalf("cached %d keys, want %d", c.len(), n)
	}
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("%.0f bytes per cached key", per)
	// About 237 B: an 80-byte Verified, 80 bytes of packed text, and the
	// key's share of its shard's map and ring (16-byte digests).
	if per > 245 {
		t.Fatalf("a cached key takes %.0f bytes of heap; keep it under 245 (100,000 keys must fit in 100 MB RSS)", per)
	}
	if size := unsafe.Sizeof(Verified{}); size > 80 {
		t.Fatalf("a Verified takes %d bytes, past the 80-byte size class", size)
	}
}

// A row edited by hand with a public id longer than the 16-bit offsets
// reach is cut short there; the name, last in the packed text, is whole.
func TestVerifiedClipsHandEditedRows(t *testing.T) {
	v := &Verifier{}
	k := cachedKey(1, model.PermReadAll)
	k.PublicID = strings.Repeat("p", 70_000)
	k.Name = strings.Repeat("n", 70_000)
	vk := v.newVerified(k)
	if len(vk.PublicID()) != math.MaxUint16 || vk.Hint() != "" || vk.Environment() != "" || vk.Name() != k.Name {
		t.Fatalf("public id %d bytes, hint %q, environment %q, name %d bytes", len(vk.PublicID()), vk.Hint(), vk.Environment(), len(vk.Name()))
	}
	k = cachedKey(2, model.PermReadAll)
	if vk := v.newVerified(k); vk.PublicID() != k.PublicID || vk.Hint() != k.Hint || vk.Environment() != k.Environment || vk.Name() != k.Name {
		t.Fatalf("strings: %q %q %q %q", vk.PublicID(), vk.Hint(), vk.Environment(), vk.Name())
	}
}
