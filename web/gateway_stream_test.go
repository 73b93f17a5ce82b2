package web

import (
	"bufio"
	"context"
	"hash/crc32"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
)

// TestGatewayWebSocket: a WebSocket upgrade through the gateway reaches an
// echo server and messages flow both ways; the upgrade is a GET, so it
// needs :read, and a key without it never reaches the upstream.
func TestGatewayWebSocket(t *testing.T) {
	up := newUpstream(t)
	up.handle("/v1/invoices/live", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Keyward-Key-Id") == "" || r.Header.Get("X-Api-Key") != "" {
			http.Error(w, "no identity", http.StatusBadRequest)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	})
	g := newGatewayApp(t, up, nil)
	_, raw := g.key(t, g.team.ID, model.PermRestricted, "invoices:read")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(g.GW, "http") + "/v1/invoices/live"
	c, res, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: xAPIKey(raw)})
	if err != nil {
		t.Fatalf("dial through the gateway: %v", err)
	}
	defer c.CloseNow()
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %d", res.StatusCode)
	}
	for i := range 3 {
		msg := "hello " + strconv.Itoa(i)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo: "+msg {
			t.Fatalf("got %q", got)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Fatalf("close: %v", err)
	}

	_, other := g.key(t, g.team.ID, model.PermRestricted, "customers:read")
	_, res, err = websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: xAPIKey(other)})
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("a key without invoices:read: %v, %v", err, res)
	}
}

// TestGatewayServerSentEvents: events reach the client as the upstream
// sends them: the first arrives while the upstream still holds the stream
// open, waiting for the client to have seen it.
func TestGatewayServerSentEvents(t *testing.T) {
	up := newUpstream(t)
	seen := make(chan struct{})
	up.handle("/v1/invoices/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		rc := http.NewResponseController(w)
		_, _ = io.WriteString(w, "id: 1\ndata: {\"invoice\":\"inv_1\"}\n\n")
		_ = rc.Flush()
		select {
		case <-seen:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "id: 2\ndata: {\"invoice\":\"inv_2\"}\n\n")
		_ = rc.Flush()
	})
	g := newGatewayApp(t, up, nil)
	_, raw := g.key(t, g.team.ID, model.PermReadAll)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.GW+"/v1/invoices/events", nil)
	req.Header = bearer(raw)
	req.Header.Set("Accept", "text/event-stream")
	res, err := g.gw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("SSE answered %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(res.Body)
	readEvent := func() string {
		var lines []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading the stream: %v (so far %q)", err, lines)
			}
			if line == "\n" {
				return strings.Join(lines, "")
			}
			lines = append(lines, line)
		}
	}
	if ev := readEvent(); ev != "id: 1\ndata: {\"invoice\":\"inv_1\"}\n" {
		t.Fatalf("first event %q", ev)
	}
	close(seen) // only now does the upstream send the second event
	if ev := readEvent(); ev != "id: 2\ndata: {\"invoice\":\"inv_2\"}\n" {
		t.Fatalf("second event %q", ev)
	}
}

// patternReader yields n bytes of a repeating 64 KiB pattern without
// holding them.
type patternReader struct{ left, off int64 }

var pattern = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}()

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n := copy(b, pattern[p.off:])
	p.off = (p.off + int64(n)) % int64(len(pattern))
	p.left -= int64(n)
	return n, nil
}

// heapWatch samples the heap in use until stopped and reports its peak.
func heapWatch() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// TestGatewayLargeBodies: a 1 GiB upload and a 1 GiB download pass through
// the gateway intact while the heap of the whole test process (client,
// gateway and upstream) stays within a few MiB of where it started: bodies
// stream, nothing buffers them. Under -race, which makes every copy several
// times slower, 256 MiB each way: still five times the heap bound.
func TestGatewayLargeBodies(t *testing.T) {
	size := int64(1 << 30)
	if raceEnabled {
		size = 256 << 20
	}
	const bound = 48 << 20
	up := newUpstream(t)
	up.handle("/v1/invoices/upload", func(w http.ResponseWriter, r *http.Request) {
		h := crc32.NewIEEE()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, strconv.FormatInt(n, 10)+" "+strconv.FormatUint(uint64(h.Sum32()), 10))
	})
	up.handle("/v1/invoices/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, &patternReader{left: size})
	})
	g := newGatewayApp(t, up, nil)
	_, raw := g.key(t, g.team.ID, model.PermWriteAll)
	want := crc32.NewIEEE()
	_, _ = io.Copy(want, &patternReader{left: size})

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop := heapWatch()
	start := time.Now()
	req, _ := http.NewRequest(http.MethodPost, g.GW+"/v1/invoices/upload", &patternReader{left: size})
	req.Header = xAPIKey(raw)
	req.ContentLength = -1 // chunked: the gateway cannot know the size ahead
	res, err := g.gw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != strconv.FormatInt(size, 10)+" "+strconv.FormatUint(uint64(want.Sum32()), 10) {
		t.Fatalf("upload: %d %s", res.StatusCode, body)
	}
	up1 := time.Since(start)

	start = time.Now()
	req, _ = http.NewRequest(http.MethodGet, g.GW+"/v1/invoices/download", nil)
	req.Header = xAPIKey(raw)
	res, err = g.gw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := crc32.NewIEEE()
	n, err := io.Copy(got, res.Body)
	res.Body.Close()
	if err != nil || n != size || got.Sum32() != want.Sum32() {
		t.Fatalf("download: %d bytes, crc %x want %x, %v", n, got.Sum32(), want.Sum32(), err)
	}
	peak := stop()
	t.Logf("%d MiB up in %s, down in %s; heap in use %d MiB at start, %d MiB at peak", size>>20, up1, time.Since(start), base>>20, peak>>20)
	if peak > base+bound {
		t.Fatalf("the heap grew by %d MiB while %d MiB streamed each way (bound %d MiB)", (peak-base)>>20, size>>20, bound>>20)
	}
}

// TestGatewayKeepAlive: sequential requests from one client reuse one
// connection to the gateway, and the gateway reuses one pooled connection
// to the upstream.
func TestGatewayKeepAlive(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayApp(t, up, nil)
	_, raw := g.key(t, g.team.ID, model.PermReadAll)
	g.gwCall(t, http.MethodGet, "/v1/invoices", xAPIKey(raw), nil).wantStatus(t, http.StatusOK)
	upBefore, gwBefore := up.conns.Load(), g.gwConns.Load()
	for range 50 {
		g.gwCall(t, http.MethodGet, "/v1/invoices", xAPIKey(raw), nil).wantStatus(t, http.StatusOK)
	}
	if n := up.conns.Load() - upBefore; n != 0 {
		t.Fatalf("50 sequential requests opened %d new upstream connections, want 0 (pooled)", n)
	}
	if n := g.gwConns.Load() - gwBefore; n != 0 {
		t.Fatalf("50 sequential requests opened %d new client connections, want 0 (keep-alive)", n)
	}
	if n := up.conns.Load(); n != 1 {
		t.Fatalf("the upstream saw %d connections in all, want 1", n)
	}
}

// TestGatewayObservability: requests are counted by resource and status
// in /metrics, and with KEYWARD_ACCESS_LOG=all each has an access log line
// with its route pattern and request id and without the key (the default,
// errors, keeps only the refused ones: TestAccessLogPolicy).
func TestGatewayObservability(t *testing.T) {
	up := newUpstream(t)
	g := newGatewayApp(t, up, func(c *config.Config) { c.AccessLog = AccessLogAll })
	_, raw := g.key(t, g.team.ID, model.PermRestricted, "invoices:read")
	for range 3 {
		g.gwCall(t, http.MethodGet, "/v1/invoices/inv_1", xAPIKey(raw), nil).wantStatus(t, http.StatusOK)
	}
	g.gwCall(t, http.MethodPost, "/v1/customers", xAPIKey(raw), nil).wantStatus(t, http.StatusForbidden)
	g.gwCall(t, http.MethodGet, "/v1/nothing", nil, nil).wantStatus(t, http.StatusNotFound)
	res := g.gwCall(t, http.MethodGet, "/healthz", nil, nil)
	res.wantStatus(t, http.StatusOK)

	fams, err := g.srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "keyward_gateway_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			counts[l["resource"]+" "+l["status"]] = m.GetCounter().GetValue()
		}
	}
	for k, want := range map[string]float64{"invoices 200": 3, "customers 403": 1, "none 404": 1, "public 200": 1} {
		if counts[k] != want {
			t.Errorf("keyward_gateway_requests_total{%s} = %v, want %v (all: %v)", k, counts[k], want, counts)
		}
	}
	logs := g.logs.String()
	if strings.Contains(logs, raw) {
		t.Fatal("the logs contain the raw key")
	}
	id := res.Header.Get("X-Request-Id")
	found := false
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, "msg=request") && strings.Contains(line, "request_id="+id) && strings.Contains(line, "route=/healthz") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no access log line for the /healthz request %s:\n%s", id, logs)
	}
}
