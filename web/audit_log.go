package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/views"
)

// auditRoutes registers Settings → Audit log and the key table's bulk
// revoke, OWNER and ADMIN only; every handler scopes its queries to the
// current team.
//
//	GET  /settings/audit-log                   handleAuditLog
//	GET  /settings/audit-log/export            handleAuditExport
//	GET  /settings/api-keys/bulk-revoke        handleKeyBulkRevokeConfirm
//	POST /settings/api-keys/bulk-revoke        handleKeyBulkRevoke
func (s *Server) auditRoutes(e *echo.Echo) {
	g := e.Group("/settings/audit-log", s.requireManager)
	g.GET("", s.handleAuditLog)
	g.GET("/export", s.handleAuditExport)
	k := e.Group("/settings/api-keys", s.requireManager)
	k.GET("/bulk-revoke", s.handleKeyBulkRevokeConfirm)
	k.POST("/bulk-revoke", s.handleKeyBulkRevoke)
}

// maxActorQuery bounds the actor filter (labels are an e-mail or a key's
// name and hint).
const maxActorQuery = 200

// parseAuditFilter reads the audit log's state from the query string:
// action (one of views.AuditActionGroups), actor (part of the actor's
// label), from and to (YYYY-MM-DD, inclusive UTC days) and before (an event
// id). It returns the view's filter, problems with the dates by field (a
// date it cannot read is ignored), and the store's filter for teamID.
func parseAuditFilter(q url.Values, teamID int64) (views.AuditFilter, map[string]string, store.AuditFilter) {
	f := views.AuditFilter{}
	sf := store.AuditFilter{TeamID: teamID}
	errs := map[string]string{}
	if a := q.Get("action"); views.ValidAuditAction(a) {
		f.Action = a
		sf.Actions = []string{a}
	}
	f.Actor = strings.ToValidUTF8(strings.TrimSpace(q.Get("actor")), "")
	if r := []rune(f.Actor); len(r) > maxActorQuery {
		f.Actor = string(r[:maxActorQuery])
	}
	sf.Actor = f.Actor
	from, fromOK := auditDate(q.Get("from"))
	to, toOK := auditDate(q.Get("to"))
	f.From, f.To = strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to"))
	if f.From != "" && !fromOK {
		errs["from"] = "The start date “" + f.From + "” is not a date like 2026-03-01, so it is ignored."
	}
	if f.To != "" && !toOK {
		errs["to"] = "The end date “" + f.To + "” is not a date like 2026-03-31, so it is ignored."
	}
	if fromOK && toOK && to.Before(from) {
		errs["to"] = "The end date is before the start date, so it is ignored."
		toOK = false
	}
	if fromOK {
		sf.Since = from
	}
	if toOK {
		sf.Until = to.AddDate(0, 0, 1) // the whole of the last day
	}
	if b, err := strconv.ParseInt(q.Get("before"), 10, 64); err == nil && b > 0 {
		f.Before = b
		sf.BeforeID = b
	}
	return f, errs, sf
}

// auditDate parses a YYYY-MM-DD day (midnight UTC).
func auditDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// handleAuditLog serves GET /settings/audit-log: the team's audit events,
// newest first, filtered by action, actor and date range, 50 a page with a
// keyset cursor (before = the last event's id). Under htmx it answers the
// results region (and the export link, out of band); otherwise, and when
// htmx restores history, the whole page.
func (s *Server) handleAuditLog(c echo.Context) error {
	ctx := c.Request().Context()
	f, errs, sf := parseAuditFilter(c.QueryParams(), teamID(c))
	sf.Limit = views.AuditPageSize + 1 // one more tells whether there is an older page
	evs, err := s.store.FindAuditEvents(ctx, sf)
	if err != nil {
		return err
	}
	l := views.AuditLog{Filter: f, Errors: errs, Now: s.now().UTC()}
	if len(evs) > views.AuditPageSize {
		evs = evs[:views.AuditPageSize]
		l.Next = evs[len(evs)-1].ID
	}
	l.Events = evs
	var keyIDs []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, "api_key.") && ev.TargetID != "" {
			keyIDs = append(keyIDs, ev.TargetID)
		}
	}
	if l.LiveKeys, err = s.store.ExistingKeyIDs(ctx, teamID(c), keyIDs); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Add("Vary", "HX-Request")
	if isHTMX(c) && c.Request().Header.Get("HX-History-Restore-Request") != "true" {
		if c.Request().Header.Get("HX-Trigger") == "audit-filters" {
			// The form would push every empty field; push the canonical
			// address of the view instead.
			h.Set("HX-Push-Url", f.URL())
		}
		l.Fragment = true
		return render(c, http.StatusOK, views.AuditResults(l))
	}
	return render(c, http.StatusOK, views.AuditLogPage(s.chrome(c, "audit-log"), l))
}
