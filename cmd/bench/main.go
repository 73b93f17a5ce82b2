// Command bench measures keyward against the performance targets of
// DESIGN.md, on a real PostgreSQL, in one run: every throughput figure is a
// ratio to a bare handler measured in the same rounds, so that it holds on a
// busy machine.
//
//	make bench                  # 1,000,000 keys, 10,000 in the measured team
//	BENCH_QUICK=1 make bench    # 100,000 keys, 2,000 in the team; under two minutes
//
// It needs TEST_DATABASE_URL (make bench finds or starts a PostgreSQL and
// sets it) and creates, then drops, a database of its own there. It starts
// keyward instances in this process (web.New and store.Open, served with
// net/http on loopback ports), each with its own connection pool, verifier,
// last-used recorder and key change listener, plus a bare baseline route
// that exists only in this program. See the README's Performance section
// for what each figure means.
//
// Environment: BENCH_QUICK=1 for the short run; BENCH_OUT names the JSON
// results file (default bench-results.json); BENCH_CPUPROFILE names a file
// for a CPU profile of an extra, unmeasured run of cached GET /v1/whoami,
// and BENCH_MEMPROFILE one for a heap profile of the instance holding the
// cached keys. BENCH_ONLY=list measures the key list alone (after the same
// seeding, with no load before it), BENCH_ONLY=flood the flood alone (once
// per round), and BENCH_KEEP=1 leaves the database in
// place at the end (its name is printed) for EXPLAIN.
//
// Progress goes to stderr; the results table to stdout, ending with one line
// of key=value pairs for scripts.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sort"
	"syscall"
	"time"

	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testdb"
	"github.com/keyward/keyward/internal/verify"
)

// settings are the sizes and durations of a run.
type settings struct {
	Mode        string        `json:"mode"`
	TotalKeys   int           `json:"total_keys"`
	TeamKeys    int           `json:"team_keys"`
	LoadKeys    int           `json:"load_keys"`
	Conns       int           `json:"connections"`
	Rounds      int           `json:"rounds"`
	Cycles      int           `json:"cycles"`
	Slice       time.Duration `json:"slice_ns"`
	Warm        time.Duration `json:"warm_ns"`
	Flush       time.Duration `json:"flush_interval_ns"`
	ListSamples int           `json:"list_samples"`
	Revocations int           `json:"revocations"`
	CachedKeys  int           `json:"cached_keys"`
	// LeakPayloads is the number of 1,000-match secret-scanning payloads timed.
	LeakPayloads int `json:"leak_payloads"`
	Webhooks     int `json:"webhooks"`
	Creates      int `json:"event_cost_creates"`
}

func settingsFor(quick bool) settings {
	s := settings{
		Mode: "full", TotalKeys: 1_000_000, TeamKeys: 10_000, LoadKeys: 1_000, Conns: 32,
		Rounds: 3, Cycles: 8, Slice: 500 * time.Millisecond, Warm: 2 * time.Second, Flush: 500 * time.Millisecond,
		ListSamples: 200, Revocations: 100, CachedKeys: 100_000, LeakPayloads: 5, Webhooks: 5000, Creates: 400,
	}
	if quick {
		s.Mode, s.TotalKeys, s.TeamKeys, s.LoadKeys = "quick", 100_000, 2_000, 500
		s.Cycles, s.Warm, s.ListSamples, s.LeakPayloads = 4, time.Second, 50, 3
		s.Webhooks, s.Creates = 2000, 150
	}
	return s
}

func main() {
	if os.Getenv(rssChildEnv) == "1" {
		if err := rssChild(); err != nil {
			fmt.Fprintln(os.Stderr, "bench memory child:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func note(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func run(ctx context.Context) (err error) {
	base := os.Getenv(testdb.EnvURL)
	if base == "" {
		return fmt.Errorf("%s is not set: run it as `make bench`, which finds or starts a PostgreSQL.\n%s", testdb.EnvURL, testdb.HowTo)
	}
	set := settingsFor(os.Getenv("BENCH_QUICK") == "1")
	out := os.Getenv("BENCH_OUT")
	if out == "" {
		out = "bench-results.json"
	}
	var g keyGen
	_, _ = rand.Read(g.seed[:])
	if err := g.check(); err != nil {
		return err
	}
	res := &results{Settings: set, Machine: machineInfo()}
	began := time.Now()

	db, err := createDatabase(ctx, base)
	if err != nil {
		return err
	}
	defer func() {
		if os.Getenv("BENCH_KEEP") == "1" {
			note("database %s kept", db.name)
			return
		}
		if derr := db.drop(); derr != nil {
			note("could not drop database %s: %v", db.name, derr)
		}
	}()
	note("database %s", db.name)
	if err := migrate(ctx, db); err != nil {
		return err
	}
	res.Machine.Postgres = postgresVersion(ctx, db.dsn)

	log := slog.New(slog.NewJSONHandler(warnWriter{os.Stderr}, nil))
	secret := randomHex(24)
	var instances []*instance
	defer func() {
		for _, in := range instances {
			in.close()
		}
	}()
	start := func(o instanceOptions) (*instance, error) {
		in, err := startInstance(ctx, db, secret, o, log)
		if err == nil {
			instances = append(instances, in)
		}
		return in, err
	}

	// Instance A: the one measured, with the cache, the recorder flushing
	// every set.Flush and the listener; its dashboard is also served on a
	// second port that times each request in the server.
	signer, scanKeys, err := newScanSigner()
	if err != nil {
		return err
	}
	a, err := start(instanceOptions{app: "kwbench-a", cacheTTL: 30 * time.Second, flush: set.Flush, listen: true, timed: true, scanKeys: scanKeys})
	if err != nil {
		return err
	}
	password := "bench-" + randomHex(12)
	owner, err := setUp(ctx, a.timedURL, "owner@bench.example.com", password, "Bench team")
	if err != nil {
		return fmt.Errorf("setup through /setup: %w", err)
	}
	team, err := a.st.FindTeamByName(ctx, "Bench team")
	if err != nil {
		return err
	}

	lay := newLayout(set.TotalKeys, set.TeamKeys)
	note("seeding %s keys, %s in the bench team", thousands(int64(set.TotalKeys)), thousands(int64(set.TeamKeys)))
	seedTook, err := seedKeys(ctx, db.dsn, g, lay, team.ID, time.Now())
	if err != nil {
		return err
	}
	vacuumTook, err := prepare(ctx, db.dsn)
	if err != nil {
		return err
	}
	res.Seed = seedResult{Keys: set.TotalKeys, TeamKeys: set.TeamKeys, Teams: lay.otherTeams() + 1,
		Seconds: seedTook.Seconds(), RowsPerSecond: float64(set.TotalKeys) / seedTook.Seconds(), VacuumSeconds: vacuumTook.Seconds()}
	note("seeded in %.1fs (%s rows/s), VACUUM ANALYZE %.1fs", seedTook.Seconds(), thousands(int64(res.Seed.RowsPerSecond)), vacuumTook.Seconds())
	switch os.Getenv("BENCH_ONLY") {
	case "list":
		return listOnly(ctx, db, g, set, owner, a, team.ID)
	case "flood":
		return floodOnly(ctx, g, set, a)
	}
	cnt, err := installCounting(ctx, db.dsn)
	if err != nil {
		return err
	}
	defer cnt.close()

	// Instance U: the cache off, every check reads PostgreSQL. Instance L:
	// like A, but its recorder never flushes (it buffers; see recorder_cost).
	u, err := start(instanceOptions{app: "kwbench-u", cacheTTL: 0, flush: set.Flush})
	if err != nil {
		return err
	}
	l, err := start(instanceOptions{app: "kwbench-buffered", cacheTTL: 30 * time.Second, listen: true})
	if err != nil {
		return err
	}

	// The keys: the team's admin key (write_all), load keys from the start
	// of the team's range and revocation victims from its end, all active.
	admin := g.raw(0)
	loadIdx, restrictedIdx := loadAndRestricted(set)
	loadKeys, restrictedKeys, restrictedIDs := g.raws(loadIdx), g.raws(restrictedIdx), g.publicIDs(restrictedIdx)
	var victimIDs, victims []string
	if err := restrictKeys(ctx, db.dsn, restrictedIDs); err != nil {
		return fmt.Errorf("restricting keys: %w", err)
	}
	redisURL, stopRedis, err := benchRedis(ctx)
	if err != nil {
		return err
	}
	defer stopRedis()
	// Instance R: like A, with rate limits shared through Redis. Its keys
	// are cached after the warm-up, so a small pool keeps the bench within
	// PostgreSQL's connection limit beside the other instances.
	rInst, err := start(instanceOptions{app: "kwbench-redis", cacheTTL: 30 * time.Second, flush: set.Flush, listen: true, redis: redisURL, maxConns: 4})
	if err != nil {
		return err
	}
	for i := set.TeamKeys - 1; i > 0 && len(victims) < 2*set.Revocations; i-- {
		if keyActive(i) {
			victims, victimIDs = append(victims, g.raw(i)), append(victimIDs, g.publicID(i))
		}
	}

	ceilingURL, stopCeiling, err := startCeiling()
	if err != nil {
		return err
	}
	defer stopCeiling()
	tg := buildTargets(set, ceilingURL, a, u, l, rInst, loadKeys, restrictedKeys)
	note("warming up (%s per target)", set.Warm)
	for _, sg := range tg {
		if _, err := runLoad(ctx, sg.hc, sg.target, set.Conns, set.Warm, 0); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	// Each restricted key once on each instance that measures them, so that
	// every one is cached and holds its quota lease, as keys in steady use
	// do (a key's first call waits for its first lease).
	if err := touchKeys(ctx, []string{a.url, rInst.url}, restrictedKeys, set.Conns); err != nil {
		return fmt.Errorf("warm-up of the restricted keys: %w", err)
	}
	if err := measureAPI(ctx, res, cnt, tg, set); err != nil {
		return err
	}
	if p := os.Getenv("BENCH_CPUPROFILE"); p != "" {
		if err := profile(ctx, segmentNamed(tg, tWhoami), set, p); err != nil {
			return err
		}
		note("CPU profile of cached GET /v1/whoami written to %s (go tool pprof -top %s)", p, p)
	}
	res.RecordNs = recordCost(a.st)

	note("flood: a valid key's p99 on A, quiet and under %d unknown keys/s", floodRate)
	if res.Flood, err = measureFlood(ctx, a, loadKeys, set, set.Cycles, 2*time.Second); err != nil {
		return err
	}

	note("dashboard: key list server time, %d requests per page", set.ListSamples)
	if res.List, err = timeList(ctx, owner, a.timings, listPages(set), 10, set.ListSamples); err != nil {
		return err
	}

	note("page weight: a dashboard page's first load and the next page, on the wire")
	if res.PageWeight, err = measurePageWeight(ctx, owner, "/settings/api-keys", "/settings/api-keys?page=2"); err != nil {
		return err
	}

	note("webhooks: %d events delivered to a local receiver; key creates with and without events", set.Webhooks)
	if res.Webhooks, err = measureWebhooks(ctx, db, team.ID, set.Webhooks, log); err != nil {
		return err
	}
	if res.Webhooks.CreateWithMs, res.Webhooks.CreateWithoutMs, err = measureEventCost(ctx, db, secret, admin, set.Creates, log); err != nil {
		return err
	}
	res.Webhooks.Creates = set.Creates
	res.Webhooks.EventCost = res.Webhooks.CreateWithMs/res.Webhooks.CreateWithoutMs - 1

	half := len(victims) / 2
	note("revocation: %d keys revoked on A, polled on B", half)
	b, err := start(instanceOptions{app: "kwbench-b", cacheTTL: 30 * time.Second, flush: set.Flush, listen: true})
	if err != nil {
		return err
	}
	if res.Revoke, err = measureRevocations(ctx, a, b, admin, victimIDs[:half], victims[:half]); err != nil {
		return err
	}
	note("revocation at saturation: %d more, with A and B both driven flat out", len(victims)-half)
	if res.RevokeSaturated, err = measureRevocationsSaturated(ctx, a, b, admin, victimIDs[half:], victims[half:], loadKeys, set); err != nil {
		return err
	}
	note("leak report: %d signed secret-scanning payloads of %d matches on A", set.LeakPayloads, leakTokens)
	if res.Leak, err = measureLeakReport(ctx, a, signer, g, lay, set.LeakPayloads); err != nil {
		return err
	}
	for _, sg := range tg {
		sg.hc.CloseIdleConnections()
	}
	for _, in := range instances {
		in.close()
	}
	instances = nil

	note("gateway: keyward's gateway against Caddy's reverse_proxy and the upstream alone")
	if res.Gateway, err = measureGateway(ctx, db, secret, g, set); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}

	note("memory: filling a fresh instance's cache with %s keys", thousands(int64(set.CachedKeys)))
	if res.Memory, err = measureMemory(ctx, db, g, set.CachedKeys); err != nil {
		return err
	}
	res.Seconds = time.Since(began).Seconds()
	res.summarize(set)
	res.print(os.Stdout)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func migrate(ctx context.Context, db *database) error {
	st, err := store.Open(ctx, db.as("kwbench-migrate"), store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = st.Migrate(ctx)
	return err
}

// segment is one target on one instance, with a client of its own.
type segment struct {
	target
	in *instance
	hc *http.Client
	// recording: the target's requests are recorded by the instance's
	// recorder, whose UPDATE statements are counted.
	recording bool
	keys      []string
}

// Target names.
const (
	tCeiling  = "ceiling"
	tBaseline = "baseline"
	tWhoami   = "whoami_cached"
	tUncached = "whoami_uncached"
	tVerify   = "verify_cached"
	tBuffered = "whoami_cached_no_flush"
	// The restricted keys (an IP allowlist, a rate limit not hit, a quota),
	// in process on A and with rate limits in Redis on R.
	tRestricted      = "whoami_restricted"
	tRestrictedRedis = "whoami_restricted_redis"
)

// perConn builds the requests of each connection: connection c uses the
// keys c, c+conns, c+2·conns, … in turn.
func perConn(set settings, base, path, method string, body func(k int) []byte, loadKeys []string) func(c, j int) (*http.Request, []byte) {
	reqs := make([][]*http.Request, set.Conns)
	bodies := make([][][]byte, set.Conns)
	for c := range set.Conns {
		for k := c; k < len(loadKeys); k += set.Conns {
			req, _ := http.NewRequest(method, base+path, nil)
			if path != baselinePath && path != ceilingPath {
				req.Header.Set("X-API-Key", loadKeys[k])
			}
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
				bodies[c] = append(bodies[c], body(k))
			}
			reqs[c] = append(reqs[c], req)
		}
	}
	return func(c, j int) (*http.Request, []byte) {
		n := len(reqs[c])
		if body == nil {
			return reqs[c][j%n], nil
		}
		return reqs[c][j%n], bodies[c][j%n]
	}
}

func buildTargets(set settings, ceilingURL string, a, u, l, r *instance, loadKeys, restrictedKeys []string) []segment {
	verifyBody := func(k int) []byte {
		b, _ := json.Marshal(map[string]string{"key": loadKeys[(k+1)%len(loadKeys)], "scope": "api_keys:read"})
		return b
	}
	seg := func(name string, in *instance, path, method string, body func(int) []byte, recording bool) segment {
		return segment{target: target{name, perConn(set, in.url, path, method, body, loadKeys), http.StatusOK},
			in: in, hc: newClient(set.Conns), recording: recording, keys: loadKeys}
	}
	ceiling := seg(tCeiling, a, ceilingPath, http.MethodGet, nil, false)
	ceiling.request = perConn(set, ceilingURL, ceilingPath, http.MethodGet, nil, loadKeys)
	restricted := func(name string, in *instance) segment {
		return segment{target: target{name, perConn(set, in.url, "/v1/whoami", http.MethodGet, nil, restrictedKeys), http.StatusOK},
			in: in, hc: newClient(set.Conns), recording: true, keys: restrictedKeys}
	}
	return []segment{
		ceiling,
		seg(tBaseline, a, baselinePath, http.MethodGet, nil, false),
		restricted(tRestricted, a),
		restricted(tRestrictedRedis, r),
		seg(tWhoami, a, "/v1/whoami", http.MethodGet, nil, true),
		seg(tUncached, u, "/v1/whoami", http.MethodGet, nil, true),
		seg(tVerify, a, "/v1/keys/verify", http.MethodPost, verifyBody, true),
		seg(tBuffered, l, "/v1/whoami", http.MethodGet, nil, false),
	}
}

// measureAPI runs the rounds. A round is made of cycles; a cycle runs every
// target for one short slice, in an order that rotates, so that whatever
// else the machine is doing falls on all targets alike. Ratios are taken
// within each round, against that round's baseline. Then the cached path's
// latency is measured at a steady half load (open loop), interleaved with
// the baseline at the same rate, and the UPDATE statements the recorders
// ran during the rounds are counted against the batches they wrote (their
// flushes that had uses to write).
func measureAPI(ctx context.Context, res *results, cnt *counter, tg []segment, set settings) error {
	// Let the warm-up's last uses be flushed before counting starts.
	time.Sleep(set.Flush + 200*time.Millisecond)
	before, batches := map[*instance]int64{}, map[*instance]int64{}
	for _, sg := range tg {
		if sg.recording {
			n, err := cnt.updates(ctx, sg.in.name)
			if err != nil {
				return err
			}
			before[sg.in] = n
			// Read after the UPDATEs: a flush in between counts as a batch
			// and not as an UPDATE, never the other way round.
			batches[sg.in] = sg.in.recorder.Written()
		}
	}
	var costs []float64
	order := mrand.New(mrand.NewPCG(1, 2))
	note("%d rounds of %d cycles × %d targets × %s at %d connections", set.Rounds, set.Cycles, len(tg), set.Slice, set.Conns)
	for r := range set.Rounds {
		acc := map[string]*accum{}
		ratios := map[string][]float64{}
		ceilings := map[string][]float64{}
		for range set.Cycles {
			rps := map[string]float64{}
			// Each cycle runs the targets in an order of its own, and each
			// slice starts after a collection, so that no target always
			// follows one that leaves garbage (or a busy database) behind.
			for _, k := range order.Perm(len(tg)) {
				sg := tg[k]
				runtime.GC()
				s, err := runLoad(ctx, sg.hc, sg.target, set.Conns, set.Slice, 0)
				if err != nil {
					return err
				}
				if acc[sg.name] == nil {
					acc[sg.name] = &accum{}
				}
				acc[sg.name].add(s)
				rps[sg.name] = float64(s.requests) / s.end.Sub(s.start).Seconds()
			}
			// Ratios are taken between neighbouring slices of one cycle,
			// and their median kept, so that a burst of other work on the
			// machine during one slice moves one ratio, not the result.
			for name, v := range rps {
				ratios[name] = append(ratios[name], v/rps[tBaseline])
				ceilings[name] = append(ceilings[name], v/rps[tCeiling])
			}
			costs = append(costs, 1-rps[tWhoami]/rps[tBuffered])
			res.RestrictedRatios = append(res.RestrictedRatios, rps[tRestricted]/rps[tWhoami])
			res.RestrictedRedisRatios = append(res.RestrictedRedisRatios, rps[tRestrictedRedis]/rps[tWhoami])
		}
		round := map[string]figures{}
		for name, a := range acc {
			f := a.figures()
			f.Ratio = median(ratios[name])
			f.Ceiling = median(ceilings[name])
			round[name] = f
		}
		res.Rounds = append(res.Rounds, round)
		note("round %d: %s", r+1, roundLine(round))
	}
	res.RecorderCosts = costs
	time.Sleep(set.Flush + 200*time.Millisecond)
	for in, n := range before {
		after, err := cnt.updates(ctx, in.name)
		if err != nil {
			return err
		}
		res.LastUsed.Updates += after - n
		res.LastUsed.Flushes += in.recorder.Written() - batches[in]
	}
	for _, sg := range tg {
		if sg.recording {
			for _, round := range res.Rounds {
				res.LastUsed.Requests += round[sg.name].Requests
			}
		}
	}

	var whoami []float64
	for _, round := range res.Rounds {
		whoami = append(whoami, round[tWhoami].RPS)
	}
	rate := median(whoami) / 2
	note("latency at half load: %.0f requests/s over %d connections", rate, set.Conns)
	// The same two targets on A's timed port, which also keeps each
	// request's time inside the server (around the whole handler chain).
	a := segmentNamed(tg, tWhoami).in
	timed := []segment{
		{target: target{tBaseline, perConn(set, a.timedURL, baselinePath, http.MethodGet, nil, segmentNamed(tg, tWhoami).keys), http.StatusOK}, in: a, hc: newClient(set.Conns)},
		{target: target{tWhoami, perConn(set, a.timedURL, "/v1/whoami", http.MethodGet, nil, segmentNamed(tg, tWhoami).keys), http.StatusOK}, in: a, hc: newClient(set.Conns)},
	}
	client := map[string]*accum{tBaseline: {}, tWhoami: {}}
	sent := map[string]*accum{tBaseline: {}, tWhoami: {}}
	server := map[string]*accum{tBaseline: {}, tWhoami: {}}
	for c := range set.Rounds * set.Cycles {
		for k := range timed {
			sg := timed[(k+c)%len(timed)]
			runtime.GC()
			a.timings.take()
			s, err := runLoad(ctx, sg.hc, sg.target, set.Conns, set.Slice, rate)
			if err != nil {
				return err
			}
			client[sg.name].add(s)
			sent[sg.name].add(sample{start: s.start, end: s.end, requests: s.requests, lat: s.sent})
			server[sg.name].add(sample{start: s.start, end: s.end, requests: s.requests, lat: a.timings.take()})
		}
	}
	for _, sg := range timed {
		sg.hc.CloseIdleConnections()
	}
	res.Paced = map[string]figures{tBaseline: client[tBaseline].figures(), tWhoami: client[tWhoami].figures()}
	res.PacedSent = map[string]figures{tBaseline: sent[tBaseline].figures(), tWhoami: sent[tWhoami].figures()}
	res.PacedServer = map[string]figures{tBaseline: server[tBaseline].figures(), tWhoami: server[tWhoami].figures()}
	return nil
}

func roundLine(r map[string]figures) string {
	return fmt.Sprintf("ceiling %.0f/s, whoami %.2f× ceiling, baseline %.0f/s, whoami %.2f×, uncached %.2f×, verify %.2f×, no-flush %.2f×, restricted %.2f×, restricted+redis %.2f×",
		r[tCeiling].RPS, r[tWhoami].Ceiling, r[tBaseline].RPS, r[tWhoami].Ratio, r[tUncached].Ratio, r[tVerify].Ratio, r[tBuffered].Ratio, r[tRestricted].Ratio, r[tRestrictedRedis].Ratio)
}

// profile writes a CPU profile of one more (unmeasured) run of sg.
func profile(ctx context.Context, sg segment, set settings, path string) error {
	stop, err := startCPUProfile(path)
	if err != nil {
		return err
	}
	_, err = runLoad(ctx, sg.hc, sg.target, set.Conns, 10*time.Second, 0)
	stop()
	return err
}

// startCPUProfile starts a CPU profile written to path; the returned
// function stops it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// recordCost measures what one Recorder.Record call costs in CPU time,
// GOMAXPROCS goroutines recording at once into a recorder that never
// flushes (the cost every request pays whether or not flushes happen).
func recordCost(st *store.Store) float64 {
	r := verify.NewRecorder(st, slog.New(slog.DiscardHandler))
	procs := runtime.GOMAXPROCS(0)
	done := make(chan int64, procs)
	deadline := time.Now().Add(300 * time.Millisecond)
	start := time.Now()
	for p := range procs {
		go func() {
			var n int64
			now := time.Now()
			for ; n%1024 != 0 || time.Now().Before(deadline); n++ {
				r.Record(int64(p*1000)+n%1000, "127.0.0.1", now)
			}
			done <- n
		}()
	}
	var total int64
	for range procs {
		total += <-done
	}
	return float64(time.Since(start)) * float64(procs) / float64(total)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// segmentNamed is the target of tg called name (the first target if none is).
func segmentNamed(tg []segment, name string) segment {
	for _, sg := range tg {
		if sg.name == name {
			return sg
		}
	}
	return tg[0]
}
