package views

import (
	"net/url"
	"time"

	"github.com/a-h/templ"

	"github.com/keyward/keyward/internal/model"
)

// LeakHref returns a leak's URL as a link target when it is an absolute
// http(s) URL; anything else is shown as text, never linked.
func LeakHref(raw string) (templ.SafeURL, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	return templ.SafeURL(u.String()), true
}

// ExactDate renders a date ("Mar 2, 2026") with the exact UTC time on hover.
func ExactDate(t time.Time) templ.Component { return timeTag(t, Date(t), ExactUTC(t), false) }

// leakOutcome is what happened to the key, ending the leak sentence.
func leakOutcome(l model.KeyLeak) string {
	switch l.Action {
	case model.LeakRevoked:
		if l.Source == model.LeakSourceReport {
			return "revoked."
		}
		return "revoked automatically."
	case model.LeakAlreadyRevoked:
		return "it was revoked already."
	}
	return "not revoked: the team's leak action is notify only. Revoke it if it is still in use."
}

// leakTeam names the team in the notice.
func leakTeam(n LeakNotices) string {
	if n.Team == "" {
		return "this team"
	}
	return Isolate(n.Team)
}
