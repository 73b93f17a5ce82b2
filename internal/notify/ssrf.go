package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// blocked are the ranges a webhook may not reach unless private targets are
// allowed: loopback, RFC 1918 and unique-local, link-local (which holds the
// cloud metadata address 169.254.169.254), shared address space, and the
// unspecified, multicast and reserved ranges.
var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "64:ff9b::/96", "2001:db8::/32",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// ErrPrivateTarget is returned when a webhook would reach a refused address.
var ErrPrivateTarget = errors.New("refused: the address is loopback, private, link-local or reserved (set KEYWARD_WEBHOOK_ALLOW_PRIVATE=true to allow it)")

// PrivateAddr reports whether addr is in a refused range. IPv4-mapped IPv6
// addresses are judged as the IPv4 address they carry.
func PrivateAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range blocked {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// guardedDialer dials only public addresses (unless allowPrivate). The check
// runs in Control, after DNS resolution, on the very address being
// connected to, so a name that resolves to a public address when checked and
// a private one when used (DNS rebinding) is still refused.
func guardedDialer(allowPrivate bool, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook dial %s: %w", address, err)
			}
			if PrivateAddr(ap.Addr()) {
				return fmt.Errorf("webhook dial %s: %w", address, ErrPrivateTarget)
			}
			return nil
		}
	}
	return d
}

// CheckEndpointURL validates a webhook URL as entered: absolute https (http
// too when private targets are allowed, for development), a host, no
// credentials or fragment, and, unless private targets are allowed, a host
// that is not and does not resolve to a refused address. It returns
// EINVALID with a message for the form. The delivery dialer checks again at
// every connection.
func CheckEndpointURL(ctx context.Context, raw string, allowPrivate bool) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", model.Errorf(model.EINVALID, "Enter an absolute https:// URL.")
	}
	if u.Scheme == "http" && !allowPrivate {
		return "", model.Errorf(model.EINVALID, "Use an https:// URL: webhooks carry your team's events.")
	}
	if u.User != nil || u.Fragment != "" {
		return "", model.Errorf(model.EINVALID, "Leave credentials and #fragments out of the URL.")
	}
	if len(raw) > 2000 {
		return "", model.Errorf(model.EINVALID, "Use a URL of at most 2,000 characters.")
	}
	if allowPrivate {
		return u.String(), nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if PrivateAddr(a) {
			return "", model.Errorf(model.EINVALID, "That address is loopback, private or link-local; keyward does not send webhooks there.")
		}
		return u.String(), nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return "", model.Errorf(model.EINVALID, "localhost is not reachable from keyward's webhooks; use a public https:// URL.")
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return "", model.Errorf(model.EINVALID, "The host %s does not resolve; check the URL.", host)
	}
	for _, a := range addrs {
		if PrivateAddr(a) {
			return "", model.Errorf(model.EINVALID, "%s resolves to a private or loopback address; keyward does not send webhooks there.", host)
		}
	}
	return u.String(), nil
}
