package main

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDashboardURL(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:8080":   "http://localhost:8080",
		"[::]:8080":      "http://localhost:8080",
		"127.0.0.1:9000": "http://127.0.0.1:9000",
		"[::1]:8080":     "http://[::1]:8080",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := dashboardURL(a); got != want {
			t.Errorf("dashboardURL(%s) = %s, want %s", addr, got, want)
		}
	}
}

// keyward serve says where to open the dashboard once it listens, and the
// URL it prints answers.
func TestServePrintsTheURLOnceListening(t *testing.T) {
	var out, logs syncBuf
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &logs,
		getenv: envMap{"KEYWARD_DATA_DIR": t.TempDir(), "KEYWARD_ADDR": "127.0.0.1:0"}.get}
	done := make(chan error, 1)
	go func() { done <- run(ctx, e, []string{"serve"}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	url := regexp.MustCompile(`keyward is listening: open (http://127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(60 * time.Second)
	var m []string
	for m = url.FindStringSubmatch(logs.String()); m == nil; m = url.FindStringSubmatch(logs.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no URL in the log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, err := http.Get(m[1] + "/healthz")
	if err != nil {
		t.Fatalf("the printed URL does not answer: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/healthz: %d", m[1], res.StatusCode)
	}
	// Not a terminal: JSON lines, for a collector.
	if !strings.HasPrefix(logs.String(), "{") {
		t.Errorf("logs to a pipe are not JSON: %.80s", logs.String())
	}
}

// getenv-style lookups on a map.
type envMap map[string]string

func (m envMap) get(k string) string { return m[k] }
