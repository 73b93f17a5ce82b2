package views

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/a-h/templ"
)

// Time steps of relative times; static/app.js refreshes them with the same
// steps, so the text does not jump when the page's script takes over.
const (
	day   = 24 * time.Hour
	month = 30 * day
	year  = 365 * day
)

// Relative describes t as seen at now: "just now", "3 minutes ago",
// "in 12 days", "2 months ago". Units are whole and rounded towards zero.
func Relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	future := d > 0
	if d < 0 {
		d = -d
	}
	var n int64
	var unit string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		n, unit = int64(d/time.Minute), "minute"
	case d < day:
		n, unit = int64(d/time.Hour), "hour"
	case d < month:
		n, unit = int64(d/day), "day"
	case d < year:
		n, unit = int64(d/month), "month"
	default:
		n, unit = int64(d/year), "year"
	}
	s := strconv.FormatInt(n, 10) + " " + unit
	if n != 1 {
		s += "s"
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// ExactUTC is the exact time shown on hover: "2025-03-04 15:04 UTC".
func ExactUTC(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// ExactUTCSeconds is the exact time with seconds, for details pages.
func ExactUTCSeconds(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// Date is a day for people: "Mar 4, 2025" (in UTC).
func Date(t time.Time) string { return t.UTC().Format("Jan 2, 2006") }

// machineTime is the datetime attribute of <time>.
func machineTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// expiryNearWindow is how far from now an expiry is shown relatively
// ("in 12 days"); beyond it the date reads better.
const expiryNearWindow = 30 * day

// nearExpiry reports whether t is close enough to now to be shown relatively.
func nearExpiry(t, now time.Time) bool {
	d := t.Sub(now)
	return d < expiryNearWindow && d > -expiryNearWindow
}

// RelTime renders t as <time datetime=… title="exact UTC" data-relative>
// with its relative text; static/app.js keeps the text fresh.
func RelTime(t, now time.Time) templ.Component {
	return timeTag(t, Relative(t, now), ExactUTC(t), true)
}

// RelTimeOr is RelTime, or the text none (such as "Never") when t is nil.
func RelTimeOr(t *time.Time, now time.Time, none string) templ.Component {
	if t == nil {
		return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
			_, err := io.WriteString(w, templ.EscapeString(none))
			return err
		})
	}
	return RelTime(*t, now)
}

// ExpiryTime renders an expiry: "Never" when t is nil, relative ("in 12
// days") when near, else the date; the exact UTC time is on hover.
func ExpiryTime(t *time.Time, now time.Time) templ.Component {
	if t == nil {
		return RelTimeOr(nil, now, "Never")
	}
	if nearExpiry(*t, now) {
		return RelTime(*t, now)
	}
	return timeTag(*t, Date(*t), ExactUTC(*t), false)
}

// ExactTime renders the exact UTC time with seconds followed by the relative
// time in parentheses, for details pages.
func ExactTime(t time.Time, now time.Time) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if _, err := io.WriteString(w, `<time datetime="`+machineTime(t)+`">`+ExactUTCSeconds(t)+`</time> <span class="muted">(`); err != nil {
			return err
		}
		if err := RelTime(t, now).Render(ctx, w); err != nil {
			return err
		}
		_, err := io.WriteString(w, `)</span>`)
		return err
	})
}

func timeTag(t time.Time, text, title string, relative bool) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		attr := ""
		if relative {
			attr = " data-relative"
		}
		_, err := io.WriteString(w, `<time datetime="`+machineTime(t)+`" title="`+templ.EscapeString(title)+`"`+attr+`>`+templ.EscapeString(text)+`</time>`)
		return err
	})
}

// Isolate wraps user text (a key's name) in Unicode isolation marks so that
// right-to-left text cannot reorder the sentence around it, in places where
// markup such as <bdi> cannot go: titles, notices, flash messages.
func Isolate(s string) string { return "\u2068" + s + "\u2069" }

// PasswordHint describes the password policy beside every new-password
// field (internal/auth.ValidatePassword enforces it).
const PasswordHint = "At least 12 characters. A few unrelated words make a strong password; common passwords and ones containing your e-mail name or team name are refused." // #nosec G101 -- help text for the password field, not a credential
