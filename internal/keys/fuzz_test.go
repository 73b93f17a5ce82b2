package keys_test

import (
	"errors"
	"hash/crc32"
	"testing"

	"github.com/keyward/keyward/internal/keys"
)

// FuzzParse checks Parse against the format's rules on arbitrary input:
// no panics; only the two documented errors; whatever is accepted is the
// canonical serialization of its parts; an ErrChecksum input is well formed
// apart from its check; and every key Generate makes parses back.
// Seeds live in testdata/fuzz/FuzzParse as well as below.
func FuzzParse(f *testing.F) {
	valid := mustKey(f, "kw", "live", secret)
	for _, s := range []string{
		valid,
		mustKey(f, "acme2024xy", "test", secret),
		mustKey(f, "a", "test", "00000000000000000000000000000000"),
		valid[:len(valid)-1] + "0",
		valid + "\r\n",
		"\u202e" + valid,
		"kw_liv\u0435_" + secret + "000000",
		"",
		"____________________________________________",
		"kw",
		"acme",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		k, err := keys.Parse(raw)
		hint := keys.Hint(raw)
		if h := keys.Hash(raw); len(h) != 64 {
			t.Fatalf("Hash(%q) = %q, want 64 characters", raw, h)
		}

		// What the key would be with a correct check, if raw is long enough.
		var fixed string
		if len(raw) >= keys.CheckLen {
			fixed = withCheck(raw[:len(raw)-keys.CheckLen])
		}

		switch {
		case err == nil:
			if !keys.ValidPrefix(k.Prefix) || !keys.ValidEnvironment(k.Environment) ||
				len(k.Secret) != keys.SecretLen || !isBase62(k.Secret) {
				t.Fatalf("Parse(%q) accepted invalid parts %+v", raw, k)
			}
			if again := withCheck(k.Prefix + "_" + k.Environment + "_" + k.Secret); again != raw {
				t.Fatalf("Parse(%q) = %+v, which serializes to %q", raw, k, again)
			}
			if len(raw) > keys.MaxLen {
				t.Fatalf("Parse accepted %d bytes, more than MaxLen", len(raw))
			}
			if want := k.Prefix + "_" + k.Environment + "_" + k.Secret[:4] + "…" + raw[len(raw)-4:]; hint != want {
				t.Fatalf("Hint(%q) = %q, want %q", raw, hint, want)
			}
		case errors.Is(err, keys.ErrChecksum):
			if _, err := keys.Parse(fixed); err != nil {
				t.Fatalf("Parse(%q) reported a checksum error, but with the right check it fails with %v", raw, err)
			}
		case errors.Is(err, keys.ErrMalformed):
			// A malformed key stays malformed with the right check, unless
			// the only fault was a character outside the alphabet in the check.
			if fixed != "" {
				if _, err := keys.Parse(fixed); err == nil && isBase62(raw[len(raw)-keys.CheckLen:]) {
					t.Fatalf("Parse(%q) reported malformed, but only its check was wrong", raw)
				}
			}
		default:
			t.Fatalf("Parse(%q) returned an undocumented error %v", raw, err)
		}
		if err != nil && hint != keys.InvalidHint {
			t.Fatalf("Hint(%q) = %q for input that does not parse", raw, hint)
		}

		prefix, env := keys.DefaultPrefix, "live"
		if len(raw)%2 == 1 {
			env = "test"
		}
		if keys.ValidPrefix(raw) {
			prefix = raw
		} else if gen, err := keys.Generate(raw, env); err == nil {
			t.Fatalf("Generate(%q, %q) = %q with an invalid prefix", raw, env, gen)
		}
		gen, err := keys.Generate(prefix, env)
		if err != nil {
			t.Fatalf("Generate(%q, %q): %v", prefix, env, err)
		}
		if g, err := keys.Parse(gen); err != nil || g.Prefix != prefix || g.Environment != env {
			t.Fatalf("Parse(Generate(%q, %q) = %q) = %+v, %v", prefix, env, gen, g, err)
		}
		if crc32.ChecksumIEEE([]byte(gen[:len(gen)-keys.CheckLen])) != keys.Checksum(gen[:len(gen)-keys.CheckLen]) {
			t.Fatalf("package checksum disagrees with hash/crc32 on %q", gen)
		}
	})
}
