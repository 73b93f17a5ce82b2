package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/keyward/keyward/internal/keys"
	"github.com/keyward/keyward/internal/model"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// keyGen derives every seeded key from a per-run seed and the key's index,
// so that the raw value of any key can be rebuilt later (by this process or
// the memory child) without keeping a million of them around. Raw keys have
// the real format, and the database holds their real SHA-256.
type keyGen struct {
	seed [32]byte
}

func (g keyGen) digest(i int, purpose byte) [32]byte {
	var b [41]byte
	copy(b[:], g.seed[:])
	binary.LittleEndian.PutUint64(b[32:], uint64(i))
	b[40] = purpose
	return sha256.Sum256(b[:])
}

// env is the environment of key i: one key in ten is a test key.
func env(i int) string {
	if i%10 == 3 {
		return model.EnvTest
	}
	return model.EnvLive
}

// raw returns key i's raw value: kw_{env}_{32 base62}{6 base62 CRC-32}.
func (g keyGen) raw(i int) string {
	d := g.digest(i, 'k')
	b := make([]byte, 0, 8+keys.SecretLen+keys.CheckLen)
	b = append(b, keys.DefaultPrefix...)
	b = append(b, '_')
	b = append(b, env(i)...)
	b = append(b, '_')
	for _, c := range d {
		b = append(b, base62[c%62])
	}
	v := crc32.ChecksumIEEE(b)
	var check [keys.CheckLen]byte
	for j := keys.CheckLen - 1; j >= 0; j-- {
		check[j] = base62[v%62]
		v /= 62
	}
	return string(append(b, check[:]...))
}

// publicID returns key i's public id, key_ and 24 base62 characters.
func (g keyGen) publicID(i int) string {
	d := g.digest(i, 'p')
	b := make([]byte, 0, 28)
	b = append(b, "key_"...)
	for _, c := range d[:24] {
		b = append(b, base62[c%62])
	}
	return string(b)
}

// check fails unless the generated keys parse as real keys.
func (g keyGen) check() error {
	for _, i := range []int{0, 1, 3, 999_999} {
		if _, err := keys.Parse(g.raw(i)); err != nil {
			return fmt.Errorf("generated key %d does not parse: %w", i, err)
		}
	}
	return nil
}

// Key i's shape. The pattern repeats every 20 keys so that every team has a
// mix of states: 1 in 20 revoked, 1 in 20 expired, 2 in 20 expiring later,
// the rest without expiry. Index 0 of the bench team is its write_all admin key.
const (
	revokedSlot = 7
	expiredSlot = 13
)

func keyActive(i int) bool { return i%20 != revokedSlot && i%20 != expiredSlot }

// activeKeys returns the indexes of the first n active keys at from or
// after it (below to), and the index after the last one.
func activeKeys(from, to, n int) (idx []int, next int) {
	for next = from; next < to && len(idx) < n; next++ {
		if keyActive(next) {
			idx = append(idx, next)
		}
	}
	return idx, next
}

// raws returns the raw keys at idx.
func (g keyGen) raws(idx []int) []string {
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = g.raw(k)
	}
	return out
}

// publicIDs returns the public ids of the keys at idx.
func (g keyGen) publicIDs(idx []int) []string {
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = g.publicID(k)
	}
	return out
}

// loadAndRestricted are the bench team's load keys (the first LoadKeys
// active keys after the admin key) and, after them, as many keys again
// that the bench restricts (restricted.go).
func loadAndRestricted(set settings) (load, restricted []int) {
	load, next := activeKeys(1, set.TeamKeys, set.LoadKeys)
	restricted, _ = activeKeys(next, set.TeamKeys, set.LoadKeys)
	return load, restricted
}

func permission(i int) (model.PermissionSet, string) {
	switch {
	case i == 0 || i%3 == 1:
		return model.PermWriteAll, "[]"
	case i%3 == 0:
		return model.PermReadAll, "[]"
	}
	return model.PermRestricted, `["api_keys:read","members:read"]`
}

var (
	services = []string{"billing", "checkout", "search", "mobile", "reporting", "ingest", "webhooks", "analytics", "crm", "backup"}
	purposes = []string{"production", "staging", "ci", "partner", "cron", "local", "sandbox"}
)

func keyName(i int) string {
	return fmt.Sprintf("%s %s %06d", services[i%len(services)], purposes[(i/len(services))%len(purposes)], i)
}

// times returns key i's timestamps for a table of n rows in which it is row
// r: rows are spread over two years, oldest first.
func times(i, r, n int, now time.Time) (created time.Time, expires, revoked, lastUsed *time.Time) {
	span := 2 * 365 * 24 * time.Hour
	created = now.Add(-span + time.Duration(float64(span)*float64(r)/float64(n))).UTC().Truncate(time.Microsecond)
	switch i % 20 {
	case revokedSlot:
		t := created.Add(24 * time.Hour)
		if t.After(now) {
			t = now.UTC().Truncate(time.Microsecond)
		}
		revoked = &t
	case expiredSlot:
		t := now.Add(-time.Duration(1+i%30) * 24 * time.Hour).UTC().Truncate(time.Microsecond)
		if t.Before(created) {
			t = created.Add(time.Hour)
		}
		expires = &t
	case 3, 11:
		t := now.Add(time.Duration(1+i%90) * 24 * time.Hour).UTC().Truncate(time.Microsecond)
		expires = &t
	}
	if i%10 < 7 {
		t := created.Add(time.Duration(i%500) * time.Hour)
		if t.After(now) {
			t = now.Add(-time.Minute)
		}
		t = t.UTC().Truncate(time.Microsecond)
		lastUsed = &t
	}
	return created, expires, revoked, lastUsed
}
