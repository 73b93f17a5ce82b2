package verify_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/internal/verify"
	"github.com/keyward/keyward/internal/verify/verifytest"
)

func lastUsed(t *testing.T, f *fixture, k model.APIKey) (*time.Time, string) {
	t.Helper()
	got, err := f.st.FindKeyByID(context.Background(), f.team.ID, k.PublicID)
	if err != nil {
		t.Fatal(err)
	}
	return got.LastUsedAt, got.LastUsedIP
}

func TestRecorderBatchesAndRetries(t *testing.T) {
	proxy, dsn := verifytest.Start(t, testdb.Postgres(t))
	f := newFixture(t, dsn)
	ctx := context.Background()
	rec := verify.NewRecorder(f.st, slog.New(slog.DiscardHandler))
	var ks []model.APIKey
	for range 5 {
		k, _ := f.key(t, model.PermReadAll, nil, nil)
		ks = append(ks, k)
	}
	base := f.clock.Now()
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for i := range 100 {
				rec.Record(ks[(g+i)%len(ks)].ID, "192.0.2.7", base.Add(time.Duration(g*100+i)*time.Millisecond))
			}
		})
	}
	wg.Wait()
	rec.RecordRefused(ks[0].ID, "192.0.2.66", base, model.RefusedRevoked)

	proxy.Reset()
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := proxy.Count("UPDATE"); n != 1 {
		t.Fatalf("1,000 uses of 5 keys flushed with %d UPDATE statements, want 1: %q", n, proxy.Statements())
	}
	if n := proxy.Count("INSERT"); n != 1 {
		t.Fatalf("flush ran %d INSERT statements, want 1", n)
	}
	if n := rec.Written(); n != 1 {
		t.Fatalf("%d batches counted as written after one flush, want 1", n)
	}
	for _, k := range ks {
		at, ip := lastUsed(t, f, k)
		if at == nil || ip != "192.0.2.7" {
			t.Fatalf("key %s: last used %v from %q after the flush", k.PublicID, at, ip)
		}
	}
	if at, _ := lastUsed(t, f, ks[(9+99)%5]); !at.Equal(base.Add(999 * time.Millisecond)) {
		t.Fatalf("latest use recorded as %v, want %v", at, base.Add(999*time.Millisecond))
	}
	day := base.Truncate(24 * time.Hour)
	var total, refused int64
	for _, k := range ks {
		days, err := f.st.FindKeyUsage(ctx, k.ID, day, day)
		if err != nil || len(days) != 1 {
			t.Fatalf("usage of %s: %+v %v", k.PublicID, days, err)
		}
		total += days[0].Requests
		refused += days[0].Refused
	}
	if total != 1000 || refused != 1 {
		t.Fatalf("usage counts %d requests and %d refused, want 1000 and 1", total, refused)
	}

	// Nothing buffered: a flush writes nothing.
	proxy.Reset()
	if err := rec.Flush(ctx); err != nil || len(proxy.Statements()) != 0 || rec.Written() != 1 {
		t.Fatalf("empty flush: %v, statements %q, %d batches written", err, proxy.Statements(), rec.Written())
	}

	// A failed flush keeps its data, merged with later uses, for the next.
	rec.Record(ks[0].ID, "192.0.2.8", base.Add(time.Hour))
	proxy.SetDown(true)
	if err := rec.Flush(ctx); err == nil || rec.Written() != 1 {
		t.Fatalf("flush with the database down: %v, %d batches written, want an error and 1", err, rec.Written())
	}
	rec.Record(ks[0].ID, "192.0.2.9", base.Add(30*time.Minute))
	proxy.SetDown(false)
	waitFor(t, "a flush after the database returns", func() bool { return rec.Flush(ctx) == nil })
	if n := rec.Written(); n != 2 {
		t.Fatalf("%d batches written after the retry, want 2", n)
	}
	if at, ip := lastUsed(t, f, ks[0]); !at.Equal(base.Add(time.Hour)) || ip != "192.0.2.8" {
		t.Fatalf("after retry: last used %v from %q, want %v from 192.0.2.8", at, ip, base.Add(time.Hour))
	}
	if days, _ := f.st.FindKeyUsage(ctx, ks[0].ID, day, day); days[0].Requests != 202 {
		t.Fatalf("after retry key 0 has %d requests, want 202", days[0].Requests)
	}
}

func TestRecorderBackgroundAndClose(t *testing.T) {
	f := newFixture(t, testdb.Postgres(t))
	rec := verify.NewRecorder(f.st, slog.New(slog.DiscardHandler))
	k, _ := f.key(t, model.PermReadAll, nil, nil)
	rec.Start(50 * time.Millisecond)
	rec.Record(k.ID, "192.0.2.1", f.clock.Now())
	waitFor(t, "the background flush", func() bool { at, _ := lastUsed(t, f, k); return at != nil })

	// Close flushes what is left, at once.
	later := f.clock.Now().Add(time.Minute)
	rec.Record(k.ID, "192.0.2.2", later)
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if at, ip := lastUsed(t, f, k); !at.Equal(later) || ip != "192.0.2.2" {
		t.Fatalf("after Close: last used %v from %q", at, ip)
	}
	if err := rec.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
