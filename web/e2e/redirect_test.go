//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// TestSignInStaysOnTheSite signs in with hostile next values, as an
// attacker would link to /login: Chromium, which drops tabs and line breaks
// from a Location and reads a backslash as a slash, must land on keyward
// every time and never ask the other site for anything. The other site is a
// real server on another port, so a redirect to it would be seen.
func TestSignInStaysOnTheSite(t *testing.T) {
	srv := startServer(t)
	srv.setup(t)
	var hits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "<!doctype html><title>evil</title><p>another site")
	}))
	t.Cleanup(evil.Close)
	host := strings.TrimPrefix(evil.URL, "http://")

	// As they stand in the query string of a link to /login.
	hostile := []string{
		"/%09/" + host + "/x",         // the review's tab
		"/%0A/" + host + "/x",         // newline
		"/%0D%0A/" + host + "/x",      // CR LF
		"/%5C" + host + "/x",          // /\host
		"%5C/" + host + "/x",          // \/host
		"/%5C/" + host + "/x",         // /\/host
		"%2F%2F" + host + "/x",        // //host, encoded
		"//" + host + "/x",            // //host
		"/%2F" + host + "/x",          // //host, half encoded
		"%252F%252F" + host + "/x",    // double-encoded //
		"/%255C" + host + "/x",        // double-encoded /\
		"/%2509/" + host + "/x",       // double-encoded tab
		"http://" + host + "/x",       // another origin
		"http:/" + host + "/x",        // a scheme without slashes
		"/%E3%80%80/" + host + "/x",   // an ideographic space
		"/%09%09%5C%5C" + host + "/x", // tabs and backslashes
		"%20/" + host,                 // a leading space
		"javascript:alert(document.domain)",
	}
	tb := newTab(t, srv)
	tb.expectConsole("status of 404") // double-encoded values are paths on keyward that do not exist
	for i, next := range hostile {
		// Half through the link, half with the form's hidden field set to
		// the decoded value, as a crafted page on keyward's own origin
		// could: both must end on keyward.
		viaForm := i%2 == 1
		if viaForm {
			tb.open("/login")
		} else {
			tb.open("/login?next=" + next)
		}
		tb.waitJS("the sign-in form", `document.querySelector('form[action="/login"]')`)
		if viaForm {
			// The form has the field only when next is a path to keep.
			eval[string](tb, `(() => {
			  const f = document.querySelector('form[action="/login"]');
			  let i = f.querySelector("input[name=next]");
			  if (!i) { i = document.createElement("input"); i.type = "hidden"; i.name = "next"; f.append(i); }
			  return i.value = decodeURIComponent(`+strconv.Quote(next)+`);
			})()`)
		}
		tb.typeInto("#email", ownerEmail)
		tb.typeInto("#password", password)
		tb.click(`form[action="/login"] button[type=submit]`)
		tb.waitJS("signed in and somewhere", `!location.pathname.startsWith("/login") && document.readyState === "complete"`)
		if origin := eval[string](tb, `location.origin`); origin != srv.URL {
			tb.fatalf("next %q (via form %v) led to %s", next, viaForm, origin)
		}
		if n := hits.Load(); n != 0 {
			tb.fatalf("next %q (via form %v): the other site was asked %d times", next, viaForm, n)
		}
		tb.open("/settings/api-keys")
		tb.signOut()
	}
	// A path on the site is followed.
	tb.open("/login?next=" + "%2Fsettings%2Faudit-log")
	tb.typeInto("#email", ownerEmail)
	tb.typeInto("#password", password)
	tb.click(`form[action="/login"] button[type=submit]`)
	tb.waitPage("/settings/audit-log")
}
