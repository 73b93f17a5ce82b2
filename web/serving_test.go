package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/model"
)

// rawGet sends GET path with the given headers through a transport that
// leaves the body as the server sent it (no transparent gzip).
func fetchRaw(t *testing.T, base, path string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func decode(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch coding {
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		r = zr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s body: %v", coding, err)
	}
	return out
}

var assetLink = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)

// Pages link their assets under content-hashed names, which are cached for
// a year and come precompressed; a plain name is revalidated; the ETag
// answers 304; HTML is never cached.
func TestAssetsAreHashedCachedAndPrecompressed(t *testing.T) {
	app := newTestApp(t)
	res, body := fetchRaw(t, app.URL, "/login", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /login: %d", res.StatusCode)
	}
	if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "no-") {
		t.Errorf("the page's Cache-Control is %q, want no-cache or no-store", cc)
	}
	links := assetLink.FindAllStringSubmatch(string(body), -1)
	if len(links) < 4 {
		t.Fatalf("asset links in the page: %v", links)
	}
	hashed := regexp.MustCompile(`^/static/(vendor/)?[a-z.]+\.[0-9a-f]{10}\.(css|js|svg)$`)
	for _, l := range links {
		if !hashed.MatchString(l[1]) {
			t.Errorf("asset URL %s is not content-hashed", l[1])
		}
	}
	var css string
	for _, l := range links {
		if strings.Contains(l[1], "/app.") && strings.HasSuffix(l[1], ".css") {
			css = l[1]
		}
	}
	for _, coding := range []string{"br", "gzip", ""} {
		res, b := fetchRaw(t, app.URL, css, map[string]string{"Accept-Encoding": coding})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", css, res.StatusCode)
		}
		if got := res.Header.Get("Content-Encoding"); got != coding {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", coding, got)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("hashed asset Cache-Control %q", cc)
		}
		plain := decode(t, coding, b)
		// Minified: no comment and no indentation survive.
		if bytes.Contains(plain, []byte("/*")) || bytes.Contains(plain, []byte("\n  ")) {
			t.Errorf("app.css is not minified (%d bytes)", len(plain))
		}
		// Its icons are named by their hashes too.
		if !regexp.MustCompile(`url\("?icons/chevron\.[0-9a-f]{10}\.svg"?\)`).Match(plain) {
			t.Errorf("app.css does not name its icons by hash")
		}
		if coding != "" && len(b) >= len(plain) {
			t.Errorf("%s: %d bytes on the wire for %d", coding, len(b), len(plain))
		}
	}
	res, _ = fetchRaw(t, app.URL, css, nil)
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on an asset")
	}
	if res, _ := fetchRaw(t, app.URL, css, map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", res.StatusCode)
	}
	res, _ = fetchRaw(t, app.URL, "/static/app.css", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "public, no-cache" || res.Header.Get("ETag") != etag {
		t.Errorf("plain asset name: %d, Cache-Control %q, ETag %q", res.StatusCode, res.Header.Get("Cache-Control"), res.Header.Get("ETag"))
	}
	if res, _ := fetchRaw(t, app.URL, "/static/app.0000000000.css", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown asset: %d", res.StatusCode)
	}
}

// The pages link a Pico built with only the modules they use (make css,
// static/vendor/pico-build), not the whole of Pico (83,319 bytes): the
// left-out modules' rules are absent, the ones the pages need are there,
// and Pico's licence notice is kept.
func TestPicoHoldsOnlyTheModulesUsed(t *testing.T) {
	app := newTestApp(t)
	_, page := fetchRaw(t, app.URL, "/login", nil)
	var link string
	for _, l := range assetLink.FindAllStringSubmatch(string(page), -1) {
		if strings.HasPrefix(l[1], "/static/vendor/pico.") && strings.HasSuffix(l[1], ".css") {
			link = l[1]
		}
	}
	if link == "" {
		t.Fatal("the page links no vendor/pico stylesheet")
	}
	res, css := fetchRaw(t, app.URL, link, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", link, res.StatusCode)
	}
	// About 66,000 bytes today; the whole build is 83,319.
	if len(css) > 72_000 {
		t.Errorf("%s is %d bytes: more than the modules the pages use", link, len(css))
	}
	if !bytes.Contains(css, []byte("Pico CSS")) || !bytes.Contains(css, []byte("Licensed under MIT")) {
		t.Errorf("%s lost Pico's licence notice", link)
	}
	for module, rule := range map[string]string{
		"layout/container":     ".container-fluid",
		"layout/grid":          ".grid{",
		"layout/overflow-auto": ".overflow-auto",
		"forms/input-color":    "[type=color]::-webkit-color-swatch",
		"forms/input-range":    "[type=range]::-webkit-slider-thumb",
		"components/dropdown":  "details.dropdown",
		"components/progress":  "progress::-webkit-progress-bar",
		"components/tooltip":   "[data-tooltip]",
	} {
		if bytes.Contains(css, []byte(rule)) {
			t.Errorf("%s holds %s (module %s), which no page uses", link, rule, module)
		}
	}
	for module, rule := range map[string]string{
		"components/modal":     "dialog>article",
		"components/group":     "[role=search]",
		"components/accordion": "details summary",
		"components/loading":   "[aria-busy=true]",
		"components/nav":       "nav li",
		"forms/input-search":   "[type=search]",
		"content/table":        ":where(table)",
	} {
		if !bytes.Contains(css, []byte(rule)) {
			t.Errorf("%s lacks %s (module %s), which the pages use", link, rule, module)
		}
	}
}

// Pages and JSON are compressed for clients that accept it, with brotli
// preferred; small bodies and clients that accept nothing get plain bytes.
func TestResponsesAreCompressed(t *testing.T) {
	app := newAPIApp(t)
	for _, c := range []struct{ accept, want string }{
		{"gzip, deflate, br", "br"},
		{"gzip", "gzip"},
		{"br;q=0, gzip", "gzip"},
		{"", ""},
		{"identity", ""},
	} {
		res, b := fetchRaw(t, app.URL, "/login", map[string]string{"Accept-Encoding": c.accept})
		if got := res.Header.Get("Content-Encoding"); got != c.want {
			t.Errorf("page, Accept-Encoding %q: Content-Encoding %q, want %q", c.accept, got, c.want)
		}
		if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("page, Accept-Encoding %q: no Vary: Accept-Encoding", c.accept)
		}
		if page := decode(t, c.want, b); !bytes.Contains(page, []byte(`name="password"`)) {
			t.Errorf("page, Accept-Encoding %q: the sign-in form is not in the body", c.accept)
		}
	}
	// JSON: the OpenAPI document is large, /healthz small.
	res, b := fetchRaw(t, app.URL, "/openapi.json", map[string]string{"Accept-Encoding": "gzip"})
	if res.Header.Get("Content-Encoding") != "gzip" || !bytes.Contains(decode(t, "gzip", b), []byte(`"openapi"`)) {
		t.Errorf("/openapi.json: Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
	_, raw := app.key(t, app.team.ID, model.PermWriteAll)
	for range 12 {
		app.key(t, app.team.ID, model.PermReadAll)
	}
	res, b = fetchRaw(t, app.URL, "/v1/api-keys?limit=100", map[string]string{"Accept-Encoding": "br", "X-API-Key": raw})
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "br" || !bytes.Contains(decode(t, "br", b), []byte(`"data"`)) {
		t.Errorf("/v1/api-keys: %d, Content-Encoding %q", res.StatusCode, res.Header.Get("Content-Encoding"))
	}
	res, b = fetchRaw(t, app.URL, "/healthz", map[string]string{"Accept-Encoding": "br"})
	if res.Header.Get("Content-Encoding") != "" || !bytes.Contains(b, []byte("ok")) {
		t.Errorf("/healthz (small) was compressed: %q", res.Header.Get("Content-Encoding"))
	}
}

// KEYWARD_ACCESS_LOG=errors (the default) keeps /v1 errors and every
// dashboard request, skips successful API calls and counts them; all logs
// everything; off logs no API call, errors included.
func TestAccessLogPolicy(t *testing.T) {
	for _, c := range []struct {
		mode                string
		okLogged, errLogged bool
		skippedAtLeast      float64
	}{
		{AccessLogErrors, false, true, 2},
		{AccessLogAll, true, true, 0},
		{AccessLogOff, false, false, 3},
	} {
		t.Run(c.mode, func(t *testing.T) {
			app := newAPIApp(t, withAPIConfig(func(cfg *config.Config) { cfg.AccessLog = c.mode }))
			_, raw := app.key(t, app.team.ID, model.PermReadAll)
			ok := func() string {
				res, _ := fetchRaw(t, app.URL, "/v1/whoami", map[string]string{"X-API-Key": raw})
				if res.StatusCode != http.StatusOK {
					t.Fatalf("whoami: %d", res.StatusCode)
				}
				return res.Header.Get("X-Request-ID")
			}
			id1, id2 := ok(), ok()
			res, _ := fetchRaw(t, app.URL, "/v1/whoami", map[string]string{"X-API-Key": "kw_live_nope"})
			errID := res.Header.Get("X-Request-ID")
			res, _ = fetchRaw(t, app.URL, "/login", nil)
			pageID := res.Header.Get("X-Request-ID")
			logs := app.logs.String()
			logged := func(id string) bool {
				for _, line := range strings.Split(logs, "\n") {
					if strings.Contains(line, "msg=request ") && strings.Contains(line, "request_id="+id) {
						return true
					}
				}
				return false
			}
			if logged(id1) != c.okLogged || logged(id2) != c.okLogged {
				t.Errorf("successful /v1 call logged: %v, want %v", logged(id1), c.okLogged)
			}
			if logged(errID) != c.errLogged {
				t.Errorf("refused /v1 call logged: %v, want %v", logged(errID), c.errLogged)
			}
			if !logged(pageID) {
				t.Error("a dashboard request was not logged")
			}
			skipped := testutilCounter(t, app.srv, "keyward_access_log_skipped_total")
			if skipped < c.skippedAtLeast || (c.mode == "all" && skipped != 0) {
				t.Errorf("keyward_access_log_skipped_total = %v", skipped)
			}
		})
	}
}

// testutilCounter reads a counter's value from the server's registry.
func testutilCounter(t *testing.T, s *Server, name string) float64 {
	t.Helper()
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// A flood of refused keys is not a flood of log lines: with errors, at
// most KEYWARD_ACCESS_LOG_CLIENT_ERRORS lines of 4xx answers are written
// per second, the rest counted; the first one over the cap in a second
// leaves a warning. With all, every one is written.
func TestAccessLogCapsClientErrors(t *testing.T) {
	// Fewer than the 30 failed checks an address may make at once (429).
	const perSecond, sent = 5, 25
	for _, mode := range []string{AccessLogErrors, AccessLogAll} {
		t.Run(mode, func(t *testing.T) {
			app := newAPIApp(t, withAPIConfig(func(cfg *config.Config) {
				cfg.AccessLog, cfg.AccessLogClientErrors = mode, perSecond
			}))
			from := time.Now().Unix()
			for range sent {
				res, _ := fetchRaw(t, app.URL, "/v1/whoami", map[string]string{"X-API-Key": "kw_live_nope"})
				if res.StatusCode != http.StatusUnauthorized {
					t.Fatalf("a bad key answered %d", res.StatusCode)
				}
			}
			seconds := time.Now().Unix() - from + 1
			logs := app.logs.String()
			lines := 0
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, "msg=request ") && strings.Contains(line, "status=401") {
					lines++
				}
			}
			suppressed := testutilCounter(t, app.srv, "keyward_access_log_suppressed_total")
			notices := strings.Count(logs, "more client errors in one second")
			if mode == AccessLogAll {
				if lines != sent || suppressed != 0 || notices != 0 {
					t.Fatalf("with all: %d lines of %d, %v suppressed, %d notices", lines, sent, suppressed, notices)
				}
				return
			}
			if lines < perSecond || int64(lines) > perSecond*seconds {
				t.Fatalf("%d lines for %d refusals in %d second(s), want %d a second", lines, sent, seconds, perSecond)
			}
			if int(suppressed)+lines != sent {
				t.Fatalf("%d lines written and %v suppressed, for %d refusals", lines, suppressed, sent)
			}
			if notices < 1 || int64(notices) > seconds {
				t.Fatalf("%d notices in %d second(s):\n%s", notices, seconds, logs)
			}
			if skipped := testutilCounter(t, app.srv, "keyward_access_log_skipped_total"); skipped < suppressed {
				t.Fatalf("keyward_access_log_skipped_total %v, below the %v suppressed", skipped, suppressed)
			}
		})
	}
}

// The cap counts per second: three lines, then refusals (the first one
// flagged for its notice), a late caller's older second counted in the
// current one, and a fresh budget in the next second.
func TestLineBudget(t *testing.T) {
	b := newLineBudget(3)
	type step struct {
		now       int64
		ok, first bool
	}
	for i, s := range []step{
		{10, true, false}, {10, true, false}, {10, true, false},
		{10, false, true}, {10, false, false}, {9, false, false},
		{11, true, false}, {11, true, false}, {10, true, false}, {11, false, true},
	} {
		if ok, first := b.take(s.now); ok != s.ok || first != s.first {
			t.Fatalf("step %d (second %d): ok %v first %v, want %v %v", i+1, s.now, ok, first, s.ok, s.first)
		}
	}
	if n := b.suppressed.Load(); n != 4 {
		t.Fatalf("%d suppressed, want 4", n)
	}
	if ok, _ := newLineBudget(-1).take(1); !ok {
		t.Fatal("a negative cap (KEYWARD_ACCESS_LOG_CLIENT_ERRORS=0) refused a line")
	}
}
