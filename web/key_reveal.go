package web

import (
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// keyReveal is the one-time reveal of a new key, with its quick start:
// /v1/whoami on this host, and a GET through the gateway when one runs.
func (s *Server) keyReveal(c echo.Context, k model.APIKey, raw string, now time.Time) views.KeyReveal {
	r := views.KeyReveal{Key: k, Raw: raw, Now: now, BaseURL: c.Scheme() + "://" + c.Request().Host}
	if s.cfg.GatewayAddr != "" {
		if path := gatewayPathFor(s.catalog.Resources(), k.Permission()); path != "" {
			r.GatewayURL, r.GatewayPath = gatewayURL(s.cfg.GatewayAddr, c.Request().Host), path
		}
	}
	return r
}

// gatewayURL is the gateway's address as this page's visitor reaches it:
// the listener's host, or the page's host name when the gateway listens
// on every address, with the gateway's port.
func gatewayURL(addr, pageHost string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = pageHost
		if h, _, err := net.SplitHostPort(pageHost); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
	}
	return "http://" + net.JoinHostPort(host, port)
}

// gatewayPathFor returns the first fixed route (no `*`) of the first
// resource, in the catalog's order, that p may read: a path the new key
// can GET through the gateway ("" when there is none).
func gatewayPathFor(resources []model.Resource, p model.Permission) string {
	for _, res := range resources {
		if !p.Allows(res.Name, model.AccessRead) {
			continue
		}
		for _, route := range res.Routes {
			if !strings.Contains(route, "*") {
				return route
			}
		}
	}
	return ""
}
