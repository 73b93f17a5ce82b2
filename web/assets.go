package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/bits"
	"mime"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/labstack/echo/v4"
	"github.com/tdewolff/minify/v2"
	"github.com/tdewolff/minify/v2/css"
	"github.com/tdewolff/minify/v2/js"

	"github.com/keyward/keyward/static"
)

// The embedded assets as served: app.css and app.js minified, every file
// under a content-hashed name (app.3f9c0a1b2d.css) that is cached for a
// year as immutable, and compressed with brotli and gzip once, when the
// process first needs them, never per request. The plain names still
// answer (with revalidation), for pages rendered by an older build.

// asset is one file of static.FS, ready to serve.
type asset struct {
	name   string // as in static.FS: "app.css", "vendor/htmx.min.js"
	hashed string // "app.3f9c0a1b2d.css"
	ctype  string
	etag   string // strong: the content hash, quoted
	body   []byte
	br, gz []byte // nil when compressing does not pay
}

// assetSet is every asset, by plain and by hashed name.
type assetSet struct {
	byName   map[string]*asset
	byHashed map[string]*asset
	// urls maps a plain name to its URL ("/static/app.3f9c0a1b2d.css"),
	// for the pages' <link> and <script> tags.
	urls map[string]string
}

// url is the content-hashed URL of the asset named name ("app.css"), or
// its plain URL if there is no such asset.
func (a *assetSet) url(name string) string {
	if u, ok := a.urls[name]; ok {
		return u
	}
	return "/static/" + name
}

// The assets are built from embedded files, the same for every server of
// the process: built once (brotli at its best level takes a moment).
var (
	assetsOnce  sync.Once
	assetsBuilt *assetSet
	assetsErr   error
)

func loadAssets() (*assetSet, error) {
	assetsOnce.Do(func() { assetsBuilt, assetsErr = buildAssets(static.FS) })
	return assetsBuilt, assetsErr
}

// cssURL matches a relative url("…") in a stylesheet (icons/chevron.svg).
var cssURL = regexp.MustCompile(`url\("([a-z0-9_./-]+)"\)`)

func buildAssets(fsys fs.FS) (*assetSet, error) {
	set := &assetSet{byName: map[string]*asset{}, byHashed: map[string]*asset{}, urls: map[string]string{}}
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	// Stylesheets last: they name the other files' hashed URLs.
	sort.SliceStable(names, func(i, j int) bool {
		return path.Ext(names[i]) != ".css" && path.Ext(names[j]) == ".css"
	})
	m := minify.New()
	m.AddFunc("text/css", css.Minify)
	m.AddFunc("text/javascript", js.Minify)
	for _, name := range names {
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ext := path.Ext(name)
		if ext == ".css" {
			dir := path.Dir(name)
			body = cssURL.ReplaceAllFunc(body, func(u []byte) []byte {
				rel := string(cssURL.FindSubmatch(u)[1])
				target, ok := set.byName[path.Join(dir, rel)]
				if !ok {
					return u
				}
				return []byte(`url("` + path.Join(path.Dir(rel), path.Base(target.hashed)) + `")`)
			})
		}
		// Our own stylesheet and script are minified here; the vendored
		// files come minified.
		if !strings.HasPrefix(name, "vendor/") {
			switch ext {
			case ".css":
				body, err = m.Bytes("text/css", body)
			case ".js":
				body, err = m.Bytes("text/javascript", body)
			}
			if err != nil {
				return nil, fmt.Errorf("minifying %s: %w", name, err)
			}
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:5])
		a := &asset{name: name, body: body, etag: `"` + hash + `"`,
			hashed: strings.TrimSuffix(name, ext) + "." + hash + ext, ctype: mime.TypeByExtension(ext)}
		if a.ctype == "" {
			a.ctype = "application/octet-stream"
		}
		if compressible(a.ctype) {
			a.br, a.gz = precompress(body)
		}
		set.byName[name] = a
		set.byHashed[a.hashed] = a
		set.urls[name] = "/static/" + a.hashed
	}
	return set, nil
}

// precompress returns body in brotli and gzip at their best levels, each
// only if it is smaller than body.
func precompress(body []byte) (br, gz []byte) {
	var b bytes.Buffer
	// The window need not be larger than the asset: the default (4 MiB)
	// makes the best level allocate tens of MiB per asset, which the
	// process would keep as peak memory for nothing.
	bw := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: brotliWindow(len(body))})
	_, _ = bw.Write(body)
	_ = bw.Close()
	if b.Len() < len(body) {
		br = bytes.Clone(b.Bytes())
	}
	b.Reset()
	gw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = gw.Write(body)
	_ = gw.Close()
	if b.Len() < len(body) {
		gz = bytes.Clone(b.Bytes())
	}
	return br, gz
}

// brotliWindow is the smallest window (log2, within brotli's 10..24) that
// holds n bytes, so that the whole asset is in reach of every match.
func brotliWindow(n int) int {
	return min(max(bits.Len(uint(n+16)), 10), 24)
}

// Cache-Control of assets: hashed names never change; plain names are
// revalidated with their ETag.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "public, no-cache"
)

// handleAsset serves GET /static/*: an embedded asset under its hashed or
// plain name, in the best encoding the client accepts, 304 when the
// client's copy is current.
func (s *Server) handleAsset(c echo.Context) error {
	name := c.Param("*")
	a, cache := s.assets.byHashed[name], cacheImmutable
	if a == nil {
		a, cache = s.assets.byName[name], cacheRevalidate
	}
	if a == nil {
		return echo.ErrNotFound
	}
	r, h := c.Request(), c.Response().Header()
	h.Set("Cache-Control", cache)
	h.Set("ETag", a.etag)
	if a.br != nil || a.gz != nil {
		h.Set("Vary", "Accept-Encoding")
	}
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	body := a.body
	ae := r.Header.Get("Accept-Encoding")
	switch {
	case a.br != nil && acceptsEncoding(ae, "br"):
		body = a.br
		h.Set("Content-Encoding", "br")
	case a.gz != nil && acceptsEncoding(ae, "gzip"):
		body = a.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return c.Blob(http.StatusOK, a.ctype, body)
}

// etagMatches reports whether an If-None-Match header names etag (or *).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsEncoding reports whether an Accept-Encoding header accepts coding
// (named, or through *), with a quality above zero.
func acceptsEncoding(header, coding string) bool {
	ok := false
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, coding) && name != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if strings.EqualFold(name, coding) {
			return q > 0
		}
		ok = q > 0
	}
	return ok
}

// compressible reports whether a content type is text worth compressing.
func compressible(ctype string) bool {
	ct, _, _ := strings.Cut(ctype, ";")
	switch strings.TrimSpace(strings.ToLower(ct)) {
	case "text/html", "text/css", "text/javascript", "application/javascript", "application/json",
		"image/svg+xml", "text/plain", "text/csv", "application/problem+json":
		return true
	}
	return false
}
