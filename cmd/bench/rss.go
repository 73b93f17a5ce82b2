package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/verify"
	"github.com/keyward/keyward/web"
)

// The memory figure comes from a child process (this binary again, with
// BENCH_RSS_CHILD=1), so that nothing of the benchmark itself (the seeding,
// the load generators' latency samples, the other instances) counts: the
// child is a keyward instance (store, verifier, recorder, web server) that
// fills its key cache through the verifier, then reports the peak resident
// set size (VmHWM) of its whole process.

const rssChildEnv = "BENCH_RSS_CHILD"

// memResult is the child's report.
type memResult struct {
	Cached     int     `json:"cached"`
	HWMBefore  float64 `json:"peak_rss_before_mb"`
	HWM        float64 `json:"peak_rss_mb"`
	RSS        float64 `json:"rss_after_gc_mb"`
	HeapMB     float64 `json:"heap_in_use_mb"`
	FillSecond float64 `json:"fill_seconds"`
}

// measureMemory runs the child on the bench database with n keys.
func measureMemory(ctx context.Context, db *database, g keyGen, n int) (memResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return memResult{}, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), rssChildEnv+"=1",
		"BENCH_RSS_DSN="+db.as("kwbench-rss"), "BENCH_RSS_SEED="+hex.EncodeToString(g.seed[:]), "BENCH_RSS_KEYS="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return memResult{}, fmt.Errorf("memory child: %w", err)
	}
	var m memResult
	if err := json.Unmarshal(out, &m); err != nil {
		return memResult{}, fmt.Errorf("memory child said %q: %w", out, err)
	}
	return m, nil
}

// rssChild is the child's main.
func rssChild() error {
	ctx := context.Background()
	seed, err := hex.DecodeString(os.Getenv("BENCH_RSS_SEED"))
	if err != nil || len(seed) != 32 {
		return fmt.Errorf("BENCH_RSS_SEED: want 64 hex digits")
	}
	var g keyGen
	copy(g.seed[:], seed)
	n, err := strconv.Atoi(os.Getenv("BENCH_RSS_KEYS"))
	if err != nil || n <= 0 {
		return fmt.Errorf("BENCH_RSS_KEYS: want a count")
	}
	dsn := os.Getenv("BENCH_RSS_DSN")
	log := slog.New(slog.NewJSONHandler(warnWriter{os.Stderr}, nil))
	st, err := store.Open(ctx, dsn, store.Options{Logger: log, MaxOpenConns: 8})
	if err != nil {
		return err
	}
	defer st.Close()
	cfg := &config.Config{DatabaseURL: dsn, DataDir: os.TempDir(), Addr: "127.0.0.1:0",
		SessionSecret: []byte("bench-session-secret-0123456789abcdef"), KeyPrefix: "kw",
		LastUsedFlush: 10 * time.Second, CacheTTL: 10 * time.Minute, LogFormat: "json"}
	// The bound is a little above n so that all n stay cached: the cache
	// evicts per shard, and 64 shards do not fill evenly.
	v := verify.New(st, verify.Options{TTL: cfg.CacheTTL, MaxEntries: n + n/4})
	rec := verify.NewRecorder(st, log)
	srv, err := web.New(cfg, st, web.Options{Logger: log, Verifier: v, Recorder: rec})
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	runtime.GC()
	before := procStatus("VmHWM")

	start := time.Now()
	const workers = 8
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				// Revoked and expired keys are cached too (and refused).
				if _, err := v.Check(ctx, g.raw(i)); err != nil && err != verify.ErrInvalid {
					errs[w] = fmt.Errorf("check key %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	fill := time.Since(start)
	runtime.GC()
	if p := os.Getenv("BENCH_MEMPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			f.Close()
			return err
		}
		f.Close()
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	m := memResult{
		Cached:     v.Cached(),
		HWMBefore:  before,
		HWM:        procStatus("VmHWM"),
		RSS:        procStatus("VmRSS"),
		HeapMB:     float64(mem.HeapInuse) / (1 << 20),
		FillSecond: fill.Seconds(),
	}
	return json.NewEncoder(os.Stdout).Encode(m)
}

// procStatus reads a size field of /proc/self/status in MB (0 where there
// is no /proc).
func procStatus(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	return statusField(f, field)
}

func statusField(r io.Reader, field string) float64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0
		}
		return kb / 1024
	}
	return 0
}
