package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// browser is a signed-in dashboard user: a cookie jar, no redirects followed.
type browser struct {
	hc  *http.Client
	url string
}

// setUp creates the first OWNER and the bench team through GET and POST
// /setup, as a person would, and returns the signed-in browser.
func setUp(ctx context.Context, baseURL, email, password, team string) (*browser, error) {
	jar, _ := cookiejar.New(nil)
	b := &browser{url: baseURL, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	status, body, err := b.get(ctx, "/setup")
	if err != nil {
		return nil, err
	}
	m := csrfField.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		return nil, fmt.Errorf("GET /setup: %d, no form", status)
	}
	form := url.Values{"_csrf": {m[1]}, "email": {email}, "password": {password}, "team": {team}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/setup", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.hc.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("POST /setup: %d, want 303", resp.StatusCode)
	}
	return b, nil
}

func (b *browser) get(ctx context.Context, path string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+path, nil)
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// listPage is one view of the key table whose server time is measured.
type listPage struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// must appear in the page, so that a sign-in page or an empty table
	// is not timed by mistake.
	must string
}

// listPages are the views of the key table the bench times.
func listPages(set settings) []listPage {
	return []listPage{
		{Name: "first page", Path: "/settings/api-keys", must: keyName(set.TeamKeys - 1)},
		{Name: "filtered", Path: "/settings/api-keys?q=billing&status=active", must: "billing"},
		{Name: "deep page", Path: "/settings/api-keys?page=150", must: "billing"},
	}
}

// listOnly is BENCH_ONLY=list: the key list's server time alone, on the
// seeded database, with the team's keys restricted as in the full run. It
// prints each page's figures and the p95 of the slowest.
func listOnly(ctx context.Context, db *database, g keyGen, set settings, owner *browser, a *instance, teamID int64) error {
	_, restricted := loadAndRestricted(set)
	if err := restrictKeys(ctx, db.dsn, g.publicIDs(restricted)); err != nil {
		return fmt.Errorf("restricting keys: %w", err)
	}
	note("dashboard: key list server time, %d requests per page", set.ListSamples)
	stopProfile := func() {}
	if p := os.Getenv("BENCH_CPUPROFILE"); p != "" {
		stop, err := startCPUProfile(p)
		if err != nil {
			return err
		}
		stopProfile = stop
		note("CPU profile of the key list written to %s", p)
	}
	res, err := timeList(ctx, owner, a.timings, listPages(set), 10, set.ListSamples)
	stopProfile()
	if err != nil {
		return err
	}
	worst := 0.0
	for _, r := range res {
		fmt.Printf("%-12s p50 %6.1f ms  p95 %6.1f ms  max %6.1f ms  (%d samples)\n", r.Name, r.P50ms, r.P95ms, r.Maxms, r.Samples)
		worst = max(worst, r.P95ms)
	}
	fmt.Printf("list_p95_ms=%.1f\n", worst)
	fmt.Println("store calls behind the page, one at a time:")
	return timeListQueries(ctx, a.st, teamID, 10, set.ListSamples)
}

// listResult is the server time of one list page.
type listResult struct {
	listPage
	Samples int     `json:"samples"`
	P50ms   float64 `json:"p50_ms"`
	P95ms   float64 `json:"p95_ms"`
	Maxms   float64 `json:"max_ms"`
}

// timeList asks for each page warm times, then n times one after the
// other, and returns the server time of the n (measured around the whole
// handler chain, sessions and rendering included, on the server side).
func timeList(ctx context.Context, b *browser, t *timings, pages []listPage, warm, n int) ([]listResult, error) {
	var out []listResult
	for _, p := range pages {
		for i := 0; i < warm+n; i++ {
			if i == warm {
				t.take()
			}
			status, body, err := b.get(ctx, p.Path)
			if err != nil {
				return nil, err
			}
			if status != http.StatusOK || !strings.Contains(body, p.must) {
				return nil, fmt.Errorf("GET %s: %d, the key table is missing (%q)", p.Path, status, p.must)
			}
		}
		d := sortDurations(t.take())
		out = append(out, listResult{listPage: p, Samples: len(d),
			P50ms: ms(percentile(d, 0.50)), P95ms: ms(percentile(d, 0.95)), Maxms: ms(d[len(d)-1])})
	}
	return out, nil
}
