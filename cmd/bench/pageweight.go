package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"
)

// pageWeightResult is what a browser downloads for dashboard pages, in
// bytes on the wire: compressed bodies plus status lines and headers.
type pageWeightResult struct {
	FirstPath string `json:"first_path"`
	// FirstBytes: the page and every stylesheet, script and icon it links,
	// as a browser with an empty cache fetches them.
	FirstBytes int `json:"first_bytes"`
	// NextPath and NextBytes: another page once the assets are cached
	// (content-hashed URLs, immutable: the browser asks for none of them).
	NextPath  string         `json:"next_path"`
	NextBytes int            `json:"next_bytes"`
	Files     map[string]int `json:"files"`
}

// pageAsset finds the assets a page links.
var pageAsset = regexp.MustCompile(`<(?:link|script)[^>]+(?:href|src)="(/static/[^"]+)"`)

// measurePageWeight loads first, then next, as a signed-in browser that
// accepts brotli and gzip and caches what it is told it may.
func measurePageWeight(ctx context.Context, b *browser, first, next string) (pageWeightResult, error) {
	res := pageWeightResult{FirstPath: first, NextPath: next, Files: map[string]int{}}
	hc := &http.Client{Jar: b.hc.Jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer hc.CloseIdleConnections()
	cached := map[string]bool{}
	fetch := func(path string) ([]byte, int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+path, nil)
		req.Header.Set("Accept-Encoding", "br, gzip")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, 0, fmt.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		var head bytes.Buffer
		fmt.Fprintf(&head, "%s %s\r\n", resp.Proto, resp.Status)
		_ = resp.Header.Write(&head)
		head.WriteString("\r\n")
		if cc := resp.Header.Get("Cache-Control"); cc == "public, max-age=31536000, immutable" {
			cached[path] = true
		}
		n := head.Len() + len(body)
		res.Files[path] = n
		return body, n, nil
	}
	load := func(path string) (int, error) {
		_, total, err := fetch(path)
		if err != nil {
			return 0, err
		}
		// The page came compressed; its links are read from the same page
		// asked for again through a client that decodes it.
		_, plain, err := b.get(ctx, path)
		if err != nil {
			return 0, err
		}
		for _, m := range pageAsset.FindAllStringSubmatch(plain, -1) {
			if cached[m[1]] {
				continue
			}
			_, n, err := fetch(m[1])
			if err != nil {
				return 0, err
			}
			total += n
		}
		return total, nil
	}
	var err error
	if res.FirstBytes, err = load(first); err != nil {
		return res, err
	}
	res.NextBytes, err = load(next)
	return res, err
}
