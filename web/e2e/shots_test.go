//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"

	"github.com/chromedp/chromedp"
)

// variant is a viewport and colour scheme for screenshots.
type variant struct {
	name          string
	width, height int64
	mobile, dark  bool
}

var (
	desktopLight = variant{name: "desktop-light", width: 1280, height: 800}
	desktopDark  = variant{name: "desktop-dark", width: 1280, height: 800, dark: true}
	phoneLight   = variant{name: "phone-light", width: 390, height: 844, mobile: true}
	phoneDark    = variant{name: "phone-dark", width: 390, height: 844, mobile: true, dark: true}

	allVariants = []variant{desktopLight, desktopDark, phoneLight, phoneDark}
)

// screen checks the current screen with axe and writes its screenshots,
// <name>-<variant>.png, in every variant (light and dark, desktop and
// phone). axe runs again in the dark scheme, whose colours differ, and at
// phone width, where tables scroll and bars wrap. The tab
// ends at desktop size in the light scheme.
func (tb *tab) screen(name string) {
	tb.t.Helper()
	tb.axe(name)
	for _, v := range allVariants {
		tb.view(v)
		switch v {
		case desktopDark:
			tb.axe(name + " (dark)")
		case phoneLight:
			tb.axe(name + " (phone)")
			tb.wantNoSidewaysScroll(name)
		}
		tb.shot(name + "-" + v.name)
	}
	tb.view(desktopLight)
}

// shot writes a screenshot of the viewport as <name>.png.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	tb.settle()
	// Two frames: the new viewport or scheme laid out and painted.
	eval[bool](tb, `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(shotDir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		tb.t.Fatalf("write %s: %v", path, err)
	}
}

// wantNoSidewaysScroll fails if the page is wider than a phone's screen
// (wide tables scroll inside their own box, never the page).
func (tb *tab) wantNoSidewaysScroll(name string) {
	tb.t.Helper()
	type widths struct{ Page, Screen int }
	w := eval[widths](tb, `({Page: document.documentElement.scrollWidth, Screen: document.documentElement.clientWidth})`)
	if w.Page > w.Screen+1 {
		tb.errorf("%s: at phone width the page is %dpx wide on a %dpx screen and scrolls sideways", name, w.Page, w.Screen)
	}
}
