package model_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/model"
)

func TestParseAllowedIPs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"", []string{}, ""},
		{"10.0.0.0/8\n\n 192.0.2.7 \n10.1.2.3/8", []string{"10.0.0.0/8", "192.0.2.7"}, ""},
		{"2001:DB8::1\n2001:db8::/32\n2001:db8:0::1/128", []string{"2001:db8::1", "2001:db8::/32"}, ""},
		{"::ffff:192.0.2.7\n::ffff:10.0.0.0/104", []string{"192.0.2.7", "10.0.0.0/8"}, ""},
		{"192.0.2.7/32", []string{"192.0.2.7"}, ""},
		{"10.0.0.1\r\n10.0.0.300/8", nil, "Line 2"},
		{"10.0.0.1\nnot an ip", nil, "Line 2"},
		{"0.0.0.0/0", nil, "every address"},
		{"::/0", nil, "every address"},
		{"fe80::1%eth0", nil, "zone"},
		{"10.0.0.0/33", nil, "Line 1"},
	} {
		got, err := model.ParseAllowedIPsText(tc.in)
		if tc.err != "" {
			if err == nil || model.ErrorCode(err) != model.EINVALID || !strings.Contains(model.ErrorMessage(err), tc.err) {
				t.Errorf("%q: %v, want an error mentioning %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	var many []string
	for i := range model.MaxAllowedIPs + 1 {
		many = append(many, netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i)}).String())
	}
	if _, err := model.ParseAllowedIPs(many); err == nil || !strings.Contains(model.ErrorMessage(err), "At most 100") {
		t.Fatalf("101 entries: %v", err)
	}
	if _, err := model.ParseAllowedIPs(many[:100]); err != nil {
		t.Fatalf("100 entries: %v", err)
	}
}

func TestIPAllowed(t *testing.T) {
	ps := model.CompileAllowedIPs([]string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.7"})
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"10.255.0.1", true}, {"11.0.0.1", false}, {"192.0.2.7", true}, {"192.0.2.8", false},
		{"::ffff:10.1.1.1", true}, {"2001:db8::9", true}, {"2001:db9::9", false}, {"::1", false},
	} {
		if got := model.IPAllowed(ps, netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.ip, got, tc.want)
		}
	}
	if model.IPAllowed(ps, netip.Addr{}) {
		t.Fatal("the zero address is allowed")
	}
}

func TestReferrers(t *testing.T) {
	got, err := model.ParseAllowedReferrersText("App.Example.com\n*.example.org\nhttps://shop.example.net/cart\napp.example.com.")
	if err != nil || !slices.Equal(got, []string{"app.example.com", "*.example.org", "shop.example.net"}) {
		t.Fatalf("%q, %v", got, err)
	}
	for _, bad := range []string{"app.example.com:8080", "*", "*.", "a.*.example.com", "exa mple.com", "-a.example.com", "https://user@example.com/", "app..example.com"} {
		if _, err := model.ParseAllowedReferrersText("ok.example.com\n" + bad); err == nil || !strings.Contains(model.ErrorMessage(err), "Line 2") {
			t.Errorf("%q: %v, want an error naming line 2", bad, err)
		}
	}
	pats := []string{"*.example.org", "app.example.com"}
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"https://app.example.com", true}, {"https://app.example.com:8443/x?y", true}, {"https://a.b.example.org/", true},
		{"https://example.org", false}, {"https://badexample.org", false}, {"https://app.example.com.evil.net", false},
		{"", false}, {"null", false}, {"not a url", false},
	} {
		if got := model.ReferrerAllowed(pats, model.RequestHost(tc.header)); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestRateAndQuotaParsers(t *testing.T) {
	if r, err := model.ParseRateLimit(" 100 / 1m "); err != nil || r != (model.RateLimit{Limit: 100, Period: "1m"}) || r.Duration() != time.Minute {
		t.Fatalf("%+v, %v", r, err)
	}
	for _, bad := range []string{"100", "0/1m", "-1/1s", "100/2m", "x/1m", "1000000001/1s", "/1m"} {
		if _, err := model.ParseRateLimit(bad); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("rate %q: %v", bad, err)
		}
	}
	if n, p, err := model.ParseQuotaRefill("10000/month"); err != nil || n != 10000 || p != model.RefillMonth {
		t.Fatalf("%d %q %v", n, p, err)
	}
	for _, bad := range []string{"10000", "0/day", "5/week", "x/day"} {
		if _, _, err := model.ParseQuotaRefill(bad); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("refill %q: %v", bad, err)
		}
	}
	if _, err := model.NewQuota(10, "day", 0); model.ErrorFields(err)["quota_refill_amount"] == "" {
		t.Fatalf("a daily refill without an amount: %v", err)
	}
	if q, err := model.NewQuota(10, "none", 99); err != nil || q.RefillAmount != 0 || q.RefillPeriod != "" {
		t.Fatalf("%+v %v", q, err)
	}
}

func TestPeriods(t *testing.T) {
	at := time.Date(2026, 12, 31, 23, 59, 59, 0, time.FixedZone("X", -5*3600)) // 2027-01-01 04:59:59 UTC
	if got := model.PeriodStart(model.RefillDay, at); !got.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("day start %v", got)
	}
	if got := model.NextRefill(model.RefillMonth, at); !got.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("next month %v", got)
	}
	if !model.NextRefill(model.RefillNone, at).IsZero() {
		t.Fatal("a quota without refill has a next refill")
	}
}

func TestDescribe(t *testing.T) {
	r := model.Restrictions{AllowedIPs: []string{"10.0.0.0/8"}, RateLimit: &model.RateLimit{Limit: 100, Period: "1m"}}
	if got := r.Describe(); got != "At most 100 requests per minute, from 10.0.0.0/8." {
		t.Fatalf("%q", got)
	}
	r = model.Restrictions{Quota: &model.Quota{Remaining: 10000, RefillAmount: 10000, RefillPeriod: "month"},
		AllowedReferrers: []string{"a.example.com", "b.example.com", "c.example.com", "d.example.com"}}
	if got := r.Describe(); got != "10,000 requests left, refilled to 10,000 each month, on pages of a.example.com, b.example.com, c.example.com and 1 more." {
		t.Fatalf("%q", got)
	}
	if (model.Restrictions{}).Describe() != "" {
		t.Fatal("no restrictions described")
	}
}

func TestRestrictionsRoundTripOnKey(t *testing.T) {
	r := model.Restrictions{AllowedIPs: []string{"10.0.0.0/8"}, AllowedReferrers: []string{"*.example.com"},
		RateLimit: &model.RateLimit{Limit: 5, Period: "1s"}, Quota: &model.Quota{Remaining: 9, RefillAmount: 9, RefillPeriod: "day"}}
	var k model.APIKey
	k.SetRestrictions(r, time.Date(2026, 5, 5, 13, 0, 0, 0, time.UTC))
	got := k.Restrictions()
	if got.Describe() != r.Describe() || !slices.Equal(got.AllowedIPs, r.AllowedIPs) || *got.Quota != *r.Quota || *got.RateLimit != *r.RateLimit {
		t.Fatalf("%+v", got)
	}
	if !k.QuotaPeriodStart.Equal(time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)) || k.QuotaVersion != 1 {
		t.Fatalf("period start %v, version %d", k.QuotaPeriodStart, k.QuotaVersion)
	}
	// A copy (as rolling a key makes) shares nothing with the original.
	c := got.Clone()
	c.AllowedIPs[0], c.Quota.Remaining = "192.0.2.1", 1
	if k.AllowedIPs[0] != "10.0.0.0/8" || *k.QuotaRemaining != 9 {
		t.Fatal("a clone shares memory with the key")
	}
}
