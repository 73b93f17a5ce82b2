package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRelative(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{-59 * time.Second, "just now"},
		{30 * time.Second, "just now"},
		{-time.Minute, "1 minute ago"},
		{-3*time.Minute - 50*time.Second, "3 minutes ago"},
		{time.Minute, "in 1 minute"},
		{-time.Hour, "1 hour ago"},
		{5*time.Hour + 59*time.Minute, "in 5 hours"},
		{-24 * time.Hour, "1 day ago"},
		{12*24*time.Hour + time.Hour, "in 12 days"},
		{-29 * 24 * time.Hour, "29 days ago"},
		{30 * 24 * time.Hour, "in 1 month"},
		{-90 * 24 * time.Hour, "3 months ago"},
		{365 * 24 * time.Hour, "in 1 year"},
		{-800 * 24 * time.Hour, "2 years ago"},
	}
	for _, tt := range tests {
		if got := Relative(now.Add(tt.d), now); got != tt.want {
			t.Errorf("Relative(now%+v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestTimeComponents(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := now.Add(-3 * time.Minute).In(time.FixedZone("X", 5*3600))
	var b bytes.Buffer
	if err := RelTime(at, now).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	want := `<time datetime="2026-03-02T08:57:00Z" title="2026-03-02 08:57 UTC" data-relative>3 minutes ago</time>`
	if b.String() != want {
		t.Fatalf("RelTime:\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	if err := RelTimeOr(nil, now, "Never <ever>").Render(context.Background(), &b); err != nil || b.String() != "Never &lt;ever&gt;" {
		t.Fatalf("RelTimeOr(nil) = %q, %v", b.String(), err)
	}

	soon, far := now.Add(12*24*time.Hour), now.Add(200*24*time.Hour)
	b.Reset()
	_ = ExpiryTime(&soon, now).Render(context.Background(), &b)
	if !strings.Contains(b.String(), ">in 12 days</time>") {
		t.Fatalf("near expiry: %s", b.String())
	}
	b.Reset()
	_ = ExpiryTime(&far, now).Render(context.Background(), &b)
	if !strings.Contains(b.String(), ">Sep 18, 2026</time>") || strings.Contains(b.String(), "data-relative") {
		t.Fatalf("far expiry: %s", b.String())
	}
	b.Reset()
	_ = ExpiryTime(nil, now).Render(context.Background(), &b)
	if b.String() != "Never" {
		t.Fatalf("no expiry: %s", b.String())
	}
}
