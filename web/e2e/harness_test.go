//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestHarnessSeesProblems proves that the checks the other tests rely on
// can fail: a CSP violation, a console error and an axe violation are all
// noticed.
func TestHarnessSeesProblems(t *testing.T) {
	srv := startServer(t)
	tb := newTab(t, srv)
	tb.open("/setup")
	tb.waitPage("/setup")

	// An inline style attribute is refused by style-src 'self'.
	eval[bool](tb, `(document.body.setAttribute("style", "outline: 1px solid red"), true)`)
	eval[bool](tb, `(console.error("harness check"), true)`)
	var csp, console bool
	for i := 0; i < 50 && !(csp && console); i++ {
		for _, p := range tb.unexpectedProblems() {
			csp = csp || strings.HasPrefix(p, "CSP violation") && strings.Contains(p, "style-src")
			console = console || strings.Contains(p, "harness check")
		}
		tb.waitJS("a moment", `new Promise((r) => setTimeout(() => r(true), 20))`)
	}
	if !csp || !console {
		t.Errorf("recorded problems %q: want a CSP violation (%v) and the console error (%v)", tb.unexpectedProblems(), csp, console)
	}

	eval[bool](tb, `(document.body.insertAdjacentHTML("beforeend", '<img src="/static/favicon.svg">'), true)`)
	eval[bool](tb, tb.axeSourceOnce()+";true")
	vs := eval[[]axeViolation](tb, axeRun)
	found := false
	for _, v := range vs {
		found = found || v.ID == "image-alt"
	}
	if !found {
		t.Errorf("axe did not report an image without alt text: %+v", vs)
	}

	// Everything above was on purpose.
	tb.mu.Lock()
	tb.problems = nil
	tb.mu.Unlock()
}
