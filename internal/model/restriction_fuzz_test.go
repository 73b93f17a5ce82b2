package model_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/model"
)

// FuzzParseAllowedIPs checks the IP/CIDR list parser on arbitrary text: it
// never panics; an accepted list has at most MaxAllowedIPs distinct,
// normalised entries (parsing them again gives them back), none covering
// every address; and every address typed on a line is allowed by the
// result, IPv4-mapped or not. A refusal is EINVALID and names a line or
// the bound.
func FuzzParseAllowedIPs(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7\n2001:db8::/32", "::ffff:10.0.0.1", "0.0.0.0/0", "::/0",
		"10.0.0.300", "fe80::1%eth0", "1.2.3.4/33", "\n\n", "10.1.2.3/8\n10.0.0.0/8", "::ffff:0.0.0.0/96", "1.1.1.1\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := model.ParseAllowedIPsText(text)
		if err != nil {
			msg := model.ErrorMessage(err)
			if model.ErrorCode(err) != model.EINVALID || !(strings.HasPrefix(msg, "Line ") || strings.HasPrefix(msg, "At most")) {
				t.Fatalf("%q: refused with %v", text, err)
			}
			return
		}
		if len(got) > model.MaxAllowedIPs {
			t.Fatalf("%q: %d entries", text, len(got))
		}
		again, err := model.ParseAllowedIPs(got)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("%q: %q parses again as %q, %v", text, got, again, err)
		}
		ps := model.CompileAllowedIPs(got)
		for _, p := range ps {
			if p.Bits() == 0 {
				t.Fatalf("%q: %v covers every address", text, p)
			}
		}
		for line := range strings.SplitSeq(text, "\n") {
			if a, err := netip.ParseAddr(strings.TrimSpace(line)); err == nil && !model.IPAllowed(ps, a) {
				t.Fatalf("%q: %v is listed but not allowed by %q", text, a, got)
			}
		}
	})
}

// FuzzParseAllowedReferrers checks the referrer pattern parser: accepted
// patterns are lower-case host names, optionally "*." and a host, that
// parse again unchanged; an exact pattern matches its own host.
func FuzzParseAllowedReferrers(f *testing.F) {
	for _, s := range []string{"app.example.com", "*.example.com", "https://App.Example.com/x", "a:80", "*", "a..b", "xn--bcher-kva.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := model.ParseAllowedReferrersText(text)
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("%q: %v", text, err)
			}
			return
		}
		again, err := model.ParseAllowedReferrers(got)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("%q: %q parses again as %q, %v", text, got, again, err)
		}
		for _, p := range got {
			if p != strings.ToLower(p) || strings.ContainsAny(p, ":/ ") {
				t.Fatalf("%q: pattern %q", text, p)
			}
			if !strings.HasPrefix(p, "*.") && !model.ReferrerAllowed(got, model.RequestHost("https://"+p+"/")) {
				t.Fatalf("%q: %q does not match its own host", text, p)
			}
		}
	})
}

// FuzzParseRateLimit checks "limit/period": accepted limits are within the
// bounds with a known period, and print back as they parse.
func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{"100/1m", "1/1s", "0/1m", "5/2h", "1000000000/1d", "1000000001/1d", "-3/1s", "x", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := model.ParseRateLimit(s)
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if r.Limit < 1 || r.Limit > model.MaxRateLimit || r.Duration() <= 0 {
			t.Fatalf("%q: accepted %+v", s, r)
		}
		if again, err := model.ParseRateLimit(r.String()); err != nil || again != r {
			t.Fatalf("%q: %+v prints as %q which parses as %+v, %v", s, r, r.String(), again, err)
		}
	})
}

// FuzzParseQuota checks the quota refill parser and NewQuota's bounds.
func FuzzParseQuota(f *testing.F) {
	f.Add(int64(10000), "10000/month")
	f.Add(int64(0), "1/day")
	f.Add(int64(-1), "5/week")
	f.Add(int64(model.MaxQuota+1), "0/day")
	f.Fuzz(func(t *testing.T, remaining int64, refill string) {
		amount, period, err := model.ParseQuotaRefill(refill)
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("%q: %v", refill, err)
			}
			period, amount = "none", 0
		} else if amount < 1 || amount > model.MaxQuota || (period != model.RefillDay && period != model.RefillMonth) {
			t.Fatalf("%q: accepted %d/%s", refill, amount, period)
		}
		q, err := model.NewQuota(remaining, period, amount)
		if want := remaining >= 0 && remaining <= model.MaxQuota; (err == nil) != want {
			t.Fatalf("NewQuota(%d, %q, %d) = %+v, %v", remaining, period, amount, q, err)
		}
	})
}
