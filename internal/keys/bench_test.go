package keys_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/keys"
)

func BenchmarkParse(b *testing.B) {
	valid := mustKey(b, "kw", "live", secret)
	inputs := []struct{ name, raw string }{
		{"valid", valid},
		{"checksum", valid[:len(valid)-1] + "x"},
		{"malformed", valid[:20] + "\x00" + valid[21:]},
		{"overlong", strings.Repeat("a", 10<<10)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = keys.Parse(in.raw)
			}
		})
	}
}

func BenchmarkHash(b *testing.B) {
	raw := mustKey(b, "kw", "live", secret)
	b.ReportAllocs()
	for b.Loop() {
		_ = keys.Hash(raw)
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := keys.Generate(keys.DefaultPrefix, "live"); err != nil {
			b.Fatal(err)
		}
	}
}
