// Package verifytest helps test the verify path against a real PostgreSQL:
// Proxy sits between a store and the server, records every statement the
// store runs, and can cut the database off to simulate an outage.
package verifytest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Proxy is a TCP proxy in front of a PostgreSQL server. It reads the
// frontend side of the wire protocol just enough to record the SQL of each
// statement run (simple queries, and executions of prepared statements).
// Connect through it without TLS (sslmode=disable).
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	down  bool
	stmts []string
}

// Start starts a proxy to the server of dsn (a postgres:// URL) and returns
// it with the same DSN pointed at the proxy. It stops when t ends.
func Start(t testing.TB, dsn string) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("verifytest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("verifytest: %v", err)
	}
	p := &Proxy{ln: ln, target: u.Host, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(p.close)
	u.Host = ln.Addr().String()
	return p, u.String()
}

// Statements returns the SQL of every statement run so far, in order.
func (p *Proxy) Statements() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stmts...)
}

// Count returns how many statements run so far start with prefix, compared
// case-insensitively after leading space.
func (p *Proxy) Count(prefix string) int {
	n := 0
	for _, s := range p.Statements() {
		s = strings.TrimSpace(s)
		if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
			n++
		}
	}
	return n
}

// Reset forgets the statements recorded so far.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.stmts = nil
	p.mu.Unlock()
}

// SetDown cuts every open connection and refuses new ones while down is
// true, as if the database were unreachable.
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.SetDown(true)
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *Proxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		client.Close()
		server.Close()
		return
	}
	defer p.untrack(client, server)
	go func() {
		_, _ = io.Copy(client, server)
		p.untrack(client, server)
	}()
	p.readFrontend(bufio.NewReader(client), server)
}

// readFrontend copies the client's messages to the server, recording
// statements on the way.
func (p *Proxy) readFrontend(r *bufio.Reader, w io.Writer) {
	// Untyped start-up packets first: SSL or GSS encryption requests (which
	// the server declines without TLS), then the startup message.
	for {
		msg, err := readPacket(r, false)
		if err != nil || write(w, msg) != nil {
			return
		}
		code := binary.BigEndian.Uint32(msg[4:8])
		if code != 80877103 && code != 80877104 {
			break
		}
	}
	stmts := map[string]string{}
	portals := map[string]string{}
	for {
		msg, err := readPacket(r, true)
		if err != nil || write(w, msg) != nil {
			return
		}
		body := msg[5:]
		switch msg[0] {
		case 'Q':
			p.record(cstring(body, 0))
		case 'P':
			name := cstring(body, 0)
			stmts[name] = cstring(body, 1)
		case 'B':
			portals[cstring(body, 0)] = stmts[cstring(body, 1)]
		case 'E':
			p.record(portals[cstring(body, 0)])
		}
	}
}

func (p *Proxy) record(sql string) {
	p.mu.Lock()
	p.stmts = append(p.stmts, sql)
	p.mu.Unlock()
}

// readPacket reads one message: an optional type byte, then a length that
// counts itself.
func readPacket(r *bufio.Reader, typed bool) ([]byte, error) {
	head := 4
	if typed {
		head = 5
	}
	buf := make([]byte, head)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(buf[head-4:]))
	if n < 4 || n > 1<<30 {
		return nil, io.ErrUnexpectedEOF
	}
	msg := make([]byte, head+n-4)
	copy(msg, buf)
	if _, err := io.ReadFull(r, msg[head:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func write(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}

// cstring returns the i-th NUL-terminated string of b.
func cstring(b []byte, i int) string {
	for ; i > 0; i-- {
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			return ""
		}
		b = b[j+1:]
	}
	if j := bytes.IndexByte(b, 0); j >= 0 {
		return string(b[:j])
	}
	return string(b)
}
