package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// results is everything a run measured; it is also the JSON file.
type results struct {
	Settings settings             `json:"settings"`
	Machine  machine              `json:"machine"`
	Seed     seedResult           `json:"seed"`
	Rounds   []map[string]figures `json:"rounds"`
	Paced    map[string]figures   `json:"half_load"`
	// PacedSent is the same requests' latency from when each was sent,
	// PacedServer their time inside the server.
	PacedSent   map[string]figures `json:"half_load_from_send"`
	PacedServer map[string]figures `json:"half_load_server"`
	LastUsed    lastUsedResult     `json:"last_used"`
	// RecorderCosts is 1 − (whoami on A) / (whoami on the instance whose
	// recorder does not flush), per cycle.
	RecorderCosts []float64 `json:"recorder_costs"`
	// RestrictedRatios and RestrictedRedisRatios are, per cycle, the
	// restricted keys' whoami over the plain keys' (both cached).
	RestrictedRatios      []float64        `json:"restricted_ratios"`
	RestrictedRedisRatios []float64        `json:"restricted_redis_ratios"`
	RecordNs              float64          `json:"record_ns"`
	List                  []listResult     `json:"dashboard_list"`
	PageWeight            pageWeightResult `json:"page_weight"`
	Revoke                revokeResult     `json:"revocation"`
	// RevokeSaturated is the same with A and B driven flat out.
	RevokeSaturated revokeResult  `json:"revocation_saturated"`
	Flood           floodResult   `json:"flood"`
	Leak            leakResult    `json:"leak_report"`
	Gateway         gatewayResult `json:"gateway"`
	Memory          memResult     `json:"memory"`
	Webhooks        webhookResult `json:"webhooks"`
	Seconds         float64       `json:"seconds"`
	Summary         summary       `json:"summary"`
}

type machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPU        string `json:"cpu"`
	OS         string `json:"os"`
	Go         string `json:"go"`
	Postgres   string `json:"postgres"`
}

type seedResult struct {
	Keys          int     `json:"keys"`
	TeamKeys      int     `json:"team_keys"`
	Teams         int     `json:"teams"`
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rows_per_second"`
	VacuumSeconds float64 `json:"vacuum_analyze_seconds"`
}

// lastUsedResult counts the recorders' UPDATE statements on api_keys during
// the rounds against their flushes that had uses to write.
type lastUsedResult struct {
	Updates  int64 `json:"updates"`
	Flushes  int64 `json:"flushes"`
	Requests int64 `json:"recorded_requests"`
}

// targetSummary is a target's medians over the rounds.
type targetSummary struct {
	RPS   float64 `json:"rps"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	Ratio float64 `json:"ratio"`
	// Ceiling is the ratio to the bare net/http ceiling.
	Ceiling float64 `json:"ceiling_ratio"`
}

type summary struct {
	Targets             map[string]targetSummary `json:"targets"`
	CeilingRatio        float64                  `json:"ceiling_ratio"`
	VerifyRatio         float64                  `json:"verify_ratio"`
	UncachedRatio       float64                  `json:"uncached_ratio"`
	VerifyEndpointRatio float64                  `json:"verify_endpoint_ratio"`
	VerifyP99ms         float64                  `json:"verify_p99_ms"`
	VerifyP99HalfLoadMs float64                  `json:"verify_p99_half_load_ms"`
	VerifyP99SentMs     float64                  `json:"verify_p99_from_send_ms"`
	VerifyP99ServerMs   float64                  `json:"verify_p99_server_ms"`
	UpdatesPerFlush     float64                  `json:"updates_per_flush"`
	RecorderCost        float64                  `json:"recorder_cost"`
	RecordShare         float64                  `json:"record_share"`
	RevokeP99ms         float64                  `json:"revoke_p99_ms"`
	RevokeSaturatedP99  float64                  `json:"revoke_saturated_p99_ms"`
	FloodP99Ratio       float64                  `json:"flood_p99_ratio"`
	ListP95ms           float64                  `json:"list_p95_ms"`
	PageFirstKiB        float64                  `json:"page_first_kib"`
	PageNextKiB         float64                  `json:"page_next_kib"`
	RSSMB               float64                  `json:"rss_mb"`
	RestrictedRatio     float64                  `json:"restricted_ratio"`
	RestrictedRedis     float64                  `json:"restricted_redis_ratio"`
	GatewayCaddyRatio   float64                  `json:"gateway_caddy_ratio"`
	GatewayDirectRatio  float64                  `json:"gateway_direct_ratio"`
	GatewayAddedP99ms   float64                  `json:"gateway_added_p99_ms"`
	LeakReportMs        float64                  `json:"leak_report_ms"`
	WebhooksPerS        float64                  `json:"webhooks_per_s"`
	EventCost           float64                  `json:"event_cost"`
	Line                string                   `json:"line"`
	Missed              []string                 `json:"missed"`
}

func machineInfo() machine {
	m := machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	return m
}

func postgresVersion(ctx context.Context, dsn string) string {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "?"
	}
	defer conn.Close(ctx)
	var v string
	if conn.QueryRow(ctx, "SHOW server_version").Scan(&v) != nil {
		return "?"
	}
	return "PostgreSQL " + strings.Fields(v)[0]
}

// summarize takes medians over the rounds (each ratio is taken within its
// round, against that round's baseline) and checks DESIGN.md's targets.
func (r *results) summarize(set settings) {
	s := summary{Targets: map[string]targetSummary{}}
	for _, name := range []string{tCeiling, tBaseline, tWhoami, tUncached, tVerify, tBuffered, tRestricted, tRestrictedRedis} {
		var rps, p50, p99, ratio, ceiling []float64
		for _, round := range r.Rounds {
			f := round[name]
			rps, p50, p99, ratio = append(rps, f.RPS), append(p50, f.P50ms), append(p99, f.P99ms), append(ratio, f.Ratio)
			ceiling = append(ceiling, f.Ceiling)
		}
		s.Targets[name] = targetSummary{RPS: median(rps), P50ms: median(p50), P99ms: median(p99), Ratio: median(ratio), Ceiling: median(ceiling)}
	}
	s.CeilingRatio = s.Targets[tWhoami].Ceiling
	s.VerifyRatio = s.Targets[tWhoami].Ratio
	s.UncachedRatio = s.Targets[tUncached].Ratio
	s.VerifyEndpointRatio = s.Targets[tVerify].Ratio
	s.VerifyP99ms = s.Targets[tWhoami].P99ms
	s.VerifyP99HalfLoadMs = r.Paced[tWhoami].P99ms
	s.VerifyP99SentMs = r.PacedSent[tWhoami].P99ms
	s.VerifyP99ServerMs = r.PacedServer[tWhoami].P99ms
	if r.LastUsed.Flushes > 0 {
		s.UpdatesPerFlush = float64(r.LastUsed.Updates) / float64(r.LastUsed.Flushes)
	}
	s.RecorderCost = median(r.RecorderCosts)
	s.RecordShare = r.RecordNs * s.Targets[tWhoami].RPS / (float64(r.Machine.GOMAXPROCS) * 1e9)
	s.RevokeP99ms = r.Revoke.P99ms
	s.RevokeSaturatedP99 = r.RevokeSaturated.P99ms
	s.FloodP99Ratio = r.Flood.Ratio
	for _, l := range r.List {
		s.ListP95ms = max(s.ListP95ms, l.P95ms)
	}
	s.RSSMB = r.Memory.HWM
	s.PageFirstKiB = float64(r.PageWeight.FirstBytes) / 1024
	s.PageNextKiB = float64(r.PageWeight.NextBytes) / 1024
	s.RestrictedRatio, s.RestrictedRedis = median(r.RestrictedRatios), median(r.RestrictedRedisRatios)
	s.LeakReportMs = r.Leak.Maxms
	s.WebhooksPerS, s.EventCost = r.Webhooks.PerSecond, r.Webhooks.EventCost
	s.Line = fmt.Sprintf("ceiling_ratio=%.2f verify_ratio=%.2f uncached_ratio=%.2f verify_p99_ms=%.1f revoke_p99_ms=%.0f list_p95_ms=%.0f updates_per_flush=%.1f recorder_cost=%.2f rss_mb=%.0f page_first_kib=%.1f page_next_kib=%.1f leak_report_ms=%.0f",
		s.CeilingRatio, s.VerifyRatio, s.UncachedRatio, s.VerifyP99ms, s.RevokeP99ms, s.ListP95ms, s.UpdatesPerFlush, noNegativeZero(s.RecorderCost), s.RSSMB, s.PageFirstKiB, s.PageNextKiB, s.LeakReportMs)
	s.Line += fmt.Sprintf(" revoke_saturated_p99_ms=%.0f flood_p99_ratio=%.2f", s.RevokeSaturatedP99, s.FloodP99Ratio)
	s.GatewayCaddyRatio, s.GatewayDirectRatio, s.GatewayAddedP99ms = r.Gateway.CaddyRatio, r.Gateway.DirectRatio, r.Gateway.AddedP99ms
	s.Line += fmt.Sprintf(" gateway_caddy_ratio=%.2f gateway_direct_ratio=%.2f gateway_added_p99_ms=%.2f",
		s.GatewayCaddyRatio, s.GatewayDirectRatio, s.GatewayAddedP99ms)
	s.Line += fmt.Sprintf(" restricted_ratio=%.2f restricted_redis_ratio=%.2f", s.RestrictedRatio, s.RestrictedRedis)
	s.Line += fmt.Sprintf(" webhooks_per_s=%.0f event_cost=%.2f", s.WebhooksPerS, noNegativeZero(s.EventCost))
	for _, c := range r.checks(s) {
		if !c.ok {
			s.Missed = append(s.Missed, c.name)
		}
	}
	r.Summary = s
}

// noNegativeZero rounds x to two places so that a cost of -0.001 prints
// as 0.00, not -0.00.
func noNegativeZero(x float64) float64 {
	if v := math.Round(x*100) / 100; v != 0 {
		return v
	}
	return 0
}

type check struct {
	name, value string
	ok          bool
}

func (r *results) checks(s summary) []check {
	return []check{
		{"cached verify ≥ 0.75× bare net/http", fmt.Sprintf("%.2f×", s.CeilingRatio), s.CeilingRatio >= 0.75},
		{"cached verify ≥ 0.6× baseline", fmt.Sprintf("%.2f×", s.VerifyRatio), s.VerifyRatio >= 0.6},
		{"cached verify p99 ≤ 2 ms at 32 connections", fmt.Sprintf("%.2f ms", s.VerifyP99ms), s.VerifyP99ms <= 2},
		{"uncached verify ≥ 0.15× bare net/http", fmt.Sprintf("%.2f×", s.Targets[tUncached].Ceiling), s.Targets[tUncached].Ceiling >= 0.15},
		{"≤ 1 UPDATE per flush interval", fmt.Sprintf("%.2f", s.UpdatesPerFlush), r.LastUsed.Flushes > 0 && s.UpdatesPerFlush <= 1},
		{"recording costs ≤ 5 %", fmt.Sprintf("%.1f %%", 100*s.RecorderCost), s.RecorderCost <= 0.05},
		{"revocation seen by B, p99 ≤ 100 ms", fmt.Sprintf("%.1f ms", s.RevokeP99ms), s.RevokeP99ms <= 100},
		{"revocation at saturation, max ≤ 1 s", fmt.Sprintf("%.0f ms", r.RevokeSaturated.Maxms), r.RevokeSaturated.Revocations > 0 && r.RevokeSaturated.Maxms <= 1000},
		{"flood of bad keys: p99 ≤ 2× quiet", fmt.Sprintf("%.2f×", s.FloodP99Ratio), s.FloodP99Ratio > 0 && s.FloodP99Ratio <= 2},
		{"key list p95 ≤ 50 ms", fmt.Sprintf("%.1f ms", s.ListP95ms), s.ListP95ms <= 50},
		{"first load of a dashboard page ≤ 60 KiB", fmt.Sprintf("%.1f KiB", s.PageFirstKiB), s.PageFirstKiB > 0 && s.PageFirstKiB <= 60},
		{"a later page ≤ 15 KiB", fmt.Sprintf("%.1f KiB", s.PageNextKiB), s.PageNextKiB > 0 && s.PageNextKiB <= 15},
		{"100,000 cached keys < 100 MB RSS", fmt.Sprintf("%.0f MB", s.RSSMB), s.RSSMB > 0 && s.RSSMB < 100},
		{"restricted key ≥ 0.8× plain cached verify", fmt.Sprintf("%.2f×", s.RestrictedRatio), s.RestrictedRatio >= 0.8},
		{"restricted key with Redis ≥ 0.5× plain cached verify", fmt.Sprintf("%.2f×", s.RestrictedRedis), s.RestrictedRedis >= 0.5},
		{"gateway ≥ 0.9× Caddy reverse_proxy", fmt.Sprintf("%.2f×", s.GatewayCaddyRatio), s.GatewayCaddyRatio >= 0.9},
		{"1,000-match leak report ≤ 1 s (slowest)", fmt.Sprintf("%.0f ms", s.LeakReportMs), s.LeakReportMs > 0 && s.LeakReportMs <= 1000},
		{"webhooks ≥ 500 deliveries/s", fmt.Sprintf("%.0f/s", s.WebhooksPerS), s.WebhooksPerS >= 500},
		{"writing the event ≤ 10 % of a key create", fmt.Sprintf("%.1f %%", 100*s.EventCost), s.EventCost <= 0.10},
	}
}

func (r *results) print(w io.Writer) {
	set, s := r.Settings, r.Summary
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	p("keyward bench, %s run: %s keys (%s in the measured team, %s teams)", set.Mode,
		thousands(int64(set.TotalKeys)), thousands(int64(set.TeamKeys)), thousands(int64(r.Seed.Teams)))
	p("machine: %d CPUs (GOMAXPROCS %d), %s, %s, %s, %s", r.Machine.CPUs, r.Machine.GOMAXPROCS, r.Machine.CPU, r.Machine.OS, r.Machine.Go, r.Machine.Postgres)
	p("seed: %s keys by COPY in %.1f s (%s rows/s), VACUUM ANALYZE %.1f s; whole run %.0f s",
		thousands(int64(r.Seed.Keys)), r.Seed.Seconds, thousands(int64(r.Seed.RowsPerSecond)), r.Seed.VacuumSeconds, r.Seconds)
	p("")
	p("API flat out, %d connections, %s keys rotating; %d rounds of %d cycles of %s slices per target (medians of rounds; ratios are medians of per-cycle ratios)",
		set.Conns, thousands(int64(set.LoadKeys)), set.Rounds, set.Cycles, set.Slice)
	p("  %-46s %9s %8s %8s %10s %10s", "", "req/s", "p50 ms", "p99 ms", "× ceiling", "× baseline")
	labels := []struct{ name, label string }{
		{tCeiling, "ceiling: bare net/http, own listener"},
		{tBaseline, "GET /v1/bench/baseline (bare handler)"},
		{tWhoami, "GET /v1/whoami, cached"},
		{tUncached, "GET /v1/whoami, cache off (PostgreSQL)"},
		{tVerify, "POST /v1/keys/verify, cached"},
		{tBuffered, "GET /v1/whoami, cached, recorder not flushing"},
		{tRestricted, "GET /v1/whoami, restricted key (in process)"},
		{tRestrictedRedis, "GET /v1/whoami, restricted key, REDIS_URL"},
	}
	for _, l := range labels {
		t := s.Targets[l.name]
		p("  %-46s %9s %8.2f %8.2f %10.2f %10.2f", l.label, thousands(int64(t.RPS)), t.P50ms, t.P99ms, t.Ceiling, t.Ratio)
	}
	p("  per round:")
	for i, round := range r.Rounds {
		p("    %d: %s", i+1, roundLine(round))
	}
	p("  at half load (%s req/s, open loop, %d connections), p50 / p99 ms, from when due · from when sent · inside the server:",
		thousands(int64(r.Paced[tWhoami].RPS)), set.Conns)
	for _, l := range []struct{ name, label string }{{tBaseline, "GET /v1/bench/baseline"}, {tWhoami, "GET /v1/whoami, cached"}} {
		d, sn, sv := r.Paced[l.name], r.PacedSent[l.name], r.PacedServer[l.name]
		p("    %-26s %5.2f / %6.2f  ·  %5.2f / %6.2f  ·  %5.2f / %5.2f", l.label, d.P50ms, d.P99ms, sn.P50ms, sn.P99ms, sv.P50ms, sv.P99ms)
	}
	p("")
	p("last-used: %d UPDATE statements on api_keys in %d flushes (every %s) that had uses to write, as the recorders counted them (%.2f per flush), for %s recorded requests",
		r.LastUsed.Updates, r.LastUsed.Flushes, set.Flush, s.UpdatesPerFlush, thousands(r.LastUsed.Requests))
	p("recorder: flushing vs buffering only costs %.1f %% (median of %d cycles); Record() takes %.0f ns of CPU, %.1f %% of a cached whoami's",
		100*s.RecorderCost, len(r.RecorderCosts), r.RecordNs, 100*s.RecordShare)
	p("revocation on A refused by B: p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d revocations (%s)",
		r.Revoke.P50ms, r.Revoke.P99ms, r.Revoke.Maxms, r.Revoke.Revocations, r.Revoke.Source)
	p("  the same with A and B both flat out (%d connections each): p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d revocations",
		set.Conns, r.RevokeSaturated.P50ms, r.RevokeSaturated.P99ms, r.RevokeSaturated.Maxms, r.RevokeSaturated.Revocations)
	p("flood: a cached key at %.0f req/s on A, p99 %.2f ms quiet, %.2f ms under %.0f unknown keys/s (%d distinct, from %d addresses; answers %v): %.2f× over all slices; median of %d cycles %.2f× (per cycle %s)",
		r.Flood.Rate, r.Flood.Quiet.P99ms, r.Flood.Flooded.P99ms, r.Flood.FloodRate, r.Flood.BadKeys, r.Flood.Sources, r.Flood.FloodAnswers, r.Flood.PooledRatio,
		len(r.Flood.Cycles), r.Flood.Ratio, ratioList(r.Flood.Cycles))
	p("leak report: %d signed payloads of %d matches (%d seeded keys of other teams revoked by each) to POST /v1/secret-scanning/github: p50 %.0f ms, slowest %.0f ms",
		r.Leak.Payloads, r.Leak.Tokens, r.Leak.Found, r.Leak.P50ms, r.Leak.Maxms)
	p("dashboard GET /settings/api-keys, server time, %s keys in the team:", thousands(int64(set.TeamKeys)))
	for _, l := range r.List {
		p("  %-11s %-44s p50 %6.1f ms  p95 %6.1f ms  max %6.1f ms  (%d requests)", l.Name, l.Path, l.P50ms, l.P95ms, l.Maxms, l.Samples)
	}
	p("page weight on the wire (brotli, headers included): first load of %s %.1f KiB (%d files), then %s %.1f KiB with the assets cached",
		r.PageWeight.FirstPath, s.PageFirstKiB, len(r.PageWeight.Files)-1, r.PageWeight.NextPath, s.PageNextKiB)
	p("webhooks: %d deliveries to a local receiver in %.2f s (%.0f/s); POST /v1/api-keys server time, median of %d: %.2f ms with the event, %.2f ms without (%+.1f %%)",
		r.Webhooks.Deliveries, r.Webhooks.Seconds, r.Webhooks.PerSecond, r.Webhooks.Creates, r.Webhooks.CreateWithMs, r.Webhooks.CreateWithoutMs, 100*r.Webhooks.EventCost)
	p("memory: %s cached keys: peak RSS %.0f MB (%.0f MB before filling; %.0f MB after GC, heap %.0f MB)",
		thousands(int64(r.Memory.Cached)), r.Memory.HWM, r.Memory.HWMBefore, r.Memory.RSS, r.Memory.HeapMB)
	gw := r.Gateway
	p("gateway: GET %s proxied to a bare upstream, %d connections (%s); medians of per-cycle ratios", gatewayPath, set.Conns, gw.Caddy)
	if len(gw.Rounds) > 0 {
		for _, l := range []struct{ name, label string }{{tDirect, "upstream alone"}, {tCaddy, "Caddy reverse_proxy (no auth)"}, {tGateway, "keyward gateway (key + scope)"}} {
			var rps, p99 []float64
			for _, round := range gw.Rounds {
				rps, p99 = append(rps, round[l.name].RPS), append(p99, round[l.name].P99ms)
			}
			p("  %-32s %9s req/s  p99 %6.2f ms", l.label, thousands(int64(median(rps))), median(p99))
		}
	}
	p("  gateway ÷ Caddy %.2f×, gateway ÷ upstream %.2f×; at half load (%s req/s) p99 %.2f ms vs %.2f ms direct: %.2f ms added",
		gw.CaddyRatio, gw.DirectRatio, thousands(int64(gw.RateRPS)), gw.Paced[tGateway].P99ms, gw.Paced[tDirect].P99ms, gw.AddedP99ms)
	p("")
	p("targets (DESIGN.md):")
	for _, c := range r.checks(s) {
		mark := "ok"
		if !c.ok {
			mark = "MISSED"
		}
		p("  %-40s %10s  %s", c.name, c.value, mark)
	}
	p("%s", s.Line)
}

// ratioList prints ratios as "1.02 0.97 …".
func ratioList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}
