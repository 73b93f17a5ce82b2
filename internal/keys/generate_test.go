package keys_test

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/keyward/keyward/internal/keys"
)

var (
	hexHash   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	hintShape = regexp.MustCompile(`^[a-z][a-z0-9]{0,9}_(live|test)_[0-9A-Za-z]{4}…[0-9A-Za-z]{4}$`)
	errRand   = errors.New("random source broken")
)

// TestGenerateMany generates 100,000 keys across prefixes and environments
// and checks that every one is new, parses back to what was asked for, and
// hashes and hints as documented. It also counts the secret characters: a
// modulo-biased generator would make '0'..'7' about 25% more frequent.
func TestGenerateMany(t *testing.T) {
	const n = 100_000
	prefixes := []string{keys.DefaultPrefix, "a", "acme", "z9z9z9z9z9"}
	envs := []string{"live", "test"}
	seen := make(map[string]struct{}, n)
	hashes := make(map[string]struct{}, n)
	var counts [256]int
	paddedChecks := 0
	for i := range n {
		prefix, env := prefixes[i%len(prefixes)], envs[(i/len(prefixes))%len(envs)]
		raw, err := keys.Generate(prefix, env)
		if err != nil {
			t.Fatalf("Generate(%q, %q): %v", prefix, env, err)
		}
		if _, dup := seen[raw]; dup {
			t.Fatalf("Generate returned %q twice", raw)
		}
		seen[raw] = struct{}{}

		if want := len(prefix) + len("_live_") + keys.SecretLen + keys.CheckLen; len(raw) != want {
			t.Fatalf("len(%q) = %d, want %d", raw, len(raw), want)
		}
		k, err := keys.Parse(raw)
		if err != nil {
			t.Fatalf("Parse(%q): %v", raw, err)
		}
		if k.Prefix != prefix || k.Environment != env {
			t.Fatalf("Parse(%q) = %+v, want prefix %q env %q", raw, k, prefix, env)
		}
		if len(k.Secret) != keys.SecretLen || !isBase62(k.Secret) {
			t.Fatalf("Parse(%q) secret %q is not %d base62 characters", raw, k.Secret, keys.SecretLen)
		}
		check := raw[len(raw)-keys.CheckLen:]
		if check[0] == '0' {
			paddedChecks++
		}

		h := keys.Hash(raw)
		if !hexHash.MatchString(h) {
			t.Fatalf("Hash(%q) = %q, want 64 lowercase hex characters", raw, h)
		}
		if _, dup := hashes[h]; dup {
			t.Fatalf("two keys share the hash %s", h)
		}
		hashes[h] = struct{}{}

		hint := keys.Hint(raw)
		if !hintShape.MatchString(hint) {
			t.Fatalf("Hint(%q) = %q does not have the documented shape", raw, hint)
		}
		// The hint holds the first 4 secret characters and the last 4 of the
		// key, which are check characters: nothing from the rest of the secret.
		if want := prefix + "_" + env + "_" + k.Secret[:4] + "…" + check[2:]; hint != want {
			t.Fatalf("Hint(%q) = %q, want %q", raw, hint, want)
		}
		for j := 0; j < len(k.Secret); j++ {
			counts[k.Secret[j]]++
		}
	}

	// About 21% of checksums are below 62^5 and need a leading zero.
	if paddedChecks < n/10 {
		t.Errorf("only %d of %d checks start with '0'; want about 21%%", paddedChecks, n)
	}
	expected := float64(n*keys.SecretLen) / 62
	for i := 0; i < len(alphabet); i++ {
		c := alphabet[i]
		if got := float64(counts[c]); got < expected*0.95 || got > expected*1.05 {
			t.Errorf("character %q appears %v times, want about %.0f", c, got, expected)
		}
	}
}

func TestGenerateInvalidArguments(t *testing.T) {
	tests := []struct{ prefix, env string }{
		{"", "live"},
		{"KW", "live"},
		{"1kw", "live"},
		{"acme2024xyz", "live"},
		{"k_w", "test"},
		{"kw", ""},
		{"kw", "prod"},
		{"kw", "LIVE"},
	}
	for _, tt := range tests {
		if raw, err := keys.Generate(tt.prefix, tt.env); err == nil {
			t.Errorf("Generate(%q, %q) = %q, want an error", tt.prefix, tt.env, raw)
		}
	}
}

func TestGenerateRandFailure(t *testing.T) {
	raw, err := keys.GenerateFrom(iotest.ErrReader(errRand), "kw", "live")
	if !errors.Is(err, errRand) {
		t.Fatalf("GenerateFrom(failing reader) = %q, %v; want an error wrapping %v", raw, err, errRand)
	}
	if raw != "" {
		t.Errorf("GenerateFrom(failing reader) returned %q along with the error", raw)
	}
	// Failing part way, after some good bytes, must not return a key either.
	r := io.MultiReader(bytes.NewReader(make([]byte, 10)), iotest.ErrReader(errRand))
	if raw, err := keys.GenerateFrom(r, "kw", "live"); err == nil {
		t.Errorf("GenerateFrom(short reader) = %q, want an error", raw)
	}
}

func TestGenerateConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := make(map[string]bool)
	for range 8 {
		wg.Go(func() {
			for range 500 {
				raw, err := keys.Generate("kw", "test")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[raw] {
					t.Errorf("duplicate key %q", raw)
				}
				seen[raw] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// cycleReader yields the byte values 0, 1, …, 255, 0, 1, … forever.
type cycleReader struct{ next byte }

func (r *cycleReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// TestFillBase62Uniform feeds every byte value exactly once per 256 bytes:
// an unbiased mapping must then give each of the 62 characters equally often.
func TestFillBase62Uniform(t *testing.T) {
	for _, r := range map[string]io.Reader{
		"whole reads":   &cycleReader{},
		"one byte each": iotest.OneByteReader(&cycleReader{}),
	} {
		dst := make([]byte, 62*4*10)
		if err := keys.FillBase62(r, dst); err != nil {
			t.Fatal(err)
		}
		counts := make(map[byte]int)
		for _, c := range dst {
			counts[c]++
		}
		if len(counts) != 62 {
			t.Fatalf("got %d distinct characters, want 62: %q", len(counts), dst)
		}
		for c, k := range counts {
			if !strings.ContainsRune(alphabet, rune(c)) || k != 40 {
				t.Errorf("character %q appears %d times, want 40", c, k)
			}
		}
	}
}

// TestFillBase62Rejects checks that bytes whose low 6 bits are 62 or 63 are
// skipped rather than folded onto other characters, and that more bytes are
// read to make up for them.
func TestFillBase62Rejects(t *testing.T) {
	rejected := bytes.Repeat([]byte{62, 63, 126, 127, 190, 191, 254, 255}, 20)
	r := io.MultiReader(bytes.NewReader(rejected), bytes.NewReader([]byte{0, 61, 64, 125, 10, 36}))
	dst := make([]byte, 6)
	if err := keys.FillBase62(r, dst); err != nil {
		t.Fatal(err)
	}
	if got, want := string(dst), "0z0zAa"; got != want {
		t.Errorf("FillBase62 = %q, want %q", got, want)
	}
}

func TestRandomString(t *testing.T) {
	for _, n := range []int{0, 1, 16, 24, 1000} {
		s, err := keys.RandomString(n)
		if err != nil {
			t.Fatalf("RandomString(%d): %v", n, err)
		}
		if len(s) != n || !isBase62(s) {
			t.Errorf("RandomString(%d) = %q, want %d base62 characters", n, s, n)
		}
	}
	a, _ := keys.RandomString(24)
	b, _ := keys.RandomString(24)
	if a == b {
		t.Errorf("RandomString(24) returned %q twice", a)
	}
	if s, err := keys.RandomString(-1); err == nil {
		t.Errorf("RandomString(-1) = %q, want an error", s)
	}
	if s, err := keys.RandomStringFrom(iotest.ErrReader(errRand), 8); !errors.Is(err, errRand) || s != "" {
		t.Errorf("RandomStringFrom(failing reader) = %q, %v; want an error wrapping %v", s, err, errRand)
	}
}

func TestNewPublicID(t *testing.T) {
	idShape := regexp.MustCompile(`^key_[0-9A-Za-z]{24}$`)
	seen := make(map[string]bool)
	for range 1000 {
		id := keys.NewPublicID("key")
		if !idShape.MatchString(id) {
			t.Fatalf("NewPublicID(\"key\") = %q, want key_ and 24 base62 characters", id)
		}
		if seen[id] {
			t.Fatalf("NewPublicID returned %q twice", id)
		}
		seen[id] = true
	}
	if id := keys.NewPublicID("team"); !strings.HasPrefix(id, "team_") || len(id) != len("team_")+24 {
		t.Errorf("NewPublicID(\"team\") = %q", id)
	}
}

func TestNewPublicIDPanicsWhenRandFails(t *testing.T) {
	defer func() {
		v := recover()
		err, ok := v.(error)
		if !ok || !errors.Is(err, errRand) {
			t.Errorf("recovered %v, want a panic with an error wrapping %v", v, errRand)
		}
	}()
	id := keys.NewPublicIDFrom(iotest.ErrReader(errRand), "key")
	t.Errorf("NewPublicIDFrom(failing reader) = %q, want a panic", id)
}
