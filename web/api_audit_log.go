package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/internal/store"
)

// apiAuditEventJSON is one entry of the team's audit log.
type apiAuditEventJSON struct {
	Action     string         `json:"action"`
	Actor      apiActorJSON   `json:"actor"`
	TargetID   string         `json:"target_id"`
	TargetName string         `json:"target_name"`
	IP         string         `json:"ip"`
	Detail     map[string]any `json:"detail"`
	CreatedAt  time.Time      `json:"created_at"`
}

// apiActorJSON says who made a change: a user, an API key, or the system
// (the command line, set-up).
type apiActorJSON struct {
	Type  string `json:"type"`
	Label string `json:"label"`
}

// handleAPIAuditLog serves GET /v1/audit-log: the team's audit log, newest
// first, filtered by action (comma-separated; "member.*" takes a prefix),
// actor (part of the label), target (an id), since and until (RFC 3339
// times or dates) or from and to (inclusive UTC days, as on the dashboard),
// with cursor pagination.
func (s *Server) handleAPIAuditLog(c echo.Context) error {
	f := store.AuditFilter{TeamID: apiKey(c).TeamID(), Actor: c.QueryParam("actor"), TargetID: c.QueryParam("target")}
	limit, err := queryLimit(c, 50, 200)
	if err != nil {
		return err
	}
	f.Limit = limit + 1 // one more tells whether there is a next page
	for _, a := range c.QueryParams()["action"] {
		for _, part := range strings.Split(a, ",") {
			if part = strings.TrimSpace(part); part != "" {
				f.Actions = append(f.Actions, part)
			}
		}
	}
	if f.Since, err = queryTime(c, "since"); err != nil {
		return err
	}
	if f.Until, err = queryTime(c, "until"); err != nil {
		return err
	}
	// from and to are the dashboard's date range (Settings → Audit log):
	// whole UTC days, to included, so its filters work here unchanged.
	if err := applyDayRange(c, &f); err != nil {
		return err
	}
	if cur := c.QueryParam("cursor"); cur != "" {
		if f.BeforeID, err = strconv.ParseInt(cur, 10, 64); err != nil || f.BeforeID <= 0 {
			return model.Errorf(model.EINVALID, "The cursor is not valid. Use next_cursor from the previous page, or start again without it.")
		}
	}
	evs, err := s.store.FindAuditEvents(c.Request().Context(), f)
	if err != nil {
		return err
	}
	next := ""
	if len(evs) > limit {
		evs = evs[:limit]
		next = strconv.FormatInt(evs[limit-1].ID, 10)
	}
	out := make([]apiAuditEventJSON, len(evs))
	for i, e := range evs {
		out[i] = apiAuditEventJSON{Action: e.Action, Actor: actorJSON(e), TargetID: e.TargetID, TargetName: e.TargetName,
			IP: e.IP, Detail: e.Detail, CreatedAt: e.CreatedAt.UTC()}
		if out[i].Detail == nil {
			out[i].Detail = map[string]any{}
		}
	}
	return c.JSON(http.StatusOK, newAPIList(out, next))
}

func actorJSON(e model.AuditEvent) apiActorJSON {
	switch {
	case e.ActorKeyID != nil:
		return apiActorJSON{Type: "api_key", Label: e.ActorLabel}
	case e.ActorUserID != nil:
		return apiActorJSON{Type: "user", Label: e.ActorLabel}
	}
	return apiActorJSON{Type: "system", Label: e.ActorLabel}
}

// queryTime reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func queryTime(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, model.Errorf(model.EINVALID, "%s must be an RFC 3339 time (2026-05-01T12:00:00Z) or a date (2026-05-01).", name)
}

// applyDayRange reads from and to (YYYY-MM-DD, inclusive UTC days) into f.
// It returns EINVALID for a value that is not a date, or when since or
// until is given too.
func applyDayRange(c echo.Context, f *store.AuditFilter) error {
	for _, p := range []struct {
		name    string
		bound   *time.Time
		already bool
		days    int
	}{{"from", &f.Since, !f.Since.IsZero(), 0}, {"to", &f.Until, !f.Until.IsZero(), 1}} {
		v := c.QueryParam(p.name)
		if v == "" {
			continue
		}
		if p.already {
			return model.Errorf(model.EINVALID, "Give a date range with since and until, or with from and to, not both.")
		}
		d, ok := auditDate(v)
		if !ok {
			return model.Errorf(model.EINVALID, "%s must be a date (2026-05-01).", p.name)
		}
		*p.bound = d.AddDate(0, 0, p.days)
	}
	return nil
}
