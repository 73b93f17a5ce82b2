//go:build e2e

package e2e

import (
	_ "embed"
	"fmt"
	"strings"
)

// axeSource is axe-core, vendored from its npm package (testdata/VERSIONS.md).
//
//go:embed testdata/axe.min.js
var axeSource string

// axeViolation is one failed axe rule, with a few of the failing nodes.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	URL    string `json:"helpUrl"`
	Nodes  []struct {
		Target  string `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// axeRun runs axe on the whole document, open dialog included, and keeps
// the serious and critical violations.
const axeRun = `(async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.slice(0, 6).map((n) => ({target: n.target.join(" "), html: n.html.slice(0, 200), summary: n.failureSummary}))}));
})()`

// axe checks the current page (and open dialog) for accessibility
// violations of impact serious or critical, and fails the test on any.
func (tb *tab) axe(what string) {
	tb.t.Helper()
	tb.settle()
	eval[bool](tb, tb.axeSourceOnce()+"\n;true")
	vs := eval[[]axeViolation](tb, axeRun)
	if len(vs) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "axe: %d serious or critical violation(s) on %s:", len(vs), what)
	for _, v := range vs {
		fmt.Fprintf(&b, "\n- %s (%s): %s %s", v.ID, v.Impact, v.Help, v.URL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n    %s\n      %s\n      %s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n      "))
		}
	}
	tb.errorf("%s", b.String())
}

// axeSourceOnce returns a script that loads axe into the page unless it is
// there already. It is evaluated through the DevTools protocol, which the
// page's CSP does not govern; axe itself needs no eval.
func (tb *tab) axeSourceOnce() string {
	return "if (typeof window.axe !== \"object\") {\n" + axeSource + "\n}"
}
