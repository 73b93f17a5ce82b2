package web

import (
	"bufio"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/labstack/echo/v4"
)

// Responses made per request (pages, fragments, JSON) are compressed with
// brotli or gzip when the client accepts either and the body is worth it:
// at least compressMin bytes of a text type. Assets are not compressed
// here: they were compressed once, at start-up (web/assets.go).

// compressMin is the smallest body worth compressing: below it the
// encoding's framing and the CPU cost more than the bytes saved.
const compressMin = 1024

// Levels for per-request compression: fast ones, as the body is made anew
// each time.
const (
	brotliLevel = 4
	gzipLevel   = gzip.DefaultCompression
)

var (
	brotliPool = sync.Pool{New: func() any { return brotli.NewWriterLevel(io.Discard, brotliLevel) }}
	gzipPool   = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(io.Discard, gzipLevel); return w }}
)

// varyAcceptEncoding is the Vary header of every response compress sees
// (shared, read only: its capacity is its length).
var varyAcceptEncoding = []string{"Accept-Encoding"}

// compressing installs a compressing writer on c's response if the client
// accepts br or gzip and returns it, or nil; machine is the stack's
// machineTraffic for the request (a step of the stack,
// web/middleware.go; the stack calls release when the handler is done).
func (s *Server) compressing(c echo.Context, machine bool) *compressWriter {
	r := c.Request()
	if strings.HasPrefix(r.URL.Path, "/static/") {
		return nil
	}
	// Whether or not this answer is compressed, it could have been:
	// caches must keep apart the answers to different Accept-Encodings.
	// (Machine traffic is no-store: no cache keeps it.)
	if !machine {
		h := c.Response().Header()
		if _, ok := h["Vary"]; !ok {
			h["Vary"] = varyAcceptEncoding
		}
	}
	ae := r.Header.Get("Accept-Encoding")
	if ae == "" || r.Method == http.MethodHead || r.Header.Get("Upgrade") != "" {
		return nil
	}
	coding := ""
	switch {
	case acceptsEncoding(ae, "br"):
		coding = "br"
	case acceptsEncoding(ae, "gzip"):
		coding = "gzip"
	default:
		return nil
	}
	res := c.Response()
	cw := compressWriters.Get().(*compressWriter)
	cw.ResponseWriter, cw.coding = res.Writer, coding
	res.Writer = cw
	return cw
}

// release ends w's response (see finish), puts back res's own writer and
// returns w to its pool.
func (w *compressWriter) release(res *echo.Response) {
	w.finish()
	res.Writer = w.ResponseWriter
	buf := w.buf[:0]
	if cap(buf) > 4*compressMin {
		buf = nil // a large body's buffer is not kept
	}
	*w = compressWriter{buf: buf}
	compressWriters.Put(w)
}

// compressWriters keeps compressWriters with their buffers, so that the
// many small answers (held back whole, then sent as they are) cost no
// allocation.
var compressWriters = sync.Pool{New: func() any { return &compressWriter{buf: make([]byte, 0, compressMin)} }}

// compressWriter holds back up to compressMin bytes to decide whether to
// compress, then writes through an encoder or as is.
type compressWriter struct {
	http.ResponseWriter
	coding  string
	status  int
	buf     []byte
	decided bool
	enc     io.WriteCloser // nil: written as is
}

func (w *compressWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	h := w.Header()
	// Bodiless and already encoded answers, and streams that must reach
	// the client as they are written, go out as they are.
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified ||
		h.Get("Content-Encoding") != "" || !compressible(h.Get("Content-Type")) {
		w.decide(false)
	}
}

func (w *compressWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.decided {
		if w.enc != nil {
			return w.enc.Write(p)
		}
		return w.ResponseWriter.Write(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= compressMin {
		w.decide(true)
		if err := w.flushBuf(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// decide fixes whether the body is encoded and sends the header.
func (w *compressWriter) decide(encode bool) {
	if w.decided {
		return
	}
	w.decided = true
	h := w.Header()
	if encode {
		h.Del("Content-Length")
		h.Set("Content-Encoding", w.coding)
		if w.coding == "br" {
			bw := brotliPool.Get().(*brotli.Writer)
			bw.Reset(w.ResponseWriter)
			w.enc = bw
		} else {
			gw := gzipPool.Get().(*gzip.Writer)
			gw.Reset(w.ResponseWriter)
			w.enc = gw
		}
	}
	w.ResponseWriter.WriteHeader(w.status)
}

func (w *compressWriter) flushBuf() error {
	if len(w.buf) == 0 {
		return nil
	}
	var err error
	if w.enc != nil {
		_, err = w.enc.Write(w.buf)
	} else {
		_, err = w.ResponseWriter.Write(w.buf)
	}
	w.buf = w.buf[:0]
	return err
}

// finish sends what is held back (uncompressed if the body stayed small)
// and ends the encoding.
func (w *compressWriter) finish() {
	if w.status == 0 {
		return // nothing was written: the error handler writes through the plain writer
	}
	if !w.decided {
		w.Header().Set("Content-Length", strconv.Itoa(len(w.buf)))
		w.decide(false)
	}
	_ = w.flushBuf()
	if w.enc != nil {
		_ = w.enc.Close()
		switch e := w.enc.(type) {
		case *brotli.Writer:
			e.Reset(io.Discard)
			brotliPool.Put(e)
		case *gzip.Writer:
			e.Reset(io.Discard)
			gzipPool.Put(e)
		}
		w.enc = nil
	}
}

// Flush sends what is held back and flushes the encoder, for responses that
// stream (the audit log export).
func (w *compressWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.decided {
		w.decide(true)
	}
	_ = w.flushBuf()
	if f, ok := w.enc.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack passes through for protocol upgrades.
func (w *compressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *compressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
