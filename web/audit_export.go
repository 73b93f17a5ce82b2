package web

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/internal/model"
	"github.com/keyward/keyward/views"
)

// auditCSVHeader names the export's columns.
var auditCSVHeader = []string{"time", "actor_type", "actor", "action", "description", "target_id", "target_name", "ip", "detail"}

// auditFlushEvery is how many rows are written between flushes to the client.
const auditFlushEvery = 200

// handleAuditExport serves GET /settings/audit-log/export: every event of
// the team matching the audit log's filters (all pages, newest first) as a
// CSV download. Rows are read from the store a chunk at a time and written
// as they come, so an export of any length takes the same memory. Cells a
// spreadsheet would run as a formula are neutralised (see csvCell).
func (s *Server) handleAuditExport(c echo.Context) error {
	_, _, sf := parseAuditFilter(c.QueryParams(), teamID(c))
	sf.BeforeID = 0
	ctx := c.Request().Context()
	// Fail before the first byte if the database is away, so the error
	// page can still say so.
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	now := s.now().UTC()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="keyward-audit-log-`+now.Format("2006-01-02")+`.csv"`)
	noStore(c)
	c.Response().WriteHeader(http.StatusOK)

	w := csv.NewWriter(c.Response())
	rows := 0
	flush := func() error {
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
		c.Response().Flush()
		return nil
	}
	err := w.Write(auditCSVHeader)
	if err == nil {
		err = s.store.EachAuditEvent(ctx, sf, func(ev model.AuditEvent) error {
			if err := w.Write(auditCSVRow(ev)); err != nil {
				return err
			}
			if rows++; rows%auditFlushEvery == 0 {
				return flush()
			}
			return nil
		})
	}
	if err == nil {
		err = flush()
	}
	if err != nil {
		// The status is sent: abort the connection so the client sees a
		// failed download rather than a file that silently stops.
		s.logger(c).Warn("audit export stopped", "rows", rows, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// auditCSVRow is one event as export cells.
func auditCSVRow(ev model.AuditEvent) []string {
	detail := "{}"
	if len(ev.Detail) > 0 {
		if b, err := json.Marshal(ev.Detail); err == nil {
			detail = string(b)
		}
	}
	cells := []string{
		ev.CreatedAt.UTC().Format(time.RFC3339),
		views.AuditActorKind(ev),
		ev.ActorLabel,
		ev.Action,
		views.AuditSentence(ev),
		ev.TargetID,
		ev.TargetName,
		ev.IP,
		detail,
	}
	for i, v := range cells {
		cells[i] = csvCell(v)
	}
	return cells
}

// csvCell neutralises a cell that a spreadsheet would read as a formula
// (starting, after any spaces, with =, +, -, @ or their full-width forms
// ＝＋－＠, which spreadsheets also accept, or with a tab or a carriage
// return) by putting an apostrophe before it. encoding/csv quotes commas,
// quotes and line breaks.
func csvCell(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '\t', '\r':
		return "'" + v
	}
	for _, r := range strings.TrimLeft(v, " ") {
		switch r {
		case '=', '+', '-', '@', '＝', '＋', '－', '＠':
			return "'" + v
		}
		break
	}
	return v
}
