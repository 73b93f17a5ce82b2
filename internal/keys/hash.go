package keys

import (
	"crypto/sha256"
	"encoding/hex"
)

// invalidHint is what Hint shows for input that is not a key. It never
// echoes the input, which may be a secret pasted in the wrong place.
const invalidHint = "(invalid key)"

// Hash returns the lowercase hex SHA-256 of the whole raw key (64
// characters). Keys are stored and looked up by this hash only.
func Hash(raw string) string {
	// A plain []byte(raw) conversion goes to the heap for anything longer
	// than 32 bytes; a key fits in a stack buffer.
	var buf [MaxLen]byte
	var sum [sha256.Size]byte
	if len(raw) <= len(buf) {
		sum = sha256.Sum256(append(buf[:0], raw...))
	} else {
		sum = sha256.Sum256([]byte(raw))
	}
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// Hint returns the short form of a key shown in lists, so two keys are easy
// to tell apart without revealing them: prefix, environment, the first 4
// characters of the secret, "…" and the last 4 characters of the key, as in
// "kw_live_4eC3…kZ3f". For input that does not parse it returns the fixed
// placeholder "(invalid key)", never any part of the input.
func Hint(raw string) string {
	k, err := Parse(raw)
	if err != nil {
		return invalidHint
	}
	return k.Prefix + "_" + k.Environment + "_" + k.Secret[:4] + "…" + raw[len(raw)-4:]
}
