package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// Gateway targets: the upstream alone, Caddy's reverse_proxy in front of
// it (no auth), and keyward's gateway in front of it (key checked, scope
// matched).
const (
	tDirect  = "upstream_direct"
	tCaddy   = "caddy_reverse_proxy"
	tGateway = "keyward_gateway"
)

// gatewayPath is the proxied call: a read of a route with a resource.
const gatewayPath = "/v1/invoices"

// gatewayResult is the gateway's part of the results.
type gatewayResult struct {
	Caddy   string               `json:"caddy_version"`
	Rounds  []map[string]figures `json:"rounds"`
	Paced   map[string]figures   `json:"half_load"`
	RateRPS float64              `json:"half_load_rps"`
	// CaddyRatio and DirectRatio are the medians of the per-cycle ratios
	// of the gateway's throughput to Caddy's and to the upstream's.
	CaddyRatio  float64 `json:"gateway_caddy_ratio"`
	DirectRatio float64 `json:"gateway_direct_ratio"`
	// AddedP99ms is the gateway's p99 at half load less the upstream's own.
	AddedP99ms float64 `json:"gateway_added_p99_ms"`
}

// measureGateway starts an upstream (a bare net/http handler on its own
// listener, in this process), Caddy in front of it and `keyward gateway` in
// front of it (each its own process), then loads the three in rotating order like the API
// rounds and, at half the gateway's throughput, measures the latency the
// gateway adds over calling the upstream directly.
func measureGateway(ctx context.Context, db *database, secret string, g keyGen, set settings) (gatewayResult, error) {
	var res gatewayResult
	caddy, version, err := findCaddy(ctx)
	if err != nil {
		return res, err
	}
	res.Caddy = version
	body := []byte(`{"object":"list","data":[{"id":"inv_1","amount":4200,"currency":"eur","status":"open"}]}`)
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	up := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})}
	go func() { _ = up.Serve(upLn) }()
	defer up.Close()
	upURL := &url.URL{Scheme: "http", Host: upLn.Addr().String()}

	caddyURL, stopCaddy, err := startCaddy(ctx, caddy, upURL.Host)
	if err != nil {
		return res, err
	}
	defer stopCaddy()

	gwURL, stopGateway, err := startGateway(ctx, db, secret, upURL.String(), g.raw(0))
	if err != nil {
		return res, err
	}
	defer stopGateway()

	// Keys that may read every resource (read_all and write_all seeds).
	var readers []string
	for i := 1; i < set.TeamKeys && len(readers) < set.LoadKeys; i++ {
		if p, _ := permission(i); keyActive(i) && p != model.PermRestricted {
			readers = append(readers, g.raw(i))
		}
	}
	mk := func(name, base string, withKey bool) segment {
		reqs := make([][]*http.Request, set.Conns)
		for c := range set.Conns {
			for k := c; k < len(readers); k += set.Conns {
				req, _ := http.NewRequest(http.MethodGet, base+gatewayPath, nil)
				if withKey {
					req.Header.Set("X-API-Key", readers[k])
				}
				reqs[c] = append(reqs[c], req)
			}
		}
		return segment{target: target{name, func(c, j int) (*http.Request, []byte) { return reqs[c][j%len(reqs[c])], nil }, http.StatusOK},
			hc: newClient(set.Conns)}
	}
	tg := []segment{mk(tDirect, upURL.String(), false), mk(tCaddy, caddyURL, false), mk(tGateway, gwURL, true)}
	defer func() {
		for _, sg := range tg {
			sg.hc.CloseIdleConnections()
		}
	}()
	for _, sg := range tg {
		if _, err := runLoad(ctx, sg.hc, sg.target, set.Conns, set.Warm, 0); err != nil {
			return res, fmt.Errorf("gateway warm-up: %w", err)
		}
	}
	order := mrand.New(mrand.NewPCG(3, 4))
	var caddyRatios, directRatios, gwRPS []float64
	for r := range set.Rounds {
		acc := map[string]*accum{}
		for range set.Cycles {
			rps := map[string]float64{}
			for _, k := range order.Perm(len(tg)) {
				sg := tg[k]
				runtime.GC()
				s, err := runLoad(ctx, sg.hc, sg.target, set.Conns, set.Slice, 0)
				if err != nil {
					return res, err
				}
				if acc[sg.name] == nil {
					acc[sg.name] = &accum{}
				}
				acc[sg.name].add(s)
				rps[sg.name] = float64(s.requests) / s.end.Sub(s.start).Seconds()
			}
			caddyRatios = append(caddyRatios, rps[tGateway]/rps[tCaddy])
			directRatios = append(directRatios, rps[tGateway]/rps[tDirect])
		}
		round := map[string]figures{}
		for name, a := range acc {
			round[name] = a.figures()
		}
		gwRPS = append(gwRPS, round[tGateway].RPS)
		res.Rounds = append(res.Rounds, round)
		note("gateway round %d: upstream %.0f/s, Caddy %.0f/s, gateway %.0f/s", r+1, round[tDirect].RPS, round[tCaddy].RPS, round[tGateway].RPS)
	}
	res.CaddyRatio, res.DirectRatio = median(caddyRatios), median(directRatios)

	res.RateRPS = median(gwRPS) / 2
	note("gateway latency at half load: %.0f requests/s over %d connections", res.RateRPS, set.Conns)
	paced := map[string]*accum{tDirect: {}, tGateway: {}}
	pacedTargets := []segment{tg[0], tg[2]}
	for c := range set.Rounds * set.Cycles {
		for k := range pacedTargets {
			sg := pacedTargets[(k+c)%len(pacedTargets)]
			runtime.GC()
			s, err := runLoad(ctx, sg.hc, sg.target, set.Conns, set.Slice, res.RateRPS)
			if err != nil {
				return res, err
			}
			paced[sg.name].add(s)
		}
	}
	res.Paced = map[string]figures{tDirect: paced[tDirect].figures(), tGateway: paced[tGateway].figures()}
	res.AddedP99ms = res.Paced[tGateway].P99ms - res.Paced[tDirect].P99ms
	return res, nil
}

// findCaddy returns the caddy binary and its version, installing the
// Debian package with apt-get when it is missing.
func findCaddy(ctx context.Context) (string, string, error) {
	path, err := exec.LookPath("caddy")
	if err != nil {
		note("caddy is not installed: installing the Debian package with apt-get")
		install := exec.CommandContext(ctx, "apt-get", "install", "-y", "caddy")
		if os.Geteuid() != 0 {
			install = exec.CommandContext(ctx, "sudo", "apt-get", "install", "-y", "caddy")
		}
		install.Stdout, install.Stderr = os.Stderr, os.Stderr
		if ierr := install.Run(); ierr != nil {
			return "", "", fmt.Errorf("the gateway figures compare with Caddy, which is missing and could not be installed (%v): install the Debian package caddy", ierr)
		}
		if path, err = exec.LookPath("caddy"); err != nil {
			return "", "", err
		}
	}
	out, err := exec.CommandContext(ctx, path, "version").Output()
	if err != nil {
		return "", "", fmt.Errorf("caddy version: %w", err)
	}
	v := string(out)
	if i := len(v); i > 0 && v[i-1] == '\n' {
		v = v[:i-1]
	}
	return path, v, nil
}

// startCaddy runs Caddy with a reverse_proxy to upstream on a free
// loopback port (no admin endpoint, no TLS, no access log) and waits until
// it answers.
func startCaddy(ctx context.Context, caddy, upstream string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "kwbench-caddy")
	if err != nil {
		return "", nil, err
	}
	conf := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n}\n\nhttp://%s {\n\treverse_proxy %s\n}\n", addr, upstream)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(caddy, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &logs
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	u := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(u + gatewayPath)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return u, stop, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop() // waits for caddy, so its log is complete
			tail := logs.String()
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return "", nil, errors.Join(fmt.Errorf("caddy did not answer within 15 s; its log ends:\n%s", tail), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startGateway builds keyward and runs `keyward gateway` as its own
// process, as it is deployed (and as Caddy runs), on the bench database,
// with a scopes file whose invoices resource owns gatewayPath, and waits
// until it forwards a request with key.
func startGateway(ctx context.Context, db *database, secret, upstream, key string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "kwbench-gateway")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "keyward")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/keyward")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building keyward for the gateway: %w", err)
	}
	scopes := filepath.Join(dir, "scopes.yaml")
	conf := "resources:\n  - name: invoices\n    label: Invoices\n    routes: [\"" + gatewayPath + "\", \"" + gatewayPath + "/*\"]\n"
	if err := os.WriteFile(scopes, []byte(conf), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	// Its log (one access line per request, as configured by default) goes
	// to a file, as a production log would go somewhere.
	logf, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	cmd := exec.Command(bin, "gateway")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+db.as("kwbench-gateway"), "KEYWARD_SESSION_SECRET="+secret,
		"KEYWARD_SCOPES_FILE="+scopes, "KEYWARD_GATEWAY_ADDR="+addr, "KEYWARD_UPSTREAM="+upstream,
		"KEYWARD_LOG_FORMAT=json", "KEYWARD_DATA_DIR="+dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		_ = os.RemoveAll(dir)
	}
	u := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+gatewayPath, nil)
		req.Header.Set("X-API-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return u, stop, nil
			}
			err = fmt.Errorf("answered %d", res.StatusCode)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("keyward gateway did not forward within 30 s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
