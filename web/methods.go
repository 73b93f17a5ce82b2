package web

import (
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// routeTable knows which method and route pattern pairs are real routes, as
// opposed to the catch-all 404 routes that Echo adds for groups with
// middleware (and routes.go's own). It is read from the router once, on the
// first request, when every route (including Options.Extra's) is in.
type routeTable struct {
	once sync.Once
	real map[routeKey]bool
}

type routeKey struct{ method, path string }

func (t *routeTable) load(e *echo.Echo) map[routeKey]bool {
	t.once.Do(func() {
		t.real = map[routeKey]bool{}
		for _, r := range e.Routes() {
			if r.Method != echo.RouteNotFound {
				t.real[routeKey{r.Method, r.Path}] = true
			}
		}
	})
	return t.real
}

// allowMethods lists, in the order of the Allow header, the methods a wrong
// method is told about.
var allowMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// addHeadRoutes registers HEAD for every GET route that has none (DESIGN.md:
// HEAD works wherever GET does, /login and /static/* included), with the GET
// route's own handler and middleware; net/http sends the headers and drops
// the body. routes() calls it last, so routes added to the site map later
// get their HEAD too.
func addHeadRoutes(e *echo.Echo) {
	head := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method == http.MethodHead {
			head[r.Path] = true
		}
	}
	for _, r := range e.Routes() {
		if r.Method != http.MethodGet || head[r.Path] {
			continue
		}
		// The pattern itself, looked up as a path, finds its own route
		// (":id" is taken as the id, "*" as the rest).
		c := e.NewContext(nil, nil)
		e.Router().Find(http.MethodGet, r.Path, c)
		if c.Path() != r.Path {
			continue // a pattern that does not find itself; TestHeadOnEveryGetRoute names it
		}
		e.Add(http.MethodHead, r.Path, c.Handler())
		head[r.Path] = true
	}
}

// routeOf returns the route pattern the router picks for method and path
// (a catch-all 404 route's pattern when nothing else matches).
func (s *Server) routeOf(method string, r *http.Request, path string) string {
	pc := s.echo.NewContext(r, nil)
	s.echo.Router().Find(method, path, pc)
	return pc.Path()
}

// wrongMethod is 405 with Allow (RFC 9110) when the path has routes but
// none for the request's method, on the dashboard and /v1 alike, and nil
// otherwise. The stack checks it before any sign-in, key or CSRF check: a
// wrong method changes nothing and reveals only what the document of the
// API says anyway. Without it the catch-all 404 routes would answer
// instead. Paths with no route at all pass on to their 404.
func (s *Server) wrongMethod(c echo.Context) error {
	r := c.Request()
	real := s.routeTable.load(s.echo)
	if real[routeKey{r.Method, c.Path()}] {
		return nil
	}
	path := echo.GetPath(r)
	var allow []string
	for _, m := range allowMethods {
		if real[routeKey{m, s.routeOf(m, r, path)}] {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return nil
	}
	c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
	return echo.NewHTTPError(http.StatusMethodNotAllowed,
		"This address does not take "+r.Method+" requests; it takes "+strings.Join(allow, ", ")+".")
}
