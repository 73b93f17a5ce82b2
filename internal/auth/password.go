// Package auth holds what sign-in needs beyond the database: password hashing
// (argon2id, PHC-style encoded), generated passwords, and a server-side
// gorilla/sessions store whose rows live in the database.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen int
	KeyLen  uint32
}

// DefaultParams follow the current OWASP recommendation for argon2id
// (19 MiB, 2 passes, 1 lane).
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// HashPassword returns the argon2id hash of pw encoded as
// $argon2id$v=19$m=…,t=…,p=…$salt$hash (unpadded standard base64).
func HashPassword(pw string) (string, error) {
	return hashWith(pw, DefaultParams)
}

func hashWith(pw string, p Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the encoded hash. A malformed hash
// never matches. The comparison is constant-time.
func CheckPassword(encoded, pw string) bool {
	p, salt, key, ok := decodeHash(encoded)
	if !ok || len(pw) > MaxPasswordLen {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key))) // #nosec G115 -- a decoded hash from one row, far below 2^32 bytes
	return subtle.ConstantTimeCompare(got, key) == 1
}

func decodeHash(encoded string) (Params, []byte, []byte, bool) {
	var p Params
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, false
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, false
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, false
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, false
		}
	}
	// Refuse absurd costs from a tampered row rather than exhaust memory.
	if p.Memory == 0 || p.Memory > 1<<21 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return p, nil, nil, false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(salt) > 64 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, false
	}
	return p, salt, key, true
}

var dummy struct {
	once sync.Once
	hash string
}

// CheckDummy spends the same time as CheckPassword on a real hash and returns
// false. Sign-in calls it for unknown e-mail addresses so that a wrong e-mail
// and a wrong password take about as long.
func CheckDummy(pw string) bool {
	dummy.once.Do(func() {
		dummy.hash, _ = HashPassword(GeneratePassword())
	})
	CheckPassword(dummy.hash, pw)
	return false
}

// passwordAlphabet leaves out look-alike characters (0/O, 1/l/I) so that a
// generated password can be read out or typed.
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratePassword returns a random 20-character password (about 116 bits)
// from crypto/rand, in groups of five for reading: "abcde-fghij-…".
func GeneratePassword() string {
	const n = 20
	var b strings.Builder
	buf := make([]byte, 1)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand.Read does not fail on supported platforms
		}
		// Rejection sampling keeps every character equally likely.
		if int(buf[0]) >= 256-256%len(passwordAlphabet) {
			continue
		}
		if i > 0 && i%5 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(passwordAlphabet[int(buf[0])%len(passwordAlphabet)])
		i++
	}
	return b.String()
}
