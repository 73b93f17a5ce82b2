//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// stepTimeout bounds one browser step; waits poll up to waitTimeout.
const (
	stepTimeout = 20 * time.Second
	waitTimeout = 10 * time.Second
)

// reportBinding is the page-side function through which the injected
// listener reports Content-Security-Policy violations.
const reportBinding = "__kwReportViolation"

// cspListener runs before every document's own scripts and reports each
// securitypolicyviolation event.
const cspListener = `document.addEventListener("securitypolicyviolation", (e) => {
  try {
    window.` + reportBinding + `(JSON.stringify({directive: e.violatedDirective, blocked: e.blockedURI,
      source: e.sourceFile, line: e.lineNumber, sample: e.sample, page: location.pathname}));
  } catch (_) {}
}, true);`

// tab is one browser tab in a browser context of its own, pointed at one
// server. Its methods fail the test with a screenshot and the page's text.
type tab struct {
	t   *testing.T
	ctx context.Context
	srv *server

	mu       sync.Mutex
	problems []string // console errors, exceptions, CSP violations
	expected []string // substrings of console errors the test causes on purpose
	dialogs  []string // messages of JavaScript dialogs (confirm)

	// acceptDialogs answers window.confirm: true accepts, false dismisses.
	acceptDialogs atomic.Bool
	failures      int
}

// newTab opens a tab on srv at desktop size in the light colour scheme,
// with clipboard access granted for the server's origin.
func newTab(t *testing.T, srv *server) *tab {
	t.Helper()
	tb := &tab{t: t, srv: srv}
	tb.acceptDialogs.Store(true)
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.onEvent))
	t.Cleanup(cancel)
	tb.ctx = ctx
	// Checked before the tab closes (cleanups run last-registered first).
	t.Cleanup(tb.checkConsole)

	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	bctx := chromedp.FromContext(ctx).BrowserContextID
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission:       &browser.PermissionDescriptor{Name: name},
			Setting:          browser.PermissionSettingGranted,
			Origin:           srv.URL,
			BrowserContextID: bctx,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	if _, err := chromedp.Call(ctx, runtime.AddBinding, runtime.AddBindingParams{Name: reportBinding}); err != nil {
		t.Fatalf("add the CSP report binding: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspListener}); err != nil {
		t.Fatalf("inject the CSP listener: %v", err)
	}
	// The clipboard API wants a focused document; headless tabs are not.
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("focus emulation: %v", err)
	}
	tb.view(desktopLight)

	// window.confirm blocks the page until answered.
	jsDialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range jsDialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, ev.Message)
			tb.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: tb.acceptDialogs.Load()})
		}
	}()
	return tb
}

// onEvent records console errors, uncaught exceptions, browser log errors
// and CSP violations. It runs in the tab's event loop: no commands here.
func (tb *tab) onEvent(ev any) {
	var problem string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		text := consoleText(ev.Args)
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert || refusedRE.MatchString(text) {
			problem = "console." + string(ev.Type) + ": " + text
			if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
				f := st.CallFrames[0]
				problem += fmt.Sprintf(" (at %s:%d)", f.URL, f.LineNumber+1)
			}
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		problem = fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text)
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e.Level == cdplog.EntryLevelError || refusedRE.MatchString(e.Text) {
			problem = fmt.Sprintf("browser log (%s, %s): %s %s", e.Source, e.Level, e.Text, e.URL)
		}
	case *runtime.EventBindingCalled:
		if ev.Name == reportBinding {
			problem = "CSP violation: " + ev.Payload
		}
	}
	if problem == "" {
		return
	}
	tb.mu.Lock()
	tb.problems = append(tb.problems, problem)
	tb.mu.Unlock()
}

// refusedRE matches Chromium's messages about blocked content.
var refusedRE = regexp.MustCompile(`Refused to|Content Security Policy|Content-Security-Policy`)

func consoleText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		switch {
		case len(a.Value) > 0:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// expectConsole marks console errors containing substr as caused on
// purpose (an answer the test asks for, such as a 403 page).
func (tb *tab) expectConsole(substr string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.expected = append(tb.expected, substr)
}

// unexpectedProblems returns the recorded problems not marked as expected.
func (tb *tab) unexpectedProblems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, p := range tb.problems {
		ok := false
		for _, e := range tb.expected {
			// CSP violations are never expected.
			if strings.Contains(p, e) && !strings.HasPrefix(p, "CSP violation") && !refusedRE.MatchString(p) {
				ok = true
				break
			}
		}
		if !ok {
			out = append(out, p)
		}
	}
	return out
}

// checkConsole fails the test if any page showed a console error, an
// uncaught exception or a CSP violation.
func (tb *tab) checkConsole() {
	if ps := tb.unexpectedProblems(); len(ps) > 0 {
		tb.t.Errorf("the pages reported %d console error(s) or CSP violation(s):\n  %s", len(ps), strings.Join(ps, "\n  "))
	}
}

// jsDialogs returns the messages of the JavaScript dialogs seen so far.
func (tb *tab) jsDialogs() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.dialogs...)
}

// --- failing with evidence ----------------------------------------------------

// fatalf fails the test, printing a screenshot's path, the address and the
// page's visible text.
func (tb *tab) fatalf(format string, args ...any) {
	tb.t.Helper()
	tb.t.Fatal(tb.evidence(fmt.Sprintf(format, args...)))
}

// errorf is fatalf without stopping the test.
func (tb *tab) errorf(format string, args ...any) {
	tb.t.Helper()
	tb.t.Error(tb.evidence(fmt.Sprintf(format, args...)))
}

func (tb *tab) evidence(msg string) string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	var b strings.Builder
	b.WriteString(msg)
	tb.failures++
	name := fmt.Sprintf("FAIL-%s-%d.png", safeName(tb.t.Name()), tb.failures)
	path := filepath.Join(shotDir, name)
	if buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err != nil {
		fmt.Fprintf(&b, "\n(no screenshot: %v)", err)
	} else if err := os.WriteFile(path, buf, 0o644); err != nil {
		fmt.Fprintf(&b, "\n(no screenshot: %v)", err)
	} else {
		abs, _ := filepath.Abs(path)
		fmt.Fprintf(&b, "\nscreenshot: %s", abs)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		fmt.Fprintf(&b, "\naddress: %s", loc)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		fmt.Fprintf(&b, "\n(no page text: %v)", err)
	} else {
		if len(text) > 4000 {
			text = text[:4000] + "…"
		}
		fmt.Fprintf(&b, "\npage text:\n----\n%s\n----", text)
	}
	if ps := tb.unexpectedProblems(); len(ps) > 0 {
		fmt.Fprintf(&b, "\nconsole problems so far:\n  %s", strings.Join(ps, "\n  "))
	}
	return b.String()
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

// --- steps ----------------------------------------------------------------------

// do runs actions with the step timeout and fails with evidence on error.
func (tb *tab) do(desc string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fatalf("%s: %v", desc, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := tryEval[T](tb, expr)
	if err != nil {
		tb.fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func tryEval[T any](tb *tab, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// waitJS waits until expr is truthy, across navigations.
func (tb *tab) waitJS(desc, expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last error
	for {
		ok, err := tryEval[bool](tb, "!!("+expr+")")
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				tb.fatalf("waiting for %s (%s): %v", desc, expr, last)
			}
			tb.fatalf("waiting for %s: still false after %s: %s", desc, waitTimeout, expr)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// waitPage waits until the page at path (and optional query) has loaded
// with app.js and htmx ready and no htmx request in flight.
func (tb *tab) waitPage(pathPrefix string) {
	tb.t.Helper()
	tb.waitJS("the page "+pathPrefix, fmt.Sprintf(`location.pathname.startsWith(%q) && document.readyState === "complete" && window.htmx && !document.querySelector(".htmx-request")`, pathPrefix))
}

// settle waits until no htmx request is in flight and no finite CSS
// animation or transition runs (a dialog fading in).
func (tb *tab) settle() {
	tb.t.Helper()
	tb.waitJS("htmx to settle", `!document.querySelector(".htmx-request, .htmx-settling, .htmx-swapping")`)
	tb.waitJS("animations to end", `document.getAnimations().every((a) => a.playState !== "running" ||
	  !a.effect || a.effect.getComputedTiming().endTime === Infinity)`)
}

// open navigates to path and returns the HTTP status of the document.
func (tb *tab) open(path string) int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(tb.srv.URL+path))
	if err != nil {
		tb.fatalf("open %s: %v", path, err)
	}
	tb.waitJS("the page to load", `document.readyState === "complete" && !!window.htmx`)
	if res == nil {
		return 0
	}
	return res.Status
}

// click clicks the first visible element matching sel with the mouse,
// after scrolling it to the middle of its scroll area (as a user would:
// not under a dialog's sticky footer). It fails if another element covers
// the point it would click.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	// Content htmx has just swapped in (marked htmx-added) is processed as
	// it settles: until then its hx- buttons are plain form buttons, and a
	// click submits the no-JavaScript fallback instead. A person's click
	// comes long after the 20 ms settle.
	tb.waitJS(sel+" to show", fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && el.getClientRects().length > 0 && !el.closest(".htmx-added"); })()`, sel))
	type target struct {
		X, Y    float64
		Covered string
	}
	p := eval[target](tb, fmt.Sprintf(`(() => {
	  const el = document.querySelector(%q);
	  el.scrollIntoView({block: "center", inline: "nearest"});
	  const r = el.getClientRects()[0];
	  const x = r.left + r.width / 2, y = r.top + r.height / 2;
	  const hit = document.elementFromPoint(x, y);
	  let covered = "";
	  if (hit && hit !== el && !el.contains(hit) && !(hit.control === el) && !hit.contains(el)) {
	    covered = hit.tagName.toLowerCase() + (hit.id ? "#" + hit.id : "") + (hit.className ? "." + String(hit.className).trim().replace(/\s+/g, ".") : "");
	  }
	  return {X: x, Y: y, Covered: covered};
	})()`, sel))
	if p.Covered != "" {
		tb.fatalf("click %s: the point (%.0f, %.0f) is covered by %s", sel, p.X, p.Y, p.Covered)
	}
	tb.do("click "+sel, chromedp.MouseClickXY(p.X, p.Y))
}

// typeInto focuses sel, empties it and types text with the keyboard.
func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.setValue(sel, "")
	eval[bool](tb, fmt.Sprintf(`(document.querySelector(%q).focus(), true)`, sel))
	tb.do("type into "+sel, chromedp.KeyEvent(text))
}

// setValue sets a field's value and fires input and change, as a user's
// choice would.
func (tb *tab) setValue(sel, value string) {
	tb.t.Helper()
	eval[bool](tb, fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) throw new Error("no element %s");
	  el.value = %q; el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, sel, sel, value))
}

// press sends keys (kb constants or text) to the focused element.
func (tb *tab) press(keys string) {
	tb.t.Helper()
	tb.do("press "+fmt.Sprintf("%q", keys), chromedp.KeyEvent(keys))
}

// text returns the visible text of the first element matching sel.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`(() => { const el = document.querySelector(%q); return el ? el.innerText.trim() : %q; })()`, sel, "<none: "+sel+">"))
}

// count returns the number of elements matching sel.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return eval[int](tb, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// visible reports whether an element matching sel is rendered.
func (tb *tab) visible(sel string) bool {
	tb.t.Helper()
	return eval[bool](tb, fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden"; })()`, sel))
}

// html returns the whole document as HTML, with the live values of fields
// (an input's value property is not in outerHTML).
func (tb *tab) html() string {
	tb.t.Helper()
	return eval[string](tb, `document.documentElement.outerHTML + "\n" +
	  Array.from(document.querySelectorAll("input, textarea")).map((f) => f.value).join("\n")`)
}

// storage returns everything in sessionStorage and localStorage (htmx keeps
// its history snapshots there).
func (tb *tab) storage() string {
	tb.t.Helper()
	return eval[string](tb, `JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])`)
}

// activeInside reports whether the focused element is inside sel.
func (tb *tab) activeInside(sel string) bool {
	tb.t.Helper()
	return eval[bool](tb, fmt.Sprintf(`!!(document.activeElement && document.activeElement.closest(%q))`, sel))
}

// activeDescription describes the focused element, for messages.
func (tb *tab) activeDescription() string {
	tb.t.Helper()
	return eval[string](tb, `(() => { const a = document.activeElement; if (!a) return "nothing";
	  return a.tagName.toLowerCase() + (a.id ? "#" + a.id : "") + " " + JSON.stringify((a.innerText || a.value || a.getAttribute("aria-label") || "").trim().slice(0, 60)); })()`)
}

// tabTo presses Tab until expr (evaluated on document.activeElement as
// el) is true, at most max times.
func (tb *tab) tabTo(desc, expr string, max int) {
	tb.t.Helper()
	for i := 0; i < max; i++ {
		tb.press(kb.Tab)
		if eval[bool](tb, `(() => { const el = document.activeElement; return !!el && !!(`+expr+`); })()`) {
			return
		}
	}
	tb.fatalf("%s: not reached with %d presses of Tab (focus is on %s)", desc, max, tb.activeDescription())
}

// doubleClick double-clicks the centre of sel as a mouse does: two
// press/release pairs, the second with click count 2.
func (tb *tab) doubleClick(sel string) {
	tb.t.Helper()
	type point struct{ X, Y float64 }
	p := eval[point](tb, fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return {X: r.x + r.width/2, Y: r.y + r.height/2}; })()`, sel))
	var steps []chromedp.Action[chromedp.Void]
	for n := 1; n <= 2; n++ {
		steps = append(steps,
			chromedp.MouseEvent(chromedp.MousePressed, p.X, p.Y, chromedp.ButtonLeft, chromedp.ClickCount(n)),
			chromedp.MouseEvent(chromedp.MouseReleased, p.X, p.Y, chromedp.ButtonLeft, chromedp.ClickCount(n)))
	}
	tb.do("double-click "+sel, steps...)
}

// signIn signs in through the login form.
func (tb *tab) signIn(email, pw string) {
	tb.t.Helper()
	tb.open("/login")
	tb.waitJS("the sign-in form", `document.querySelector('form[action="/login"]')`)
	tb.typeInto("#email", email)
	tb.typeInto("#password", pw)
	tb.click(`form[action="/login"] button[type=submit]`)
	tb.waitJS("signed in", `!location.pathname.startsWith("/login") && document.readyState === "complete" && !!window.htmx`)
}

// signOut signs out through the account menu.
func (tb *tab) signOut() {
	tb.t.Helper()
	tb.click("details.user-menu > summary")
	tb.click(`details.user-menu form[action="/logout"] button`)
	tb.waitJS("signed out", `location.pathname === "/login" && document.readyState === "complete"`)
}

// view sets the viewport and colour scheme.
func (tb *tab) view(v variant) {
	tb.t.Helper()
	// The screen is the viewport's size: a phone's width=device-width is 390.
	opts := []chromedp.EmulateViewportOption{func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
		p.ScreenWidth, p.ScreenHeight = v.width, v.height
	}}
	if v.mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	scheme := "light"
	if v.dark {
		scheme = "dark"
	}
	tb.do("set the view "+v.name,
		chromedp.EmulateViewport(v.width, v.height, opts...),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
			})
			return err
		}))
}

// reload reloads the page.
func reload() chromedp.Action[chromedp.Void] { return chromedp.Reload() }

// back goes back in history as the Back button does (the page may come
// from the back/forward cache or htmx's history, without a load event).
func (tb *tab) back() {
	tb.t.Helper()
	eval[bool](tb, `(history.back(), true)`)
}

// waitDialogs waits until n JavaScript dialogs have been seen.
func (tb *tab) waitDialogs(n int) {
	tb.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for len(tb.jsDialogs()) < n {
		if time.Now().After(deadline) {
			tb.fatalf("waiting for a confirmation dialog: seen %q", tb.jsDialogs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
