package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The create form's Restrictions section: collapsed while empty, its
// fields stored normalised, the preview sentence shown, and each bad line
// reported next to its field with the input kept.
func TestKeyCreateWithRestrictions(t *testing.T) {
	fx := newKeysFixture(t)
	form := fx.cl.get(t, "/settings/api-keys/new")
	form.wantStatus(t, http.StatusOK)
	if !form.has(t, "details#key-restrictions") || form.has(t, "details#key-restrictions[open]") {
		t.Fatal("the Restrictions section is missing or open on an empty form")
	}
	for _, f := range []string{"textarea[name=allowed_ips]", "textarea[name=allowed_referrers]", "input[name=rate_limit]",
		"select[name=rate_period]", "input[name=quota]", "select[name=quota_refill]", "input[name=quota_refill_amount]"} {
		if !form.has(t, f) {
			t.Fatalf("the form lacks %s", f)
		}
	}

	bad := fx.cl.postForm(t, "/settings/api-keys", keyForm("allowed_ips", "10.0.0.0/8\n\n10.0.0.300", "rate_limit", "100", "rate_period", "1m"))
	bad.wantStatus(t, http.StatusUnprocessableEntity)
	if msg := bad.text(t, "small#error-allowed_ips"); !strings.Contains(msg, "Line 3") {
		t.Fatalf("the error %q does not name line 3", msg)
	}
	if !bad.has(t, "details#key-restrictions[open]") || !strings.Contains(bad.text(t, "textarea[name=allowed_ips]"), "10.0.0.300") ||
		attr(bad.first(t, "input[name=rate_limit]"), "value") != "100" {
		t.Fatal("the input was not kept, or the section is closed, after an error")
	}
	if n := fx.keyCount(t, fx.team.ID); n != 0 {
		t.Fatalf("an invalid create stored %d keys", n)
	}
	zero := fx.cl.postForm(t, "/settings/api-keys", keyForm("allowed_ips", "0.0.0.0/0"))
	zero.wantStatus(t, http.StatusUnprocessableEntity)
	if !strings.Contains(zero.text(t, "small#error-allowed_ips"), "every address") {
		t.Fatal("0.0.0.0/0 not refused as meaningless")
	}

	_, k := fx.create(t, keyForm("allowed_ips", " 10.1.2.3/8 \r\n2001:DB8::1", "allowed_referrers", "*.Example.com",
		"rate_limit", "100", "rate_period", "1m", "quota", "10000", "quota_refill", "month", "quota_refill_amount", "10000"))
	r := k.Restrictions()
	if strings.Join(r.AllowedIPs, ",") != "10.0.0.0/8,2001:db8::1" || strings.Join(r.AllowedReferrers, ",") != "*.example.com" ||
		r.RateLimit == nil || r.RateLimit.String() != "100/1m" || r.Quota == nil || r.Quota.Remaining != 10000 || r.Quota.RefillPeriod != "month" {
		t.Fatalf("stored restrictions %+v", r)
	}

	// The details page shows them, the quota left and its next refill.
	details := fx.cl.get(t, "/settings/api-keys/"+k.PublicID)
	card := details.text(t, "section#key-restrictions")
	for _, want := range []string{"At most 100 requests per minute", "10.0.0.0/8", "*.example.com", "100 requests per minute", "10,000", "Refilled to 10,000", "No calls refused today"} {
		if !strings.Contains(card, want) {
			t.Fatalf("the Restrictions card lacks %q:\n%s", want, card)
		}
	}
	// The key table marks the key, with an accessible label.
	list := fx.cl.get(t, "/settings/api-keys")
	icon := list.first(t, "#key-"+k.PublicID+" .restricted-icon")
	if label := attr(icon, "aria-label"); !strings.HasPrefix(label, "Restricted: At most 100 requests per minute") || attr(icon, "role") != "img" {
		t.Fatalf("icon label %q", label)
	}
	_, plain := fx.create(t, keyForm("name", "Plain"))
	if list := fx.cl.get(t, "/settings/api-keys"); list.has(t, "#key-"+plain.PublicID+" .restricted-icon") {
		t.Fatal("a key without restrictions is marked restricted")
	}
}

func TestKeyEditRestrictions(t *testing.T) {
	fx := newKeysFixture(t)
	_, k := fx.create(t, keyForm("allowed_ips", "10.0.0.0/8", "quota", "500"))
	form := fx.cl.get(t, "/settings/api-keys/"+k.PublicID+"/edit")
	if !form.has(t, "details#key-restrictions[open]") || form.text(t, "textarea[name=allowed_ips]") != "10.0.0.0/8" ||
		attr(form.first(t, "input[name=quota]"), "value") != "500" {
		t.Fatal("the edit form is not filled from the key's restrictions")
	}
	if !strings.Contains(form.text(t, "#restriction-preview"), "500 requests in all, from 10.0.0.0/8") {
		t.Fatalf("preview %q", form.text(t, "#restriction-preview"))
	}
	edit := url.Values{"name": {"Billing sync"}, "permission": {"read_all"}, "expires": {"keep"},
		"allowed_ips": {"192.0.2.0/24"}, "allowed_referrers": {""}, "rate_limit": {"5"}, "rate_period": {"1s"},
		"quota": {"500"}, "quota_refill": {"none"}}
	fx.cl.postForm(t, "/settings/api-keys/"+k.PublicID, edit).wantRedirect(t, "/settings/api-keys/"+k.PublicID)
	got, err := fx.app.store.FindKeyByID(context.Background(), fx.team.ID, k.PublicID)
	if err != nil {
		t.Fatal(err)
	}
	r := got.Restrictions()
	if strings.Join(r.AllowedIPs, ",") != "192.0.2.0/24" || r.RateLimit == nil || r.RateLimit.Limit != 5 || r.Quota == nil || got.QuotaVersion != k.QuotaVersion {
		t.Fatalf("after edit %+v (quota version %d → %d: an unchanged quota must not be set anew)", r, k.QuotaVersion, got.QuotaVersion)
	}
	// The audit trail says what changed, before → after.
	details := fx.cl.get(t, "/settings/api-keys/"+k.PublicID)
	if trail := details.text(t, "ol.timeline"); !strings.Contains(trail, "Restrictions: 500 requests in all, from 10.0.0.0/8 → At most 5 requests per second, 500 requests in all, from 192.0.2.0/24") {
		t.Fatalf("timeline:\n%s", trail)
	}
	// Emptying the section removes every restriction.
	for _, f := range []string{"allowed_ips", "rate_limit", "quota"} {
		edit.Set(f, "")
	}
	fx.cl.postForm(t, "/settings/api-keys/"+k.PublicID, edit).wantRedirect(t, "/settings/api-keys/"+k.PublicID)
	got, _ = fx.app.store.FindKeyByID(context.Background(), fx.team.ID, k.PublicID)
	if !got.Restrictions().IsZero() {
		t.Fatalf("restrictions left: %+v", got.Restrictions())
	}
}

func TestRestrictionPreview(t *testing.T) {
	fx := newKeysFixture(t)
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"rate_limit": {"100"}, "rate_period": {"1m"}, "allowed_ips": {"10.0.0.0/8"}}, "At most 100 requests per minute, from 10.0.0.0/8."},
		{url.Values{"quota": {"10000"}, "quota_refill": {"month"}, "quota_refill_amount": {"10000"}}, "10,000 requests left, refilled to 10,000 each month."},
		{url.Values{"allowed_ips": {"10.0.0.1\nbanana"}}, "Line 2"},
		{url.Values{"rate_limit": {"many"}}, "whole number"},
		{url.Values{"allowed_ips": {""}}, "No restrictions"},
	} {
		res := fx.cl.postForm(t, "/settings/api-keys/restrictions/preview", tc.form)
		res.wantStatus(t, http.StatusOK)
		if got := res.text(t, "#restriction-preview"); !strings.Contains(got, tc.want) {
			t.Errorf("%v: preview %q, want %q", tc.form, got, tc.want)
		}
	}
	if n := fx.keyCount(t, fx.team.ID); n != 0 {
		t.Fatal("the preview stored a key")
	}
}
