//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// browserCtx is the one browser of the test binary; every test opens a tab
// of its own in a fresh browser context (cookies, storage and permissions
// start empty).
var browserCtx context.Context

// shotDir is where screenshots go: KEYWARD_SCREENSHOTS, or screenshots/out
// beside this package.
var shotDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	shotDir = os.Getenv("KEYWARD_SCREENSHOTS")
	if shotDir == "" {
		shotDir = filepath.Join("screenshots", "out")
	}
	if err := os.MkdirAll(shotDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: screenshot folder %s: %v\n", shotDir, err)
		return 1
	}
	exe, err := chromiumPath()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	profile, err := os.MkdirTemp("", "keyward-e2e-profile-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(profile)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 800),
	)
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root (CI containers).
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// The first Do starts the browser, bound to ctx (no timeout).
	if err := chromedp.Do(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting %s: %v\n", exe, err)
		return 1
	}
	browserCtx = ctx
	return m.Run()
}

// chromiumPath finds Debian's Chromium: $CHROMIUM, then chromium in PATH.
// A missing browser is a failure, never a skip.
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found: install it (Debian: apt-get install chromium) or set CHROMIUM to its path; the browser tests never skip")
}
