package views

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/model"
)

// AuditPageSize is the number of events on a page of the audit log.
const AuditPageSize = 50

// AuditFilter is the state of the audit log, kept in the query string only:
// action, actor, from and to (YYYY-MM-DD, inclusive UTC days) and before (the
// id of the last event of the previous page). Values are checked by the
// handler; a date it could not read is kept as typed, with an error.
type AuditFilter struct {
	Action string
	Actor  string
	From   string
	To     string
	Before int64
}

// Active reports whether the filter narrows the log down.
func (f AuditFilter) Active() bool {
	return f.Action != "" || f.Actor != "" || f.From != "" || f.To != ""
}

// Values is the filter as query parameters, leaving empty ones out.
func (f AuditFilter) Values() url.Values {
	v := url.Values{}
	for _, p := range [][2]string{{"action", f.Action}, {"actor", f.Actor}, {"from", f.From}, {"to", f.To}} {
		if p[1] != "" {
			v.Set(p[0], p[1])
		}
	}
	if f.Before > 0 {
		v.Set("before", strconv.FormatInt(f.Before, 10))
	}
	return v
}

// URL is the audit log's address showing this filter.
func (f AuditFilter) URL() string { return withQuery("/settings/audit-log", f.Values()) }

// ExportURL is the CSV export of every event matching the filter (all
// pages).
func (f AuditFilter) ExportURL() string {
	f.Before = 0
	return withQuery("/settings/audit-log/export", f.Values())
}

// WithBefore returns the filter continuing after event id (0: the newest).
func (f AuditFilter) WithBefore(id int64) AuditFilter {
	f.Before = id
	return f
}

func withQuery(path string, v url.Values) string {
	if q := v.Encode(); q != "" {
		return path + "?" + q
	}
	return path
}

// AuditLog is Settings → Audit log: one page of events, newest first.
type AuditLog struct {
	Events []model.AuditEvent
	Filter AuditFilter
	// Errors holds messages about the filter's fields (from, to).
	Errors map[string]string
	// Next is the id to continue after on the next (older) page; 0 on the
	// last page.
	Next int64
	// LiveKeys are the target key ids that still exist (and are linked).
	LiveKeys map[string]bool
	// Fragment marks an answer to htmx, which swaps the results and the
	// export link (out of band).
	Fragment bool
	Now      time.Time
}

// AuditActionChoice is one entry of the action filter.
type AuditActionChoice struct {
	Value string
	Label string
}

// AuditActionGroup is a group of the action filter's choices.
type AuditActionGroup struct {
	Label   string
	Choices []AuditActionChoice
}

// AuditActionGroups are the action filter's choices; a value ending in ".*"
// takes every action with that prefix.
var AuditActionGroups = []AuditActionGroup{
	{"API keys", []AuditActionChoice{
		{"api_key.*", "Any API key change"},
		{model.ActionKeyCreated, "Key created"},
		{model.ActionKeyUpdated, "Key edited"},
		{model.ActionKeyRevoked, "Key revoked"},
		{model.ActionKeyDeleted, "Key deleted"},
		{model.ActionKeyRolled, "Key rolled"},
		{model.ActionKeyLeaked, "Key found in public"},
		{model.ActionKeyLeakAcked, "Leak acknowledged"},
	}},
	{"Members", []AuditActionChoice{
		{"member.*", "Any member change"},
		{model.ActionMemberAdded, "Member added"},
		{model.ActionMemberRoleChanged, "Role changed"},
		{model.ActionMemberRemoved, "Member removed"},
		{model.ActionMemberInvited, "Member invited"},
		{model.ActionMemberInvitationAccepted, "Invitation accepted"},
		{model.ActionMemberInvitationResent, "Invitation resent"},
		{model.ActionMemberInvitationCanceled, "Invitation cancelled"},
	}},
	{"Sign-in and team", []AuditActionChoice{
		{model.ActionSessionLoginFailed, "Failed sign-in"},
		{model.ActionPasswordResetRequested, "Password reset link sent"},
		{model.ActionPasswordReset, "Password reset"},
		{model.ActionTeamCreated, "Team created"},
		{model.ActionTeamSettings, "Team settings changed"},
	}},
}

// ValidAuditAction reports whether v is one of the action filter's values.
func ValidAuditAction(v string) bool {
	for _, g := range AuditActionGroups {
		for _, c := range g.Choices {
			if c.Value == v {
				return true
			}
		}
	}
	return false
}

// AuditSentence says what an event did, in words, after its actor:
// "revoked API key Zapier production", "changed bob@example.com's role from
// Member to Admin", "failed sign-in".
func AuditSentence(ev model.AuditEvent) string {
	name := ev.TargetName
	switch ev.Action {
	case model.ActionKeyCreated:
		return "created API key " + name
	case model.ActionKeyUpdated:
		return "edited API key " + name
	case model.ActionKeyRevoked:
		return "revoked API key " + name
	case model.ActionKeyDeleted:
		return "deleted API key " + name
	case model.ActionKeyRolled:
		if n := str(ev.Detail["replaced_by"]); n != "" {
			return "rolled API key " + name + " (replaced by " + n + ")"
		}
		return "rolled API key " + name
	case model.ActionTeamSettings:
		return "changed the team's settings" + teamSettingsChanges(ev.Detail)
	case model.ActionKeyLeaked:
		if u := str(ev.Detail["url"]); u != "" {
			return "found API key " + name + " in public at " + u
		}
		return "reported API key " + name + " as leaked"
	case model.ActionKeyLeakAcked:
		return "acknowledged the leak of API key " + name
	case model.ActionMemberAdded:
		if r := roleLabel(ev.Detail["role"]); r != "" {
			return "added " + name + " as " + r
		}
		return "added " + name
	case model.ActionMemberRoleChanged:
		return "changed " + name + "'s role from " + roleLabel(ev.Detail["from"]) + " to " + roleLabel(ev.Detail["to"])
	case model.ActionMemberRemoved:
		return "removed " + name + " from the team"
	case model.ActionMemberInvited:
		return "invited " + name + " as " + roleLabel(ev.Detail["role"])
	case model.ActionMemberInvitationResent:
		return "sent " + name + "'s invitation again"
	case model.ActionMemberInvitationCanceled:
		return "cancelled the invitation of " + name
	case model.ActionMemberInvitationAccepted:
		return "joined the team as " + roleLabel(ev.Detail["role"]) + " (invited by " + str(ev.Detail["invited_by"]) + ")"
	case model.ActionPasswordResetRequested:
		return "sent " + name + " a password reset link"
	case model.ActionPasswordReset:
		return "reset their password with a link"
	case model.ActionTeamCreated:
		return "created the team " + name
	case model.ActionSessionLogin:
		return "signed in"
	case model.ActionSessionLoginFailed:
		return "failed sign-in"
	}
	if name != "" {
		return ev.Action + " " + name
	}
	return ev.Action
}

// teamSettingsChanges lists a team.settings_changed event's changes:
// ": rotation_days 0 → 90, max_key_lifetime_days 0 → 45, leak_action revoke → notify".
func teamSettingsChanges(d map[string]any) string {
	var parts []string
	for _, k := range []string{"rotation_days", "max_key_lifetime_days", "leak_action"} {
		if m, ok := d[k].(map[string]any); ok {
			parts = append(parts, k+" "+fmt.Sprint(m["from"])+" → "+fmt.Sprint(m["to"]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}

func roleLabel(v any) string { return model.Role(str(v)).Label() }

// AuditActorKind says what acted: "user", "api_key", or "system" (the
// command line, set-up, or someone not signed in).
func AuditActorKind(ev model.AuditEvent) string {
	switch {
	case ev.ActorKeyID != nil:
		return "api_key"
	case ev.ActorUserID != nil:
		return "user"
	}
	return "system"
}

// auditChanges lists what an edit changed ("Name: “a” → “b”"), as the
// key's own activity trail does.
func auditChanges(ev model.AuditEvent) []string {
	if ev.Action != model.ActionKeyUpdated {
		return nil
	}
	return keyEventChanges(ev)
}

// auditIsKey reports whether the event's target is an API key.
func auditIsKey(ev model.AuditEvent) bool {
	switch ev.Action {
	case model.ActionKeyCreated, model.ActionKeyUpdated, model.ActionKeyRevoked, model.ActionKeyDeleted,
		model.ActionKeyLeaked, model.ActionKeyLeakAcked:
		return ev.TargetID != ""
	}
	return false
}

// auditDanger marks events worth a second look: revocations, deletions,
// removals and failed sign-ins.
func auditDanger(action string) bool {
	switch action {
	case model.ActionKeyRevoked, model.ActionKeyDeleted, model.ActionKeyLeaked, model.ActionMemberRemoved, model.ActionSessionLoginFailed:
		return true
	}
	return false
}
