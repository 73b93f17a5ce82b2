package verify_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/internal/verify"
)

// BenchmarkVerifyCached measures a cache hit: parse, hash, lookup, expiry.
func BenchmarkVerifyCached(b *testing.B) {
	f := newFixture(b, testdb.Postgres(b))
	v := verify.New(f.st, verify.Options{TTL: time.Hour})
	_, raw := f.key(b, model.PermRestricted, []string{"invoices:read"}, nil)
	ctx := context.Background()
	if _, err := v.Check(ctx, raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k, err := v.Check(ctx, raw)
			if err != nil || !k.Allows("invoices", model.AccessRead) {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyUncached measures a PostgreSQL lookup per check.
func BenchmarkVerifyUncached(b *testing.B) {
	f := newFixture(b, testdb.Postgres(b))
	v := verify.New(f.st, verify.Options{TTL: 0})
	_, raw := f.key(b, model.PermReadAll, nil, nil)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Check(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRecord measures recording one use.
func BenchmarkRecord(b *testing.B) {
	f := newFixture(b, testdb.Postgres(b))
	rec := verify.NewRecorder(f.st, slog.New(slog.DiscardHandler))
	at := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec.Record(1, "192.0.2.1", at)
		}
	})
}
